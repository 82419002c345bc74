// Operations on the adapter register: the operator's Propose and a validator's Vote, the
// operator's Reconfigure (the next epoch's validator set) and a validator's EpochApproval, their
// canonical binary encoding, the bodies their signatures cover, and helpers that build signed
// operations.
//
// Wire format (crypto::Encoder rules: little-endian integers, u32-length-prefixed strings,
// fixed-size fields raw):
//   Propose: u8 kind=1 | u64 version | digest[32] | u64 size | str source (<= 1024 bytes)
//            | signature[64]
//   Vote:    u8 kind=2 | u32 validator | u64 version | digest[32] | u8 verdict (0 FAIL, 1 PASS)
//            | metrics_digest[32] | signature[64] | bool has_approval | [approval signature[64]]
//   Reconfigure: u8 kind=3 | u64 next_epoch | u32 f | u32 member count | members | signature[64]
//            member: u32 id | str endpoint | public_key[32] | u16 metrics_port | bool has_proof
//                    | [proof[64]]
//   EpochApproval: u8 kind=4 | u32 validator | u64 next_epoch | approval signature[64]
// Decoding is strict (one value, one encoding; no trailing bytes) and reports problems as a
// Result error, never as an exception. Whether a vote carries an approval is checked by the
// register, not by the decoder, so that a PASS vote without one is an invalid vote with a
// reason like any other.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "bftgate/base/bytes.hpp"
#include "bftgate/base/result.hpp"
#include "bftgate/config/cluster_config.hpp"
#include "bftgate/crypto/certificate.hpp"
#include "bftgate/crypto/ed25519.hpp"
#include "bftgate/crypto/epoch.hpp"
#include "bftgate/crypto/sha256.hpp"

namespace bftgate::bft {

inline constexpr std::size_t kMaxSourceSize = 1024;
inline constexpr std::size_t kMaxEndpointSize = 1024;
// The highest adapter version the register accepts: the largest integer every JSON reader keeps
// exact, and far enough below 2^64 that the version space never runs out.
inline constexpr std::uint64_t kMaxAdapterVersion = (std::uint64_t{1} << 53) - 1;

// The first byte of an operation. kUnknown is never on the wire: the log uses it for an
// operation whose kind could not be read.
enum class OpKind : std::uint8_t {
  kUnknown = 0,
  kPropose = 1,
  kVote = 2,
  kReconfigure = 3,
  kEpochApproval = 4,
};
// The kind a first byte names; kUnknown for any other byte.
OpKind op_kind(std::uint8_t byte);
std::string_view to_string(OpKind kind);

// FAIL is 0 so that a zeroed verdict fails closed.
enum class Verdict : std::uint8_t { kFail = 0, kPass = 1 };
std::string_view to_string(Verdict verdict);

struct ProposeOp {
  std::uint64_t version = 0;
  crypto::Digest artifact_digest;
  std::uint64_t size = 0;
  std::string source;  // where the artifact can be fetched (URL, store key)
  crypto::Signature operator_signature;

  bool operator==(const ProposeOp&) const = default;
};

struct VoteOp {
  std::uint32_t validator = 0;
  std::uint64_t version = 0;
  crypto::Digest artifact_digest;
  Verdict verdict = Verdict::kFail;
  crypto::Digest metrics_digest;  // digest of the validator's validation report
  crypto::Signature signature;
  // crypto::sign_release over the voted entry's ReleaseStatement; present iff PASS.
  std::optional<crypto::Signature> release_approval;

  bool operator==(const VoteOp&) const = default;
};

// A validator of the next epoch as the operator proposes it: a member that keeps its id and key
// needs nothing more; a new member or a new key comes with the proof of possession from its card
// (config/card.hpp), which the register checks.
struct ProposedValidator {
  ValidatorInfo validator;
  std::optional<crypto::Signature> proof;

  bool operator==(const ProposedValidator&) const = default;
};

// A validator's public part as epochs carry it: u32 id | str endpoint | public_key[32]
// | u16 metrics_port (the Reconfigure's members and the register's epoch records).
void encode_validator(crypto::Encoder& encoder, const ValidatorInfo& validator);
ValidatorInfo decode_validator(crypto::Decoder& decoder);  // throws DecodeError

// The operator proposes the validator set of epoch next_epoch (the current epoch + 1): any
// change of members, keys, n and f. The fault model stays.
struct ReconfigureOp {
  std::uint64_t next_epoch = 0;
  std::uint32_t f = 0;
  std::vector<ProposedValidator> validators;
  crypto::Signature operator_signature;

  bool operator==(const ReconfigureOp&) const = default;
};

// A validator of the current epoch approves the handover the register holds (its
// crypto::EpochStatement, which the register derives itself: sign_epoch over it).
struct EpochApprovalOp {
  std::uint32_t validator = 0;
  std::uint64_t next_epoch = 0;
  crypto::Signature approval;

  bool operator==(const EpochApprovalOp&) const = default;
};

using RegisterOp = std::variant<ProposeOp, VoteOp, ReconfigureOp, EpochApprovalOp>;

Bytes encode(const ProposeOp& op);
Bytes encode(const VoteOp& op);
Bytes encode(const ReconfigureOp& op);
Bytes encode(const EpochApprovalOp& op);
Bytes encode_op(const RegisterOp& op);
Result<RegisterOp> decode_op(ByteView bytes);

// What the operator signs (Domain::kOperatorProposal):
//   str cluster_id | u64 epoch | u64 version | digest[32] | u64 size | str source
Bytes proposal_signing_body(std::string_view cluster_id, std::uint64_t epoch, std::uint64_t version,
                            const crypto::Digest& artifact_digest, std::uint64_t size,
                            std::string_view source);

// What a validator signs for its vote (Domain::kRegisterVote):
//   str cluster_id | u64 epoch | u32 validator | u64 version | digest[32] | u8 verdict
//   | metrics_digest[32]
Bytes vote_signing_body(std::string_view cluster_id, std::uint64_t epoch, std::uint32_t validator,
                        std::uint64_t version, const crypto::Digest& artifact_digest,
                        Verdict verdict, const crypto::Digest& metrics_digest);

// What the operator signs to reconfigure (Domain::kReconfiguration):
//   str cluster_id | u64 epoch (the current one) | the Reconfigure encoding without its kind byte
//   and signature
Bytes reconfigure_signing_body(std::string_view cluster_id, std::uint64_t epoch,
                               const ReconfigureOp& op);

// An encoded Reconfigure (op's signature replaced by the operator's).
Bytes make_reconfigure(const crypto::SecretKey& operator_key, std::string_view cluster_id,
                       std::uint64_t epoch, ReconfigureOp op);
// An encoded EpochApproval of `statement` by validator `validator`.
Bytes make_epoch_approval(const crypto::SecretKey& key, std::uint32_t validator,
                          const crypto::EpochStatement& statement);

// An encoded Propose signed by the operator.
Bytes make_propose(const crypto::SecretKey& operator_key, std::string_view cluster_id,
                   std::uint64_t epoch, std::uint64_t version,
                   const crypto::Digest& artifact_digest, std::uint64_t size,
                   std::string_view source);

// An encoded Vote signed by `key`; a PASS vote also carries the release approval over
// {cluster_id, epoch, version, artifact_digest, previous_entry_hash}, where
// previous_entry_hash is that of the register entry voted on.
Bytes make_vote(const crypto::SecretKey& key, std::string_view cluster_id, std::uint64_t epoch,
                std::uint32_t validator, std::uint64_t version,
                const crypto::Digest& artifact_digest, const crypto::Digest& previous_entry_hash,
                Verdict verdict, const crypto::Digest& metrics_digest);

}  // namespace bftgate::bft
