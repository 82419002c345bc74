// What the adapter register holds: a hash chain of entries (one per proposed adapter version,
// with its votes and, once released, its certificate) and a hash-chained log of every
// operation applied, valid or not.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bftgate/config/cluster_config.hpp"
#include "bftgate/crypto/certificate.hpp"
#include "bftgate/crypto/ed25519.hpp"
#include "bftgate/crypto/sha256.hpp"
#include "bftgate/register/register_ops.hpp"

namespace bftgate::bft {

// The seed paper's state flag. Encoded as u8 with these values.
enum class EntryState : std::uint8_t {
  kStable = 0,         // the genesis entry
  kBetaTesting = 1,    // proposed, validators are voting
  kReleaseCommit = 2,  // a quorum of PASS votes: certified
  kRejected = 3,       // enough FAIL votes, or superseded while still in beta
};
std::string_view to_string(EntryState state);  // "STABLE", "BETA_TESTING", ...

// A valid vote as the register keeps it; version and digest are those of its entry.
struct RecordedVote {
  std::uint32_t validator = 0;
  Verdict verdict = Verdict::kFail;
  crypto::Digest metrics_digest;
  crypto::Signature signature;
  std::optional<crypto::Signature> release_approval;  // present iff PASS

  bool operator==(const RecordedVote&) const = default;
};

struct RegisterEntry {
  std::uint64_t version = 0;
  crypto::Digest artifact_digest;
  std::uint64_t size = 0;
  std::string source;
  crypto::Signature operator_signature;
  EntryState state = EntryState::kStable;
  crypto::Digest previous_entry_hash;  // entry_hash of the entry before this one
  crypto::Digest entry_hash;           // compute_entry_hash(*this)
  std::vector<RecordedVote> votes;     // valid votes, in the order they were applied
  std::optional<crypto::ReleaseCertificate> certificate;  // present iff kReleaseCommit
  std::string reason;                                     // why the entry is in its state

  std::size_t pass_votes() const;
  std::size_t fail_votes() const;
  bool has_voted(std::uint32_t validator) const;

  bool operator==(const RegisterEntry&) const = default;
};

// SHA-256 over previous_entry_hash[32] | u64 version | digest[32] | u64 size | str source
// | operator_signature[64]. It covers what the operator proposed, not the votes or the
// state, so it is fixed from the moment the entry is appended.
crypto::Digest compute_entry_hash(const RegisterEntry& entry);

// Version 0, zero digest, STABLE, previous hash zero: the first link of every register.
RegisterEntry genesis_entry();

// The statement validators approve for `entry` and its certificate binds.
crypto::ReleaseStatement release_statement(const ClusterConfig& config, const RegisterEntry& entry);

// One applied operation. `index` is its position in the log (from 0).
struct LogRecord {
  std::uint64_t index = 0;
  std::uint32_t client = 0;
  OpKind kind = OpKind::kUnknown;
  bool valid = false;
  std::string reason;
  crypto::Digest operation_digest;  // SHA-256 of the operation bytes as received
  crypto::Digest previous_hash;     // record_hash of the record before (zero for the first)
  crypto::Digest record_hash;       // compute_record_hash(*this)

  bool operator==(const LogRecord&) const = default;
};

// SHA-256 over previous_hash[32] | u64 index | u32 client | u8 kind | bool valid | str reason
// | operation_digest[32].
crypto::Digest compute_record_hash(const LogRecord& record);

}  // namespace bftgate::bft
