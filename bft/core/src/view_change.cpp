// View change and new view (PBFT with signatures): a replica that sees no progress on a pending
// request asks for the next view; the next primary gathers a quorum of view changes and re-issues
// every request that may have committed, so no committed request is lost or changed.
#include <fmt/format.h>

#include <algorithm>

#include "bftgate/base/seeded_bug.hpp"
#include "bftgate/core/replica.hpp"

namespace bftgate::bft {

void Replica::start_view_change(View new_view) {
  if (new_view < view_ || (new_view == view_ && !view_active_)) return;
  view_ = new_view;
  view_active_ = false;
  view_change_started_ = now_;
  ++view_change_attempts_;
  bool promises_more = new_view > promised_view_;
  promised_view_ = std::max(promised_view_, new_view);
  for (auto& [key, pending] : pending_) pending.assigned = false;

  ViewChange body;
  body.new_view = new_view;
  body.stable_seq = stable_.seq;
  body.checkpoint_proof = stable_.proof;
  for (const auto& [seq, s] : slots_) {
    if (seq > stable_.seq && s.prepared_proof) body.prepared.push_back(*s.prepared_proof);
  }
  auto message = make_message(*signer_, std::move(body));
  persist_view();
  persist_sent(message);
  send_to_all(message);
  my_view_change_ = message;
  if (promises_more) my_highest_view_change_ = message;
  view_changes_[new_view][self_] = message;
  ready_.events.push_back({ReplicaEvent::Kind::kViewChangeStarted, new_view, last_executed_, {}});
  maybe_make_new_view();
}

bool Replica::valid_prepared_proof(const PreparedProof& proof, View before_view,
                                   std::string* why) const {
  const auto* pp = proof.pre_prepare ? proof.pre_prepare->as<PrePrepare>() : nullptr;
  if (pp == nullptr || pp->view >= before_view ||
      proof.pre_prepare->sender != primary_of(pp->view)) {
    *why = "prepared proof without a pre-prepare from its view's primary";
    return false;
  }
  if (!verify_signature(*verifier_, *proof.pre_prepare) ||
      !valid_pre_prepare(*proof.pre_prepare, why)) {
    if (why->empty()) *why = "prepared proof with a bad pre-prepare signature";
    return false;
  }
  std::set<ReplicaId> signers;
  for (const auto& message : proof.prepares) {
    const auto* p = message ? message->as<Prepare>() : nullptr;
    if (p == nullptr || p->view != pp->view || p->seq != pp->seq ||
        p->batch_digest != pp->batch_digest || !is_replica(message->sender) ||
        message->sender == primary_of(pp->view) || !signers.insert(message->sender).second ||
        !verify_signature(*verifier_, *message)) {
      *why = fmt::format("prepared proof for {} holds an invalid prepare", pp->seq);
      return false;
    }
  }
  if (signers.size() + 1 < options_.quorum) {
    *why = fmt::format("prepared proof for {} has {} prepares, {} needed", pp->seq, signers.size(),
                       options_.quorum - 1);
    return false;
  }
  return true;
}

bool Replica::valid_view_change(const SignedMessage& message, std::string* why) const {
  const auto& vc = *message.as<ViewChange>();
  Digest digest;
  if (vc.new_view == 0 || !valid_checkpoint_proof(vc.stable_seq, vc.checkpoint_proof, &digest)) {
    *why = fmt::format("view change from {}: invalid checkpoint proof for {}", message.sender,
                       vc.stable_seq);
    return false;
  }
  std::set<Seq> seqs;
  for (const auto& proof : vc.prepared) {
    if (!valid_prepared_proof(proof, vc.new_view, why)) return false;
    auto seq = proof.pre_prepare->as<PrePrepare>()->seq;
    if (seq <= vc.stable_seq || seq > vc.stable_seq + options_.watermark_window ||
        !seqs.insert(seq).second) {
      *why = fmt::format("view change from {}: prepared proof at {} outside its window",
                         message.sender, seq);
      return false;
    }
  }
  return true;
}

void Replica::on_view_change(const MessagePtr& message) {
  const auto& vc = *message->as<ViewChange>();
  if (vc.new_view < view_ || (vc.new_view == view_ && view_active_)) {
    // The sender is behind: if we are in that view already, hand it the NewView that started it.
    if (vc.new_view == view_ && view_active_ && new_view_message_)
      send_to(message->sender, new_view_message_);
    return;
  }
  std::string why;
  if (!valid_view_change(*message, &why)) {
    reject(why);
    return;
  }
  view_changes_[vc.new_view].emplace(message->sender, message);
  maybe_join_higher_view();
  maybe_make_new_view();
}

void Replica::maybe_join_higher_view() {
  // f+1 replicas asking for higher views include an honest one: join the lowest such view
  // rather than wait for our own timer (PBFT's liveness rule).
  std::map<ReplicaId, View> highest;
  for (const auto& [view, senders] : view_changes_) {
    if (view <= view_ || (view == view_ && !view_active_)) continue;
    for (const auto& [sender, message] : senders) {
      if (sender != self_) highest[sender] = std::max(highest[sender], view);
    }
  }
  if (highest.size() < std::size_t{options_.f} + 1) return;
  std::vector<View> views;
  for (const auto& [sender, view] : highest) views.push_back(view);
  std::sort(views.begin(), views.end());
  start_view_change(views.front());
}

std::vector<PrePrepare> Replica::new_view_pre_prepares(
    View view, const std::vector<MessagePtr>& view_changes) const {
  Seq min_s = 0;
  Seq max_s = 0;
  std::map<Seq, const PrePrepare*> chosen;  // per seq, the prepared pre-prepare of the highest view
  for (const auto& message : view_changes) {
    const auto& vc = *message->as<ViewChange>();
    min_s = std::max(min_s, vc.stable_seq);
    for (const auto& proof : vc.prepared) {
      const auto* pp = proof.pre_prepare->as<PrePrepare>();
      auto& best = chosen[pp->seq];
      if (best == nullptr || pp->view > best->view) best = pp;
      max_s = std::max(max_s, pp->seq);
    }
  }
  std::vector<PrePrepare> out;
  for (Seq seq = min_s + 1; seq <= max_s; ++seq) {
    auto it = chosen.find(seq);
    if (it != chosen.end()) {
      out.push_back({view, seq, it->second->batch_digest, it->second->requests});
    } else {
      out.push_back({view, seq, batch_digest_of({}), {}});  // a null request fills the gap
    }
  }
  return out;
}

bool Replica::maybe_return_to_peers_view() {
  // The highest view below ours that at least f+1 peers (so one honest) report being active in.
  std::map<View, std::size_t, std::greater<>> active;
  for (const auto& [peer, state] : peer_views_) {
    if (state.active && state.view < view_) ++active[state.view];
  }
  for (const auto& [view, count] : active) {
    if (count < std::size_t{options_.f} + 1) continue;
    // Our view change stays signed and may yet count towards that view: promised_view_ keeps
    // this replica from voting below it, so what that view change reported stays true.
    view_ = view;
    view_active_ = true;
    new_view_message_ = nullptr;
    last_progress_ = now_;
    view_change_attempts_ = 0;
    persist_view();
    for (auto& [seq, s] : slots_) {
      if (s.pre_prepare && s.pre_prepare->as<PrePrepare>()->view != view_) s.pre_prepare = nullptr;
      s.prepares.clear();
      s.commits.clear();
    }
    for (auto& [key, pending] : pending_) pending.assigned = false;
    ready_.events.push_back({ReplicaEvent::Kind::kReturnedToView, view_, last_executed_, {}});
    send_status();
    return true;
  }
  return false;
}

void Replica::maybe_make_new_view() {
  // A replica that promised a higher view cannot pre-prepare in this one (see voting()).
  if (view_active_ || primary_of(view_) != self_ || view_ < promised_view_) return;
  const auto& received = view_changes_[view_];
  if (received.size() < options_.quorum || !received.contains(self_)) return;
  std::vector<MessagePtr> chosen;
  chosen.push_back(received.at(self_));
  for (const auto& [sender, message] : received) {
    if (chosen.size() == options_.quorum) break;
    if (sender != self_) chosen.push_back(message);
  }
  NewView body{view_, chosen, {}};
  for (auto& pp : new_view_pre_prepares(view_, chosen))
    body.pre_prepares.push_back(make_message(*signer_, std::move(pp)));
  auto message = make_message(*signer_, std::move(body));
  persist_sent(message);
  send_to_all(message);
  enter_new_view(message);
}

void Replica::on_new_view(const MessagePtr& message) {
  const auto& nv = *message->as<NewView>();
  if (nv.view < view_ || (nv.view == view_ && view_active_) || nv.view == 0) return;
  auto fail_with = [&](std::string why) {
    reject(fmt::format("new view {} from {}: {}", nv.view, message->sender, why));
  };
  if (message->sender != primary_of(nv.view)) return fail_with("not the primary of that view");
  std::set<ReplicaId> senders;
  std::string why;
  for (const auto& vc : nv.view_changes) {
    const auto* body = vc ? vc->as<ViewChange>() : nullptr;
    if (body == nullptr || body->new_view != nv.view || !is_replica(vc->sender) ||
        !senders.insert(vc->sender).second || !verify_signature(*verifier_, *vc) ||
        !valid_view_change(*vc, &why)) {
      return fail_with("invalid or duplicate view change inside: " + why);
    }
  }
  if (senders.size() < options_.quorum) return fail_with("fewer view changes than a quorum");
  auto expected = new_view_pre_prepares(nv.view, nv.view_changes);
  if constexpr (seeded_bug("new-view-without-proofs")) return enter_new_view(message);
  if (expected.size() != nv.pre_prepares.size())
    return fail_with("wrong number of re-issued pre-prepares");
  for (std::size_t i = 0; i < expected.size(); ++i) {
    const auto& m = nv.pre_prepares[i];
    const auto* pp = m ? m->as<PrePrepare>() : nullptr;
    if (pp == nullptr || m->sender != message->sender || pp->view != nv.view ||
        pp->seq != expected[i].seq || pp->batch_digest != expected[i].batch_digest ||
        !verify_signature(*verifier_, *m) || !valid_pre_prepare(*m, &why)) {
      return fail_with(
          fmt::format("re-issued pre-prepare {} does not follow from the view changes", i));
    }
  }
  enter_new_view(message);
}

void Replica::enter_new_view(const MessagePtr& message) {
  const auto& nv = *message->as<NewView>();
  view_ = nv.view;
  view_active_ = true;
  new_view_message_ = message;
  last_progress_ = now_;
  view_changes_.erase(view_changes_.begin(), view_changes_.upper_bound(view_));
  persist_view();

  Seq min_s = 0;
  for (const auto& vc : nv.view_changes) min_s = std::max(min_s, vc->as<ViewChange>()->stable_seq);
  if (min_s > low_) {
    // The new view starts after a checkpoint we lack: execution waits for a catch-up with it.
    low_ = min_s;
    slots_.erase(slots_.begin(), slots_.upper_bound(low_));
    checkpoint_votes_.erase(checkpoint_votes_.begin(), checkpoint_votes_.upper_bound(low_));
    if (last_executed_ < low_) send_status();
  }
  for (auto& [seq, s] : slots_) {
    s.pre_prepare = nullptr;
    s.prepares.clear();
    s.commits.clear();
  }
  for (auto& [key, pending] : pending_) pending.assigned = false;

  Seq max_s = low_;
  for (const auto& pp_message : nv.pre_prepares) {
    const auto& pp = *pp_message->as<PrePrepare>();
    max_s = std::max(max_s, pp.seq);
    if (pp.seq <= low_) continue;
    accept_pre_prepare(pp.seq, pp_message);
    auto& s = slot(pp.seq);
    if (!is_primary() && voting()) {
      auto prepare = make_message(*signer_, Prepare{view_, pp.seq, pp.batch_digest});
      persist_sent(prepare);
      send_to_all(prepare);
      s.my_prepare = prepare;
      s.prepares.emplace(self_, prepare);
    }
  }
  if (is_primary()) next_seq_ = std::max(max_s, last_executed_);
  ready_.events.push_back({ReplicaEvent::Kind::kNewViewEntered, view_, last_executed_, {}});
  for (const auto& pp_message : nv.pre_prepares) {
    auto seq = pp_message->as<PrePrepare>()->seq;
    if (seq > low_) check_prepared(seq);
  }
  execute_ready_batches();
}

}  // namespace bftgate::bft
