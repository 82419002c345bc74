// The replica's invariants over its own state, checked after every step by the drivers that can
// afford it (the simulator, the fake-network tests): a broken one names itself at the step that
// broke it instead of surfacing later as a disagreement.
#include <fmt/format.h>

#include <algorithm>

#include "bftgate/core/replica.hpp"
#include "bftgate/core/replica_checker.hpp"

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
  // An ordered map: its first and last keys bound the others.
  if (!slots_.empty() && (slots_.begin()->first <= low_ || slots_.rbegin()->first > high)) {
    auto outside = slots_.begin()->first <= low_ ? slots_.begin()->first : slots_.rbegin()->first;
    return fmt::format("slot {} outside the window ({}, {}]", outside, low_, high);
  }
  // The sequence number a slot's message names: 0 for a message of another kind.
  const auto seq_of = [](const SignedMessage& m) -> Seq {
    if (const auto* pp = m.as<PrePrepare>()) return pp->seq;
    if (const auto* p = m.as<Prepare>()) return p->seq;
    if (const auto* c = m.as<Commit>()) return c->seq;
    return 0;
  };
  for (const auto& [seq, s] : slots_) {
    // While a view change is under way the old view's pre-prepares stay until the new view.
    auto pp_view = view_;
    if (s.pre_prepare) {
      const auto* pp = s.pre_prepare->as<PrePrepare>();
      if (pp == nullptr || pp->seq != seq)
        return fmt::format("slot {} holds a message for {}", seq, seq_of(*s.pre_prepare));
      pp_view = pp->view;
    }
    for (const auto* mine : {&s.my_prepare, &s.my_commit}) {
      if (!*mine) continue;
      if (seq_of(**mine) != seq)
        return fmt::format("slot {} holds a message for {}", seq, seq_of(**mine));
      if ((*mine)->sender != self_)
        return fmt::format("slot {}: its own {} is signed by {}", seq,
                           mine == &s.my_prepare ? "prepare" : "commit", (*mine)->sender);
    }
    if (pp_view > view_ || (view_active_ && pp_view != view_)) {
      return fmt::format("slot {} holds a pre-prepare of view {} in view {}{}", seq, pp_view, view_,
                         view_active_ ? "" : " (changing)");
    }
  }
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
