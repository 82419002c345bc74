// The replica's invariants over its own state, checked after every step by the drivers that can
// afford it (the simulator, the fake-network tests): a broken one names itself at the step that
// broke it instead of surfacing later as a disagreement.
#include <fmt/format.h>

#include <algorithm>

#include "bftgate/bft/replica.hpp"
#include "bftgate/bft/replica_checker.hpp"

namespace bftgate::bft {

std::optional<std::string> Replica::invariant_violation() const {
  const auto high = low_ + options_.watermark_window;
  if (stable_.seq > last_executed_)
    return fmt::format("stable checkpoint {} above last executed {}", stable_.seq, last_executed_);
  if (stable_.seq > low_)
    return fmt::format("stable checkpoint {} above the low watermark {}", stable_.seq, low_);
  if (last_executed_ > high)
    return fmt::format("last executed {} above the high watermark {}", last_executed_, high);
  if (stable_.seq % options_.checkpoint_interval != 0)
    return fmt::format("stable checkpoint {} is not a multiple of {}", stable_.seq,
                       options_.checkpoint_interval);
  for (const auto& [seq, s] : slots_) {
    if (seq <= low_ || seq > high)
      return fmt::format("slot {} outside the window ({}, {}]", seq, low_, high);
    const auto slot_of = [](const MessagePtr& m) -> std::optional<Seq> {
      if (!m) return std::nullopt;
      if (const auto* pp = m->as<PrePrepare>()) return pp->seq;
      if (const auto* p = m->as<Prepare>()) return p->seq;
      if (const auto* c = m->as<Commit>()) return c->seq;
      return Seq{0};
    };
    for (const auto* m : {&s.pre_prepare, &s.my_prepare, &s.my_commit}) {
      auto at = slot_of(*m);
      if (at && *at != seq) return fmt::format("slot {} holds a message for {}", seq, *at);
    }
    if (s.my_prepare && s.my_prepare->sender != self_)
      return fmt::format("slot {}: its own prepare is signed by {}", seq, s.my_prepare->sender);
    if (s.my_commit && s.my_commit->sender != self_)
      return fmt::format("slot {}: its own commit is signed by {}", seq, s.my_commit->sender);
    // While a view change is under way the old view's pre-prepares stay until the new view.
    if (auto pp_view = s.pre_prepare ? s.pre_prepare->as<PrePrepare>()->view : view_;
        pp_view > view_ || (view_active_ && pp_view != view_)) {
      return fmt::format("slot {} holds a pre-prepare of view {} in view {}{}", seq, pp_view, view_,
                         view_active_ ? "" : " (changing)");
    }
  }
  // An ordered map: its first and last keys bound the others.
  if (!executed_.empty() &&
      (executed_.begin()->first <= stable_.seq || executed_.rbegin()->first > last_executed_)) {
    return fmt::format("executed batches {}..{} outside ({}, {}]", executed_.begin()->first,
                       executed_.rbegin()->first, stable_.seq, last_executed_);
  }
  if (executed_.size() != last_executed_ - stable_.seq)
    return fmt::format("{} executed batches kept for ({}, {}]", executed_.size(), stable_.seq,
                       last_executed_);
  for (const auto& [seq, checkpoint] : own_checkpoints_) {
    if (seq <= stable_.seq || seq > last_executed_ || seq % options_.checkpoint_interval != 0)
      return fmt::format("own checkpoint {} outside ({}, {}]", seq, stable_.seq, last_executed_);
  }
  if (!view_active_ && view_ > promised_view_)
    return fmt::format("in a view change to {} without having asked for it (promised {})", view_,
                       promised_view_);
  if (my_view_change_ && my_view_change_->as<ViewChange>()->new_view > promised_view_)
    return fmt::format("sent a view change for {} above its promise {}",
                       my_view_change_->as<ViewChange>()->new_view, promised_view_);
  return std::nullopt;
}

namespace {
// A persisted new view persists the pre-prepares it re-issues too.
void remember_persisted(std::unordered_set<MessagePtr>& persisted, const PersistRecord& record) {
  if (record.kind != PersistRecord::Kind::kSent) return;
  persisted.insert(record.message);
  if (const auto* nv = record.message->as<NewView>()) {
    for (const auto& pp : nv->pre_prepares) persisted.insert(pp);
  }
}
}  // namespace

void ReplicaChecker::restored(const std::vector<PersistRecord>& records) {
  Seq durable = 0;
  for (const auto& record : records) {
    remember_persisted(persisted_, record);
    if (record.kind == PersistRecord::Kind::kExecuted ||
        record.kind == PersistRecord::Kind::kStable)
      durable = std::max(durable, record.seq);
  }
  // A power loss may take the executed batches that were never synced (Ready::needs_sync); what
  // the records hold may not be lost.
  executed_ = std::min(executed_, durable);
}

std::optional<std::string> ReplicaChecker::after_step(const Replica& replica, const Ready& ready) {
  if (auto broken = replica.invariant_violation()) return broken;
  for (const auto& record : ready.persist) remember_persisted(persisted_, record);
  for (const auto& out : ready.messages) {
    const auto& m = *out.message;
    if (m.sender == replica.id() && binds_sender(m) && !persisted_.contains(out.message)) {
      return fmt::format("sent {} without persisting it first", describe(m));
    }
  }
  if (seen_) {
    if (replica.last_executed() < executed_)
      return fmt::format("last executed went back from {} to {}", executed_,
                         replica.last_executed());
    if (replica.stable_seq() < stable_)
      return fmt::format("stable checkpoint went back from {} to {}", stable_,
                         replica.stable_seq());
    if (replica.promised_view() < promised_)
      return fmt::format("promised view went back from {} to {}", promised_,
                         replica.promised_view());
    if (replica.view() < view_ && replica.voting())
      return fmt::format("view went back from {} to {} and it still votes", view_, replica.view());
  }
  seen_ = true;
  view_ = replica.view();
  promised_ = replica.promised_view();
  executed_ = replica.last_executed();
  stable_ = replica.stable_seq();
  return std::nullopt;
}

}  // namespace bftgate::bft
