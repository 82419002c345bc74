// Restart after a crash: rebuild from the records persisted before each send. The replica comes
// back with its stable checkpoint, everything it executed, its prepared proofs (which view
// changes must report) and every message it signed (so it never contradicts itself); what it
// missed while down arrives through status and catch-up.
#include <fmt/format.h>

#include "bftgate/core/replica.hpp"

namespace bftgate::bft {

void Replica::restore(const std::vector<PersistRecord>& records) {
  for (const auto& record : records) {
    switch (record.kind) {
      case PersistRecord::Kind::kView:
        view_ = record.view;
        view_active_ = record.view_active;
        break;
      case PersistRecord::Kind::kStable: {
        if (record.seq <= stable_.seq) break;
        // A checkpoint often becomes stable after this replica has executed (and persisted)
        // batches above it, so its record follows theirs in the log: the state rebuilt so far
        // already contains it. Only a checkpoint above what was executed (a state transfer, or
        // a compacted log) replaces the state; installing an older one would roll the
        // application back while last_executed_ stayed ahead, losing those batches here alone.
        if (record.seq > last_executed_) {
          if (auto status = install_snapshot(record.snapshot); !status) {
            throw std::runtime_error("persisted snapshot is unreadable: " + status.error().message);
          }
          last_executed_ = record.seq;
        }
        stable_ = {record.seq, snapshot_digest(record.snapshot), record.snapshot,
                   record.checkpoint_proof};
        executed_.erase(executed_.begin(), executed_.upper_bound(record.seq));
        low_ = std::max(low_, record.seq);
        slots_.erase(slots_.begin(), slots_.upper_bound(record.seq));
        own_checkpoints_.erase(own_checkpoints_.begin(), own_checkpoints_.upper_bound(record.seq));
        break;
      }
      case PersistRecord::Kind::kExecuted:
        if (record.seq == last_executed_ + 1)
          execute_batch(record.seq, record.message, /*recovering=*/true);
        break;
      case PersistRecord::Kind::kPrepared: {
        auto seq = record.prepared.pre_prepare->as<PrePrepare>()->seq;
        if (seq > low_) slot(seq).prepared_proof = record.prepared;
        break;
      }
      case PersistRecord::Kind::kSent: {
        const auto& m = record.message;
        if (const auto* pp = m->as<PrePrepare>()) {
          next_seq_ = std::max(next_seq_, pp->seq);
          if (pp->seq > low_) slot(pp->seq).pre_prepare = m;
        } else if (const auto* p = m->as<Prepare>()) {
          if (p->seq > low_) slot(p->seq).my_prepare = m;
        } else if (const auto* c = m->as<Commit>()) {
          if (c->seq > low_) slot(c->seq).my_commit = m;
        } else if (const auto* vc = m->as<ViewChange>()) {
          my_view_change_ = m;
          if (vc->new_view > promised_view_) {
            promised_view_ = vc->new_view;
            my_highest_view_change_ = m;
          }
        } else if (const auto* nv = m->as<NewView>()) {
          new_view_message_ = m;
          for (const auto& pp_message : nv->pre_prepares) {
            auto seq = pp_message->as<PrePrepare>()->seq;
            next_seq_ = std::max(next_seq_, seq);
            if (seq > low_) slot(seq).pre_prepare = pp_message;  // re-issued by this primary
          }
        } else if (m->as<Checkpoint>()) {
          my_latest_checkpoint_ = m;
        }
        break;
      }
    }
  }
  // Keep only what belongs to the view we are in; our own messages stay to prevent contradiction.
  for (auto& [seq, s] : slots_) {
    if (s.pre_prepare && s.pre_prepare->as<PrePrepare>()->view != view_) s.pre_prepare = nullptr;
  }
  if (new_view_message_ && new_view_message_->as<NewView>()->view != view_)
    new_view_message_ = nullptr;
  ready_ = Ready{};
}

std::vector<PersistRecord> Replica::live_records() const {
  std::vector<PersistRecord> out;
  auto add = [&out](PersistRecord record) { out.push_back(std::move(record)); };
  if (stable_.seq > 0) {
    PersistRecord record;
    record.kind = PersistRecord::Kind::kStable;
    record.seq = stable_.seq;
    record.snapshot = stable_.snapshot;
    record.checkpoint_proof = stable_.proof;
    add(std::move(record));
  }
  for (const auto& [seq, pre_prepare] : executed_) {
    PersistRecord record;
    record.kind = PersistRecord::Kind::kExecuted;
    record.seq = seq;
    record.message = pre_prepare;
    add(std::move(record));
  }
  auto sent = [&add](const MessagePtr& message) {
    if (!message) return;
    PersistRecord record;
    record.kind = PersistRecord::Kind::kSent;
    record.message = message;
    add(std::move(record));
  };
  for (const auto& [seq, s] : slots_) {
    if (seq <= stable_.seq) continue;
    if (s.prepared_proof) {
      PersistRecord record;
      record.kind = PersistRecord::Kind::kPrepared;
      record.prepared = *s.prepared_proof;
      add(std::move(record));
    }
    // Pre-prepares of an earlier view are not restored (see the end of restore()).
    if (s.pre_prepare && s.pre_prepare->sender == self_ &&
        s.pre_prepare->as<PrePrepare>()->view == view_) {
      sent(s.pre_prepare);
    }
    sent(s.my_prepare);
    sent(s.my_commit);
  }
  // The promise first, so that the latest view change (maybe a lower view) is restored as such.
  if (my_highest_view_change_ != my_view_change_) sent(my_highest_view_change_);
  sent(my_view_change_);
  if (new_view_message_ && new_view_message_->sender == self_ &&
      new_view_message_->as<NewView>()->view == view_) {
    sent(new_view_message_);
  }
  sent(my_latest_checkpoint_);
  PersistRecord view;
  view.kind = PersistRecord::Kind::kView;
  view.view = view_;
  view.view_active = view_active_;
  add(std::move(view));
  return out;
}

}  // namespace bftgate::bft
