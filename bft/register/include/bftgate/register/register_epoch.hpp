// Epochs in the register: the operator's Reconfigure, once ordered, freezes the register (the
// handover) and fixes the statement the current set approves: the next set, the log record it
// switches at and the digest of the register's contents there. A quorum of the current set's
// approvals, ordered like any operation, makes the epoch certificate; the register of the next
// epoch starts from the frozen contents with that link appended to its chain (concord-bft's
// wedge, TUF's chain of roots).
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "bftgate/config/cluster_config.hpp"
#include "bftgate/crypto/epoch.hpp"
#include "bftgate/register/register_ops.hpp"

namespace bftgate::bft {

// One validator set with the f it runs under.
struct EpochMembers {
  std::uint32_t f = 0;
  std::vector<ValidatorInfo> validators;  // ascending id

  bool operator==(const EpochMembers&) const = default;
};

// `config` with epoch `epoch` and `members` in place of its validators and f.
ClusterConfig config_for_epoch(const ClusterConfig& config, std::uint64_t epoch,
                               const EpochMembers& members);
EpochMembers members_of(const ClusterConfig& config);

// A reconfiguration under way: ordered, frozen, gathering the current set's approvals.
struct Handover {
  EpochMembers next;
  crypto::EpochStatement statement;    // what the current set approves
  crypto::QuorumSignatures approvals;  // valid approvals; complete at the current quorum

  bool operator==(const Handover&) const = default;
};

// One link of the register's chain: the set that approved, the certificate, and the newest
// entry version at the switch (entries up to it were decided under `previous`).
struct EpochRecord {
  EpochMembers previous;
  crypto::EpochCertificate certificate;
  EpochMembers next;
  std::uint64_t last_version = 0;

  bool operator==(const EpochRecord&) const = default;
};

// What a member of the old set hands a new member of the next epoch (one that has no register
// of its own): the set it ran, its epoch, and its register frozen at the switch with the epoch
// certificate complete (AdapterRegister::handoff()).
struct EpochHandoff {
  std::uint64_t epoch = 0;  // the old set's
  EpochMembers members;
  Bytes frozen_snapshot;
};

// Binary form, what a validator persists at the switch and hands a new member:
//   "BGEH" | u8 format version (1) | u64 epoch | members (u32 f | u32 count | member...)
//   | bytes frozen snapshot (at most kMaxSnapshotBytes)
// decode_handoff bounds every field and refuses trailing bytes; whether the contents verify is
// join_next_epoch's question.
Bytes encode_handoff(const EpochHandoff& handoff);
Result<EpochHandoff> decode_handoff(ByteView bytes);

// The next epoch's members as `op` proposes them against `config`, or why not: the epoch after
// this one, every member's endpoint and port well-formed, a new member or a new key with a proof
// of possession that verifies (its card's), distinct ids, keys and endpoints, n >= 3f+1 (BFT) or
// 2f+1 (CFT). The operator's signature is checked by the register, not here.
Result<EpochMembers> proposed_members(const ClusterConfig& config, const ReconfigureOp& op);

}  // namespace bftgate::bft
