// The adapter register: the replicated state machine validators run under PBFT (or, in CFT
// mode, Vaidyanathan's majority rule). The operator proposes adapter versions; validators
// vote PASS or FAIL; config.quorum() PASS votes release a version with a certificate built
// from the voters' approvals; more than n - quorum FAIL votes reject it. The operator's
// Reconfigure ends the epoch (register_epoch.hpp): from then on the register only gathers the
// validators' approvals of the next set, and next_epoch() is the register that set runs.
//
// Pure and deterministic: no clocks, randomness or I/O, so every replica applying the same
// operations in the same order holds byte-identical state. Bad input is never an exception:
// it is an invalid operation, answered with a reason and recorded in the log.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "bftgate/config/cluster_config.hpp"
#include "bftgate/core/state_machine.hpp"
#include "bftgate/crypto/verify_cache.hpp"
#include "bftgate/register/register_entry.hpp"
#include "bftgate/register/register_epoch.hpp"
#include "bftgate/register/register_ops.hpp"
#include "bftgate/register/register_snapshot.hpp"

namespace bftgate::bft {

// The reply to every operation:
//   bool valid | str reason | u64 entry_version | bool has_state | [u8 entry_state]
// entry_version is the version the operation named (0 if it could not be decoded);
// entry_state is that entry's state after the operation, absent when no entry has that
// version (an unknown version, a refused proposal of a version never registered).
struct RegisterReply {
  bool valid = false;
  std::string reason;
  std::uint64_t entry_version = 0;
  std::optional<EntryState> entry_state;

  bool operator==(const RegisterReply&) const = default;
};

Bytes encode_reply(const RegisterReply& reply);

class AdapterRegister;

// The register a new member of the next epoch runs, from what an old member handed it: the
// frozen contents decoded under the old set's config and checked (chain, handover, state
// digest), and every epoch link verified from `genesis`'s set, the one the joiner trusts, to
// the next set, which the certificate names. An old member that lies is refused with why.
Result<std::unique_ptr<AdapterRegister>> join_next_epoch(
    const ClusterConfig& genesis, const EpochHandoff& handoff,
    std::shared_ptr<crypto::VerifyCache> cache = nullptr);
Result<RegisterReply> decode_reply(ByteView bytes);

class AdapterRegister final : public StateMachine {
 public:
  // `cache` (optional) memoises signature checks across registers that see the same operations,
  // as every replica in one simulation does.
  explicit AdapterRegister(const ClusterConfig& config,
                           std::shared_ptr<crypto::VerifyCache> cache = nullptr);

  Bytes apply(std::uint32_t client, ByteView operation) override;
  Bytes snapshot() const override;
  Status restore(ByteView snapshot) override;
  // Named by the snapshot's own checksum (register_snapshot.hpp), so hashed once per checkpoint.
  crypto::Digest snapshot_digest(ByteView snapshot) const override;
  std::pair<Bytes, crypto::Digest> snapshot_with_digest() const override;

  // apply() without the reply encoding, for in-process callers.
  RegisterReply process(std::uint32_t client, ByteView operation);

  const ClusterConfig& config() const { return config_; }

  // Pointers and references stay valid until the next apply/process/restore.
  const std::vector<RegisterEntry>& entries() const { return state_.entries; }
  const RegisterEntry* entry(std::uint64_t version) const;
  // The highest-version RELEASE_COMMIT entry (its certificate is set), if any.
  const RegisterEntry* latest_release() const;
  // The entry validators are voting on, if any (only the newest entry can be in beta).
  const RegisterEntry* current_beta() const;
  // The retained log records (the newest, see kRetainedLogRecords) and what the pruned ones were.
  const std::vector<LogRecord>& log() const { return state_.log; }
  const LogBase& log_base() const { return state_.log_base; }

  // The chain of epochs this register went through, oldest first (empty in its genesis epoch).
  const std::vector<EpochRecord>& epochs() const { return state_.epochs; }
  // The reconfiguration under way, if any: the register is frozen, and only approvals count.
  const Handover* handover() const { return state_.handover ? &*state_.handover : nullptr; }
  // The epoch certificate, once a quorum of this epoch's validators approved the handover.
  std::optional<crypto::EpochCertificate> epoch_certificate() const;
  // The next epoch's register (its config: this one's with the next set), starting from the
  // contents frozen at the switch with this epoch's link appended; null until certified.
  std::unique_ptr<AdapterRegister> next_epoch() const;
  // The chain as a node walks it: one link per epoch record, then the certified handover's.
  std::vector<crypto::EpochLink> epoch_links() const;
  // What a new member of the next epoch starts from (join_next_epoch); none until certified.
  std::optional<EpochHandoff> handoff() const;

  // entry_hash of the newest entry: the head of the register's hash chain.
  const crypto::Digest& head_hash() const { return state_.entries.back().entry_hash; }
  // record_hash of the newest log record (zero while the log is empty).
  crypto::Digest log_head_hash() const;

 private:
  struct Outcome {
    Outcome() = default;
    Outcome(bool v, std::string r, std::optional<std::uint64_t> named = std::nullopt)
        : valid(v), reason(std::move(r)), entry_version(named) {}
    bool valid = false;
    std::string reason;
    std::optional<std::uint64_t>
        entry_version;  // the entry the reply names, when not the op's version
  };

  Outcome apply_propose(const ProposeOp& op);
  Outcome apply_vote(const VoteOp& op);
  Outcome apply_reconfigure(const ReconfigureOp& op);  // register_epoch.cpp, as are these two
  Outcome apply_epoch_approval(const EpochApprovalOp& op);
  void begin_handover();
  std::size_t approval_quorum() const;  // this epoch's quorum: what certifies the next
  RegisterEntry* find_entry(std::uint64_t version);
  void append_log(std::uint32_t client, OpKind kind, ByteView operation, const Outcome& outcome);
  void prune_log();

  ClusterConfig config_;
  std::shared_ptr<crypto::VerifyCache> cache_;
  RegisterContents state_;
  std::optional<EpochMembers> pending_handover_;  // a Reconfigure accepted, until it is logged
};

}  // namespace bftgate::bft
