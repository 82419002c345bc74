// Canonical encoding of the adapter register's whole state (AdapterRegister::snapshot()).
//
//   "BGRS" | u8 format version (1) | str cluster_id | u64 epoch
//   | u64 entry count | entries | u64 log record count | log records | sha256(all before)[32]
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

#include "bftgate/bft/register_entry.hpp"
#include "bftgate/crypto/bytes.hpp"
#include "bftgate/crypto/cluster_config.hpp"
#include "bftgate/crypto/result.hpp"

namespace bftgate::bft {

inline constexpr std::uint8_t kSnapshotFormatVersion = 1;
inline constexpr std::size_t kMaxReasonSize = 4096;

struct RegisterContents {
  std::vector<RegisterEntry> entries;  // entries[0] is the genesis entry
  std::vector<LogRecord> log;

  bool operator==(const RegisterContents&) const = default;
};

Bytes encode_snapshot(const ClusterConfig& config, const RegisterContents& contents);
Result<RegisterContents> decode_snapshot(const ClusterConfig& config, ByteView snapshot);

}  // namespace bftgate::bft
