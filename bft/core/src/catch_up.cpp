// Getting back in step: periodic status, retransmission of this replica's unfinished messages,
// and catch-up (state transfer) for a replica that lost messages, restarted or fell behind the
// low watermark. Everything a catch-up carries is self-verifying (checkpoint and commit proofs),
// so one honest responder suffices and a Byzantine one cannot mislead.
#include <fmt/format.h>

#include <algorithm>

#include "bftgate/base/seeded_bug.hpp"
#include "bftgate/core/replica.hpp"

namespace bftgate::bft {

void Replica::send_status() {
  send_to_all(
      make_message(*signer_, ReplicaStatus{view_, view_active_, last_executed_, stable_.seq}));
}

bool Replica::idle() const {
  return view_active_ && pending_.empty() && slots_.upper_bound(last_executed_) == slots_.end() &&
         (!my_latest_checkpoint_ || my_latest_checkpoint_->as<Checkpoint>()->seq <= stable_.seq);
}

void Replica::retransmit() {
  bool behind = std::any_of(peer_views_.begin(), peer_views_.end(), [this](const auto& peer) {
    return peer.second.executed > last_executed_;
  });
  // An idle replica reports less often: status is how laggards are found, not a heartbeat. One
  // that peers report ahead of it is not idle but lagging (it may have missed everything since,
  // e.g. after a partition): its status is its request for catch-up.
  constexpr int kIdleStatusFactor = 8;
  if (!idle() || behind ||
      now_ - last_status_ >= options_.retransmit_interval * kIdleStatusFactor) {
    last_status_ = now_;
    send_status();
  }
  if (view_active_ && !is_primary() && !behind) {
    // A request only this backup holds (the client stopped retrying, or the primary was down
    // when it was sent) would otherwise wait for a view change: relay it to the primary. Not
    // while peers are ahead: then it is this replica that lags, and catch-up brings the rest.
    std::size_t relayed = 0;
    for (const auto& [key, pending] : pending_) {
      if (pending.assigned || now_ - pending.arrived < options_.retransmit_interval) continue;
      send_to(primary_of(view_), pending.request);
      if (++relayed == options_.max_batch) break;
    }
  }
  if (view_active_) {
    for (auto it = slots_.upper_bound(last_executed_); it != slots_.end(); ++it) {
      const auto& s = it->second;
      if (s.pre_prepare && s.pre_prepare->sender == self_) send_to_all(s.pre_prepare);
      if (s.my_prepare && s.my_prepare->as<Prepare>()->view == view_) send_to_all(s.my_prepare);
      if (s.my_commit && s.my_commit->as<Commit>()->view == view_) send_to_all(s.my_commit);
    }
  } else if (my_view_change_ && my_view_change_->as<ViewChange>()->new_view == view_) {
    send_to_all(my_view_change_);
  }
  if (my_latest_checkpoint_ && my_latest_checkpoint_->as<Checkpoint>()->seq > stable_.seq) {
    send_to_all(my_latest_checkpoint_);
  }
}

void Replica::on_status(const MessagePtr& message) {
  const auto& status = *message->as<ReplicaStatus>();
  auto peer = message->sender;
  // Each peer's view as of its furthest execution: a replayed older status does not move it back,
  // while a peer that returned to a lower view (maybe_return_to_peers_view) is followed.
  auto& known = peer_views_[peer];
  if (status.last_executed >= known.executed)
    known = {status.view, status.view_active, status.last_executed};
  // A status behind ours is answered even when it is lower than what this peer reported before:
  // a replica that lost its log (--recover-from-peers) starts again from nothing. Answers are
  // rate-limited per peer, so a replayed old status costs at most one catch-up per interval.
  bool behind = status.last_executed < last_executed_;
  bool needs_new_view = view_active_ && new_view_message_ &&
                        (status.view < view_ || (status.view == view_ && !status.view_active));
  if (!behind && !needs_new_view) return;
  auto last = last_catch_up_sent_.find(peer);
  if (last != last_catch_up_sent_.end() && now_ - last->second < options_.retransmit_interval / 2)
    return;

  CatchUp body;
  Seq from = status.last_executed;
  if (status.last_executed < stable_.seq) {
    body.snapshot_seq = stable_.seq;
    body.snapshot = stable_.snapshot;
    body.checkpoint_proof = stable_.proof;
    from = stable_.seq;
  }
  for (auto it = slots_.upper_bound(from); it != slots_.end() && it->first <= last_executed_;
       ++it) {
    if (it->second.commit_proof) body.committed.push_back(*it->second.commit_proof);
  }
  if (needs_new_view) body.new_view = new_view_message_;
  if (!body.snapshot_seq && body.committed.empty() && !body.new_view) return;
  last_catch_up_sent_[peer] = now_;
  send_to(peer, make_message(*signer_, std::move(body)));
}

bool Replica::valid_commit_proof(const CommitProof& proof, std::string* why) const {
  const auto* pp = proof.pre_prepare ? proof.pre_prepare->as<PrePrepare>() : nullptr;
  if (pp == nullptr || proof.pre_prepare->sender != primary_of(pp->view) ||
      !verify_signature(*verifier_, *proof.pre_prepare) ||
      !valid_pre_prepare(*proof.pre_prepare, why)) {
    *why = "commit proof without a valid pre-prepare from its view's primary";
    return false;
  }
  std::set<ReplicaId> signers;
  for (const auto& message : proof.commits) {
    const auto* c = message ? message->as<Commit>() : nullptr;
    if (c == nullptr || c->view != pp->view || c->seq != pp->seq ||
        c->batch_digest != pp->batch_digest || !is_replica(message->sender) ||
        !signers.insert(message->sender).second || !verify_signature(*verifier_, *message)) {
      *why = fmt::format("commit proof for {} holds an invalid commit", pp->seq);
      return false;
    }
  }
  if (signers.size() < options_.quorum) {
    *why = fmt::format("commit proof for {} has {} commits, {} needed", pp->seq, signers.size(),
                       options_.quorum);
    return false;
  }
  return true;
}

void Replica::on_catch_up(const MessagePtr& message) {
  const auto& body = *message->as<CatchUp>();
  if (body.new_view && is_replica(body.new_view->sender) && body.new_view->as<NewView>() &&
      verify_signature(*verifier_, *body.new_view)) {
    on_new_view(body.new_view);
  }
  if (body.snapshot_seq && *body.snapshot_seq > last_executed_) {
    Digest digest;
    if (!valid_checkpoint_proof(*body.snapshot_seq, body.checkpoint_proof, &digest) ||
        (snapshot_digest(body.snapshot) != digest && !seeded_bug("unverified-snapshot"))) {
      reject(fmt::format("catch-up from {}: snapshot at {} does not match its checkpoint proof",
                         message->sender, *body.snapshot_seq));
      return;
    }
    if (auto status = install_snapshot(body.snapshot); !status) {
      reject(fmt::format("catch-up from {}: {}", message->sender, status.error().message));
      return;
    }
    auto seq = *body.snapshot_seq;
    last_executed_ = seq;
    for (auto it = pending_.begin(); it != pending_.end();) {
      bool done = clients_.seen(it->first.first, it->first.second) != ClientTable::Seen::kNew;
      it = done ? pending_.erase(it) : std::next(it);
    }
    ready_.events.push_back({ReplicaEvent::Kind::kStateTransferred, view_, seq, {}});
    make_stable(seq, digest, body.snapshot,
                body.checkpoint_proof);  // persists it and collects the log
    last_progress_ = now_;
  }
  std::string why;
  for (const auto& proof : body.committed) {
    const auto* pp = proof.pre_prepare ? proof.pre_prepare->as<PrePrepare>() : nullptr;
    // Below the low watermark only a snapshot helps: a new view may have moved the window past
    // what this replica executed (it waits for the checkpoint's state), and no slot lives there.
    if (pp == nullptr || pp->seq <= std::max(last_executed_, low_) ||
        pp->seq > low_ + options_.watermark_window) {
      continue;
    }
    if (!valid_commit_proof(proof, &why)) {
      reject(fmt::format("catch-up from {}: {}", message->sender, why));
      return;
    }
    auto& s = slot(pp->seq);
    if (!s.commit_proof) s.commit_proof = proof;
  }
  execute_ready_batches();
}

}  // namespace bftgate::bft
