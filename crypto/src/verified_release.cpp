#include "bftgate/crypto/verified_release.hpp"

#include <fmt/format.h>

#include "bftgate/base/seeded_bug.hpp"

namespace bftgate::crypto {

Result<VerifiedRelease, CertVerdict> VerifiedRelease::verify(const ReleaseCertificate& certificate,
                                                             const ValidatorSet& validators,
                                                             const VerifyOptions& options) {
  auto verdict = crypto::verify(certificate, validators, options);
  if (!verdict.ok()) return verdict;
  return VerifiedRelease(certificate);
}

Result<VerifiedRelease, CertVerdict> VerifiedRelease::verify(const ReleaseCertificate& certificate,
                                                             const EpochChain& chain,
                                                             const VerifyOptions& options) {
  auto verdict = chain.verify_release(certificate, options);
  if (!verdict.ok()) return verdict;
  return VerifiedRelease(certificate);
}

Result<VerifiedArtifact> VerifiedRelease::check_artifact(ByteView artifact) const {
  if (auto status = check_digest(sha256(artifact), artifact.size()); !status) return status.error();
  return VerifiedArtifact(*this, artifact);
}

Status VerifiedRelease::check_digest(const Digest& actual, std::uint64_t size) const {
  if (actual == artifact_digest() || seeded_bug("node-skips-digest-check")) return ok_status();
  return Error{fmt::format(
      "adapter version {}: artifact digest mismatch: the certificate names {}, the {} bytes "
      "received hash to {}",
      version(), artifact_digest().hex(), size, actual.hex())};
}

}  // namespace bftgate::crypto
