// Epochs: the validator set of epoch e+1 is approved by a quorum of epoch e's validators (an
// epoch certificate), so whoever trusts one set can walk a chain of certificates to the newest,
// checking each link with the keys of the set before it (TUF's root rotation). A certificate
// names both sets by their digests (validator_set.hpp), so a link cannot be moved to another
// chain or carry another set than the one approved, and the register's state at the switch, so
// the new set starts from what the old one decided.
#pragma once

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "bftgate/base/encoding.hpp"
#include "bftgate/base/result.hpp"
#include "bftgate/crypto/quorum_signatures.hpp"
#include "bftgate/crypto/sha256.hpp"
#include "bftgate/crypto/validator_set.hpp"

namespace bftgate::crypto {

struct EpochStatement {
  std::string cluster_id;
  std::uint64_t epoch = 0;       // the new set's epoch: one above the approving set's
  Digest previous_set;           // ValidatorSet::digest() of the approving set (epoch - 1)
  Digest next_set;               // ... of the approved set (epoch)
  std::uint64_t switch_seq = 0;  // the register's log record the old set stopped at
  Digest state_digest;           // the register's state digest there
  // The newest version released up to the switch: the approving set declares it certified
  // nothing newer, so its keys (rotated, perhaps leaked later) certify nothing newer for anyone
  // who holds this link (EpochChain).
  std::uint64_t last_release = 0;

  // Canonical body; validators sign signing_message(kEpochApproval, encode()).
  Bytes encode() const;
  static EpochStatement decode(Decoder& decoder);  // throws DecodeError
  bool operator==(const EpochStatement&) const = default;
};

class EpochCertificate {
 public:
  static constexpr std::uint8_t kFormatVersion = 1;

  EpochStatement statement;
  QuorumSignatures approvals;  // by validators of epoch statement.epoch - 1

  // Canonical binary form: format version | statement | signer bitmap | signatures.
  Bytes encode() const;
  static Result<EpochCertificate, CertVerdict> decode(ByteView bytes);
  // JSON form for people and scripts.
  nlohmann::json to_json() const;
  static Result<EpochCertificate, CertVerdict> from_json(const nlohmann::json& json);

  bool operator==(const EpochCertificate&) const = default;
};

Signature sign_epoch(const SecretKey& key, const EpochStatement& statement);

// Whether `certificate` takes `previous` to `next`: one cluster, next's epoch one above
// previous's and the statement's, both sets the ones the statement names, `next` a set that can
// sign (ValidatorSet::check), and a quorum of `previous` approving. The first failure, with why.
CertVerdict verify_epoch_link(const EpochCertificate& certificate, const ValidatorSet& previous,
                              const ValidatorSet& next, const QuorumCheck& check = {});

// One step of a chain: the certificate and the set it approves.
struct EpochLink {
  EpochCertificate certificate;
  ValidatorSet set;

  // Binary: the certificate (length-prefixed) | the set.
  Bytes encode() const;
  static Result<EpochLink, CertVerdict> decode(ByteView bytes);
};

// Walks from `trusted` along `links` in order (links at or below trusted's epoch are skipped, so
// a whole chain from genesis serves any node) and returns the newest set reached; or the first
// link that fails, naming its epochs and why (a gap is kWrongEpoch).
Result<ValidatorSet, CertVerdict> walk_epoch_chain(const ValidatorSet& trusted,
                                                   const std::vector<EpochLink>& links,
                                                   const QuorumCheck& check = {});

}  // namespace bftgate::crypto
