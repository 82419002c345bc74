#include "bftgate/runtime/validator/validator_metrics.hpp"

namespace bftgate::runtime {

void ValidatorMetrics::on_ready(const bft::Ready& ready, Clock::time_point now) {
  const auto seconds = [&](Clock::time_point since) {
    return std::chrono::duration<double>(now - since).count();
  };
  for (const auto& record : ready.persist) {
    using Kind = bft::PersistRecord::Kind;
    if (record.kind == Kind::kSent && record.message) {
      // A slot starts here when this replica signs its pre-prepare (primary) or its prepare.
      const auto* pp = record.message->as<bft::PrePrepare>();
      const auto* p = record.message->as<bft::Prepare>();
      if (pp != nullptr || p != nullptr) {
        pre_prepared_.try_emplace(pp != nullptr ? pp->seq : p->seq, now);
        if (pre_prepared_.size() > kTrackedSlots) pre_prepared_.erase(pre_prepared_.begin());
      }
    } else if (record.kind == Kind::kPrepared && record.prepared.pre_prepare) {
      const auto seq = record.prepared.pre_prepare->as<bft::PrePrepare>()->seq;
      if (auto it = pre_prepared_.find(seq); it != pre_prepared_.end())
        to_prepared_.observe(seconds(it->second));
    }
  }
  for (const auto& event : ready.events) {
    if (event.kind != bft::ReplicaEvent::Kind::kCommitted) continue;
    if (auto it = pre_prepared_.find(event.seq); it != pre_prepared_.end())
      to_committed_.observe(seconds(it->second));
  }
  for (const auto& batch : ready.committed) {
    ++decisions_;
    requests_ += batch.requests.size();
    if (auto it = pre_prepared_.find(batch.seq); it != pre_prepared_.end()) {
      to_executed_.observe(seconds(it->second));
      pre_prepared_.erase(pre_prepared_.begin(), std::next(it));
    }
  }
  for (const auto& event : ready.events) {
    if (event.kind == bft::ReplicaEvent::Kind::kNewViewEntered) ++view_changes_;
    if (event.kind == bft::ReplicaEvent::Kind::kStateTransferred) ++state_transfers_;
  }
}

void ValidatorMetrics::on_fsync(Clock::duration took) {
  fsync_.observe(std::chrono::duration<double>(took).count());
}

std::string ValidatorMetrics::text(std::uint32_t validator, const State& state) const {
  const Labels self{{"validator", std::to_string(validator)}};
  const auto phase = [&](const char* name) {
    auto labels = self;
    labels.emplace_back("phase", name);
    return labels;
  };
  MetricsText m;
  m.family("bftgate_validator_decisions_total", "counter", "Batches executed.")
      .sample("bftgate_validator_decisions_total", self, decisions_);
  m.family("bftgate_validator_requests_executed_total", "counter", "Requests executed.")
      .sample("bftgate_validator_requests_executed_total", self, requests_);
  m.family("bftgate_validator_slot_seconds", "histogram",
           "Time from the slot's pre-prepare accepted here (its prepare or pre-prepare signed) "
           "to prepared, to committed (a commit quorum) and to executed.")
      .histogram("bftgate_validator_slot_seconds", phase("prepared"), to_prepared_)
      .histogram("bftgate_validator_slot_seconds", phase("committed"), to_committed_)
      .histogram("bftgate_validator_slot_seconds", phase("executed"), to_executed_);
  m.family("bftgate_validator_wal_fsync_seconds", "histogram",
           "fdatasync latency of the write-ahead log.")
      .histogram("bftgate_validator_wal_fsync_seconds", self, fsync_);
  m.family("bftgate_validator_wal_bytes", "gauge", "Size of the write-ahead log.")
      .sample("bftgate_validator_wal_bytes", self, state.wal_bytes);
  m.family("bftgate_validator_wal_syncs_total", "counter", "fdatasyncs of the write-ahead log.")
      .sample("bftgate_validator_wal_syncs_total", self, state.wal_syncs);
  m.family("bftgate_validator_wal_late_syncs_total", "counter",
           "fdatasyncs of records no message needed (executed batches) that no message's sync "
           "covered within 2 ms.")
      .sample("bftgate_validator_wal_late_syncs_total", self, state.wal_late_syncs);
  m.family("bftgate_validator_signatures_verified_total", "counter",
           "Ed25519 signatures checked (a cached check counts too).")
      .sample("bftgate_validator_signatures_verified_total", self, state.signatures_verified);
  m.family("bftgate_validator_signatures_skipped_total", "counter",
           "Prepares and commits dropped unchecked: they came after their quorum.")
      .sample("bftgate_validator_signatures_skipped_total", self, state.signatures_skipped);
  m.family("bftgate_validator_macs_verified_total", "counter",
           "Client requests checked by the MAC of their session instead of a signature.")
      .sample("bftgate_validator_macs_verified_total", self, state.macs_verified);
  m.family("bftgate_validator_sessions_opened_total", "counter",
           "Client sessions opened here (their Ed25519 signature checked once).")
      .sample("bftgate_validator_sessions_opened_total", self, state.sessions_opened);
  m.family("bftgate_validator_cannot_judge_total", "counter",
           "Validations stopped by a fault of the infrastructure (the store, the disk, this "
           "host): no vote, tried again later.")
      .sample("bftgate_validator_cannot_judge_total", self, state.cannot_judge_total);
  m.family("bftgate_validator_cannot_judge", "gauge",
           "1 while the candidate in beta cannot be judged here (its last attempt failed).")
      .sample("bftgate_validator_cannot_judge", self,
              std::uint64_t{state.cannot_judge_now ? 1u : 0u});
  m.family("bftgate_validator_view", "gauge", "The replica's view.")
      .sample("bftgate_validator_view", self, state.view);
  m.family("bftgate_validator_view_changes_total", "counter", "New views entered.")
      .sample("bftgate_validator_view_changes_total", self, view_changes_);
  m.family("bftgate_validator_state_transfers_total", "counter", "Snapshots installed.")
      .sample("bftgate_validator_state_transfers_total", self, state_transfers_);
  m.family("bftgate_validator_last_executed", "gauge", "The last sequence number executed.")
      .sample("bftgate_validator_last_executed", self, state.last_executed);
  return m.text();
}

}  // namespace bftgate::runtime
