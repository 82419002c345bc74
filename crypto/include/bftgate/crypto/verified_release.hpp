// A release certificate that verified against the validator set. Only VerifiedRelease::verify
// makes one, so code that holds one (the release selector's choice, an inference node loading
// it, VerifiedAdapter) never checks the certificate again, and the artifact's bytes are hashed
// once, by check_artifact, on exactly the bytes that are used.
#pragma once

#include <cstdint>

#include "bftgate/base/bytes.hpp"
#include "bftgate/base/result.hpp"
#include "bftgate/crypto/certificate.hpp"
#include "bftgate/crypto/epoch_chain.hpp"
#include "bftgate/crypto/sha256.hpp"
#include "bftgate/crypto/validator_set.hpp"

namespace bftgate::crypto {

class VerifiedArtifact;

class VerifiedRelease {
 public:
  // crypto::verify() (cluster, epoch, signers, quorum, signatures); the refusal as it gives it.
  static Result<VerifiedRelease, CertVerdict> verify(const ReleaseCertificate& certificate,
                                                     const ValidatorSet& validators,
                                                     const VerifyOptions& options = {});
  // Against the set of the certificate's own epoch in `chain` (EpochChain::verify_release: a
  // superseded epoch certifies nothing above what it released).
  static Result<VerifiedRelease, CertVerdict> verify(const ReleaseCertificate& certificate,
                                                     const EpochChain& chain,
                                                     const VerifyOptions& options = {});

  const ReleaseCertificate& certificate() const { return certificate_; }
  std::uint64_t version() const { return certificate_.statement.adapter_version; }
  const Digest& artifact_digest() const { return certificate_.statement.artifact_digest; }

  // Hashes `artifact` once: the bytes as the certified artifact, or an error naming both
  // digests.
  Result<VerifiedArtifact> check_artifact(ByteView artifact) const;
  // The same check on a digest already computed (the simulator's artifacts are digests only).
  Status check_digest(const Digest& actual, std::uint64_t size) const;

 private:
  explicit VerifiedRelease(ReleaseCertificate certificate) : certificate_(std::move(certificate)) {}

  ReleaseCertificate certificate_;
};

// Bytes that hash to a verified release's certified digest. It views both: valid while the
// release and the bytes live (the span of one load).
class VerifiedArtifact {
 public:
  const VerifiedRelease& release() const { return *release_; }
  ByteView bytes() const { return bytes_; }

 private:
  friend class VerifiedRelease;
  VerifiedArtifact(const VerifiedRelease& release, ByteView bytes)
      : release_(&release), bytes_(bytes) {}

  const VerifiedRelease* release_;
  ByteView bytes_;
};

}  // namespace bftgate::crypto
