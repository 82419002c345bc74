#include "bftgate/crypto/verified_release.hpp"
#include "bftgate/seeded_bug.hpp"

#include <fmt/format.h>

namespace bftgate::crypto {

Result<VerifiedRelease, CertVerdict> VerifiedRelease::verify(const ReleaseCertificate& certificate,
                                                             const ClusterConfig& config,
                                                             const VerifyOptions& options) {
  auto verdict = crypto::verify(certificate, config, options);
  if (!verdict.ok()) return verdict;
  return VerifiedRelease(certificate);
}

Result<VerifiedArtifact> VerifiedRelease::check_artifact(ByteView artifact) const {
  const auto actual = sha256(artifact);
  if (actual == artifact_digest() || seeded_bug("node-skips-digest-check"))
    return VerifiedArtifact(*this, artifact);
  return Error{fmt::format(
      "adapter version {}: artifact digest mismatch: the certificate names {}, the {} bytes "
      "received hash to {}",
      version(), artifact_digest().hex(), artifact.size(), actual.hex())};
}

}  // namespace bftgate::crypto
