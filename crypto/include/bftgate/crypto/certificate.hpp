// Release certificates: a statement (cluster id, validator-set epoch, adapter version,
// artifact digest, hash of the previous register entry) and the Ed25519 approvals of a quorum
// of validators, stored as a signer bitmap plus one signature per signer. Self-contained:
// verifiable offline with only the validator set (and the artifact, for its digest).
#pragma once

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bftgate/base/encoding.hpp"
#include "bftgate/crypto/ed25519.hpp"
#include "bftgate/crypto/quorum_signatures.hpp"
#include "bftgate/crypto/sha256.hpp"
#include "bftgate/crypto/signer_set.hpp"
#include "bftgate/crypto/validator_set.hpp"
#include "bftgate/crypto/verify_cache.hpp"

namespace bftgate::crypto {

struct ReleaseStatement {
  std::string cluster_id;
  std::uint64_t epoch = 0;
  std::uint64_t adapter_version = 0;
  Digest artifact_digest;
  Digest previous_entry_hash;

  // Canonical body; validators sign signing_message(kReleaseApproval, encode()).
  Bytes encode() const;
  static ReleaseStatement decode(Decoder& decoder);  // throws DecodeError
  bool operator==(const ReleaseStatement&) const = default;
};

Signature sign_release(const SecretKey& key, const ReleaseStatement& statement);
bool verify_release_signature(const PublicKey& key, const ReleaseStatement& statement,
                              const Signature& signature);

class ReleaseCertificate {
 public:
  static constexpr std::uint8_t kFormatVersion = 1;

  ReleaseStatement statement;

  // Adds validator `id`'s signature; false (and no change) if `id` already signed.
  bool add_signature(std::uint32_t id, const Signature& signature) {
    return approvals_.add(id, signature);
  }
  const SignerSet& signers() const { return approvals_.signers(); }
  // One signature per signer, in ascending signer-id order.
  const std::vector<Signature>& signatures() const { return approvals_.signatures(); }
  const QuorumSignatures& approvals() const { return approvals_; }

  // Canonical binary form: format version | statement | signer bitmap | signatures.
  Bytes encode() const;
  static Result<ReleaseCertificate, CertVerdict> decode(ByteView bytes);

  // JSON form for people and scripts.
  nlohmann::json to_json() const;
  static Result<ReleaseCertificate, CertVerdict> from_json(const nlohmann::json& json);
  static Result<ReleaseCertificate, CertVerdict> parse_json(std::string_view text);

  bool operator==(const ReleaseCertificate&) const = default;

 private:
  QuorumSignatures approvals_;
};

struct VerifyOptions {
  // Threads that verify signatures: 1 verifies on the caller's thread; 0 uses every core.
  unsigned threads = 1;
  // When set, the certificate must name this artifact digest.
  std::optional<Digest> artifact_digest;
  // When set (single-threaded verification only), signatures verified before are not verified
  // again.
  VerifyCache* cache = nullptr;
};

// Checks, in order: cluster id and epoch, every signer in the validator set, the quorum size,
// every signature, and (if given) the artifact digest. Returns the first failure and why.
CertVerdict verify(const ReleaseCertificate& certificate, const ValidatorSet& validators,
                   const VerifyOptions& options = {});

}  // namespace bftgate::crypto
