// A quorum's approvals of one statement: a signer bitmap and one signature per signer, in
// ascending signer order (libhotstuff's quorum certificate). Release certificates and epoch
// certificates both carry one; this is the one place that decides whether approvals make a
// quorum of a validator set: every signer in the set, counted once, enough of them, and every
// signature good over the statement in its domain.
#pragma once

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "bftgate/base/encoding.hpp"
#include "bftgate/base/result.hpp"
#include "bftgate/crypto/ed25519.hpp"
#include "bftgate/crypto/signer_set.hpp"
#include "bftgate/crypto/validator_set.hpp"
#include "bftgate/crypto/verify_cache.hpp"

namespace bftgate::crypto {

enum class CertError {
  kOk,
  kMalformed,
  kWrongCluster,
  kWrongEpoch,
  kUnknownSigner,
  kDuplicateSigner,
  kBelowThreshold,
  kBadSignature,
  kDigestMismatch,
  kArtifactUnreadable,
  kWrongSet,    // an epoch certificate names another validator set than the one it comes with
  kStaleEpoch,  // a release of an epoch superseded since, above what that epoch released
};
std::string_view to_string(CertError error);  // stable kebab-case code, e.g. "bad-signature"

struct CertVerdict {
  CertError error = CertError::kOk;
  std::string reason;

  bool ok() const { return error == CertError::kOk; }
  static CertVerdict success() { return {}; }
};

class QuorumSignatures {
 public:
  // Adds validator `id`'s signature; false (and no change) if `id` already signed.
  bool add(std::uint32_t id, const Signature& signature);
  const SignerSet& signers() const { return signers_; }
  const std::vector<Signature>& signatures() const { return signatures_; }

  // Binary: the signer bitmap (length-prefixed) then the signatures.
  void encode_to(Encoder& encoder) const;
  static QuorumSignatures decode_from(Decoder& decoder);  // throws DecodeError

  // JSON: [{"validator": id, "signature": hex}, ...].
  nlohmann::json to_json() const;
  // Strict (only those fields, ids within kMaxValidatorId, 128 hex digits); a signer listed
  // twice is kDuplicateSigner. `what` names the array in reasons.
  static Result<QuorumSignatures, CertVerdict> from_json(const nlohmann::json& array,
                                                         std::string_view what);

  bool operator==(const QuorumSignatures&) const = default;

 private:
  SignerSet signers_;
  std::vector<Signature> signatures_;
};

struct QuorumCheck {
  // Threads that verify signatures: 1 verifies on the caller's thread; 0 uses every core.
  unsigned threads = 1;
  // When set (single-threaded verification only), signatures verified before are not verified
  // again.
  VerifyCache* cache = nullptr;
};

// Whether `approvals` are a quorum of `set` over `body` in `domain`: every signer in the set,
// at least set.quorum() of them, every signature good. The first failure, with why.
CertVerdict verify_quorum(const QuorumSignatures& approvals, const ValidatorSet& set, Domain domain,
                          const Bytes& body, const QuorumCheck& check = {});

}  // namespace bftgate::crypto
