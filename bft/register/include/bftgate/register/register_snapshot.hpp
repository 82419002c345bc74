// Canonical encoding of the adapter register's whole state (AdapterRegister::snapshot()).
//
//   "BGRS" | u8 format version (3) | str cluster_id | u64 epoch
//   | u64 entry count | entries | log base | u64 log record count | log records
//   | u32 epoch record count | epoch records | bool has_handover | [handover]
//   | sha256(all before)[32]
//   log base: u64 pruned records | hash of the last pruned record[32] | u64 valid proposals
//           | u64 valid votes | u64 invalid operations | u64 valid reconfigurations (all counted
//           over the pruned records)
//   members: u32 f | u32 count | (u32 id | str endpoint | public_key[32] | u16 metrics_port)...
//   epoch record: members (previous) | bytes EpochCertificate::encode() | members (next)
//           | u64 last_version
//   handover: members (next) | statement (EpochStatement::encode()) | approvals
//           (QuorumSignatures)
//   entry:  u64 version | digest[32] | u64 size | str source | operator_signature[64]
//           | u8 state | previous_entry_hash[32] | entry_hash[32] | str reason
//           | u64 vote count | votes | bool has_certificate | [bytes ReleaseCertificate::encode()]
//   vote:   u32 validator | u8 verdict | metrics_digest[32] | signature[64] | bool has_approval
//           | [release_approval[64]]
//   record: u64 index | u32 client | u8 kind | bool valid | str reason | operation_digest[32]
//           | previous_hash[32] | record_hash[32]
//
// Decoding refuses anything the register itself could not have produced under this config:
// a bad checksum, another cluster or epoch, broken hash links, versions not strictly
// increasing, a vote from an unknown or repeated validator, vote counts that contradict the
// entry's state, a certificate that is not exactly the one its PASS votes make. Signatures
// are not re-verified: a snapshot reaches a replica through state transfer, where its digest
// is checked against a checkpoint certificate.
#pragma once

#include <vector>

#include "bftgate/base/bytes.hpp"
#include "bftgate/base/result.hpp"
#include "bftgate/config/cluster_config.hpp"
#include "bftgate/register/register_entry.hpp"
#include "bftgate/register/register_epoch.hpp"

namespace bftgate::bft {

inline constexpr std::uint8_t kSnapshotFormatVersion = 3;
// The register keeps the newest kRetainedLogRecords records (pruning kLogPruneStep at a time once
// it holds more than both together): what was pruned stays covered by the hash chain through
// LogBase, so checkpoints and snapshots cost the same however long the cluster has run.
inline constexpr std::size_t kRetainedLogRecords = 4096;
inline constexpr std::size_t kLogPruneStep = 1024;
inline constexpr std::size_t kMaxReasonSize = 4096;

// What the pruned prefix of the log contributed: its length, its last hash, and its counts.
struct LogBase {
  std::uint64_t records = 0;
  crypto::Digest last_hash{};
  std::uint64_t valid_proposals = 0;
  std::uint64_t valid_votes = 0;
  std::uint64_t invalid = 0;
  std::uint64_t valid_reconfigurations = 0;

  bool operator==(const LogBase&) const = default;
};

struct RegisterContents {
  std::vector<RegisterEntry> entries;  // entries[0] is the genesis entry
  LogBase log_base;                    // the pruned records before log.front()
  std::vector<LogRecord> log;          // the retained records, indices log_base.records, ...
  std::vector<EpochRecord> epochs;     // the chain to this epoch, oldest first
  std::optional<Handover> handover;    // frozen: a reconfiguration is being approved

  bool operator==(const RegisterContents&) const = default;
};

Bytes encode_snapshot(const ClusterConfig& config, const RegisterContents& contents);
Result<RegisterContents> decode_snapshot(const ClusterConfig& config, ByteView snapshot);

// The digest a checkpoint names a register snapshot by: SHA-256 of (tag, its trailing checksum),
// which is itself the SHA-256 of everything before it. snapshot_digest checks the checksum first
// (bytes whose checksum does not match get a digest no well-formed snapshot has);
// digest_of_encoded is for bytes encode_snapshot has just returned, and hashes 64 bytes.
crypto::Digest snapshot_digest(ByteView snapshot);
crypto::Digest digest_of_encoded(ByteView encoded_snapshot);

}  // namespace bftgate::bft
