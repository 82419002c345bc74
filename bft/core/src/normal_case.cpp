// Normal case: requests, batching, pre-prepare, prepare, commit and in-order execution.
#include <fmt/format.h>

#include <set>

#include "bftgate/base/seeded_bug.hpp"
#include "bftgate/core/replica.hpp"

namespace bftgate::bft {

namespace {
// Bounds what one client can make replicas hold: a Byzantine client cannot exhaust memory.
constexpr std::size_t kMaxPendingPerClient = 256;
}  // namespace

void Replica::on_request(const MessagePtr& message) {
  const auto& request = *message->as<Request>();
  auto client = message->sender;
  if (is_replica(client)) {
    refuse_request(fmt::format("request from replica identity {}", client));
    return;
  }
  if (request.request_id == 0) {
    refuse_request(fmt::format("request id 0 from client {} (ids start at 1)", client));
    return;
  }
  switch (clients_.seen(client, request.request_id)) {
    case ClientTable::Seen::kExecuted:
      // The client missed our reply: send it again.
      ready_.messages.push_back({Outbound::To::kClient, client,
                                 make_reply(*signer_, *message,
                                            Reply{client, request.request_id, view_,
                                                  *clients_.result(client, request.request_id)})});
      return;
    case ClientTable::Seen::kTooOld:
      refuse_request(
          fmt::format("request {} of client {} is older than its last {} executed requests",
                      request.request_id, client, ClientTable::kWindow));
      return;
    case ClientTable::Seen::kNew:
      break;
  }
  RequestKey key{client, request.request_id};
  if (pending_.contains(key)) return;
  std::size_t from_client = 0;
  for (auto it = pending_.lower_bound({client, 0});
       it != pending_.end() && it->first.first == client; ++it) {
    ++from_client;
  }
  if (from_client >= kMaxPendingPerClient) {
    refuse_request(
        fmt::format("client {} has {} pending requests; dropping more", client, from_client));
    return;
  }
  pending_[key] = PendingRequest{message, now_, false};
  if (!options_.batch_per_burst) maybe_propose_batches();
}

void Replica::end_of_burst() {
  maybe_propose_batches();
}

void Replica::maybe_propose_batches() {
  if (!view_active_ || !is_primary() || !voting()) return;
  for (;;) {
    if (next_seq_ < last_executed_) next_seq_ = std::max(next_seq_, last_executed_);
    if (next_seq_ - last_executed_ >= options_.max_in_flight) return;
    if (!in_window(next_seq_ + 1)) return;
    if (next_seq_ - last_executed_ >= options_.max_partial_in_flight &&
        unassigned_requests(options_.max_batch) < options_.max_batch)
      return;
    std::vector<MessagePtr> batch;
    for (auto& [key, pending] : pending_) {
      if (pending.assigned) continue;
      batch.push_back(pending.request);
      pending.assigned = true;
      if (batch.size() == options_.max_batch) break;
    }
    if (batch.empty()) return;
    PrePrepare body{view_, ++next_seq_, batch_digest_of(batch), std::move(batch)};
    auto seq = body.seq;
    auto message = make_message(*signer_, std::move(body));
    persist_sent(message);
    send_to_all(message);
    accept_pre_prepare(seq, message);
    check_prepared(seq);
  }
}

std::size_t Replica::unassigned_requests(std::size_t up_to) const {
  std::size_t count = 0;
  for (auto it = pending_.begin(); it != pending_.end() && count < up_to; ++it) {
    if (!it->second.assigned) ++count;
  }
  return count;
}

bool Replica::valid_pre_prepare(const SignedMessage& message, std::string* why) const {
  const auto* pp = message.as<PrePrepare>();
  if (pp == nullptr) {
    *why = "not a pre-prepare";
    return false;
  }
  if (batch_digest_of(pp->requests) != pp->batch_digest) {
    *why = "batch digest does not match its requests";
    return false;
  }
  std::set<RequestKey> keys;
  for (const auto& request : pp->requests) {
    const auto* r = request ? request->as<Request>() : nullptr;
    if (r == nullptr || is_replica(request->sender) || r->request_id == 0) {
      *why = "batch holds something other than a client request";
      return false;
    }
    if (!keys.insert({request->sender, r->request_id}).second) {
      *why = "batch holds a request twice";
      return false;
    }
    if (!verify_signature(*verifier_, *request)) {
      *why = fmt::format("request {} of client {} has a bad signature", r->request_id,
                         request->sender);
      return false;
    }
  }
  return true;
}

void Replica::accept_pre_prepare(Seq seq, const MessagePtr& pre_prepare) {
  auto& s = slot(seq);
  s.pre_prepare = pre_prepare;
  for (const auto& request : pre_prepare->as<PrePrepare>()->requests) {
    RequestKey key{request->sender, request->as<Request>()->request_id};
    if (clients_.seen(key.first, key.second) != ClientTable::Seen::kNew) continue;
    auto [it, inserted] = pending_.try_emplace(key, PendingRequest{request, now_, true});
    it->second.assigned = true;
  }
}

void Replica::on_pre_prepare(const MessagePtr& message) {
  const auto& pp = *message->as<PrePrepare>();
  if (!view_active_ || pp.view != view_ || !in_window(pp.seq)) return;
  if (message->sender != primary_of(view_)) {
    reject(
        fmt::format("pre-prepare for view {} from {}, not its primary", pp.view, message->sender));
    return;
  }
  std::string why;
  if (!valid_pre_prepare(*message, &why)) {
    reject(fmt::format("pre-prepare {}/{}: {}", pp.view, pp.seq, why));
    return;
  }
  auto& s = slot(pp.seq);
  if (s.pre_prepare) {
    if (s.pre_prepare->as<PrePrepare>()->batch_digest != pp.batch_digest) {
      equivocation(message->sender, fmt::format("primary {} equivocates at {}/{}", message->sender,
                                                pp.view, pp.seq));
    }
    return;
  }
  if (s.my_prepare && s.my_prepare->as<Prepare>()->view == view_ &&
      s.my_prepare->as<Prepare>()->batch_digest != pp.batch_digest) {
    // We prepared something else here before a restart: never contradict ourselves.
    reject(
        fmt::format("pre-prepare {}/{} conflicts with our own earlier prepare", pp.view, pp.seq));
    return;
  }
  accept_pre_prepare(pp.seq, message);
  if (!voting()) return;  // it follows: executes what commits, signs nothing in this view
  if (!s.my_prepare || s.my_prepare->as<Prepare>()->view != view_) {
    auto prepare = make_message(*signer_, Prepare{view_, pp.seq, pp.batch_digest});
    persist_sent(prepare);
    send_to_all(prepare);
    s.my_prepare = prepare;
  }
  s.prepares.emplace(self_, s.my_prepare);
  check_prepared(pp.seq);
}

void Replica::on_prepare(const MessagePtr& message) {
  const auto& p = *message->as<Prepare>();
  bool stale_ok = seeded_bug("stale-view-prepare") && p.view < view_;
  if (!view_active_ || (p.view != view_ && !stale_ok) || !in_window(p.seq)) return;
  if (message->sender == primary_of(view_)) return;  // the pre-prepare is the primary's vote
  auto& s = slot(p.seq);
  auto [it, inserted] = s.prepares.emplace(message->sender, message);
  if (!inserted && it->second->as<Prepare>()->batch_digest != p.batch_digest) {
    equivocation(message->sender, fmt::format("replica {} equivocates in prepares at {}/{}",
                                              message->sender, p.view, p.seq));
  }
  check_prepared(p.seq);
}

void Replica::on_commit(const MessagePtr& message) {
  const auto& c = *message->as<Commit>();
  if (!view_active_ || c.view != view_ || !in_window(c.seq)) return;
  auto& s = slot(c.seq);
  auto [it, inserted] = s.commits.emplace(message->sender, message);
  if (!inserted && it->second->as<Commit>()->batch_digest != c.batch_digest) {
    equivocation(message->sender, fmt::format("replica {} equivocates in commits at {}/{}",
                                              message->sender, c.view, c.seq));
  }
  check_committed(c.seq);
}

// A prepare or commit of this view for a slot whose quorum of that phase is complete here, for
// the digest it completed with. One naming another digest is not late: verified, it may be
// evidence of equivocation.
bool Replica::is_late_vote(const SignedMessage& message) const {
  if (!view_active_ || message.sender == self_ || !is_replica(message.sender)) return false;
  if (const auto* p = message.as<Prepare>()) {
    auto it = slots_.find(p->seq);
    if (p->view != view_ || it == slots_.end()) return false;
    const auto& s = it->second;
    return s.pre_prepare && s.my_commit && s.my_commit->as<Commit>()->view == view_ &&
           s.pre_prepare->as<PrePrepare>()->batch_digest == p->batch_digest;
  }
  if (const auto* c = message.as<Commit>()) {
    auto it = slots_.find(c->seq);
    if (c->view != view_ || it == slots_.end() || !it->second.commit_proof) return false;
    return it->second.commit_proof->pre_prepare->as<PrePrepare>()->batch_digest == c->batch_digest;
  }
  return false;
}

void Replica::check_prepared(Seq seq) {
  auto& s = slot(seq);
  if (!voting() || !s.pre_prepare || (s.my_commit && s.my_commit->as<Commit>()->view == view_))
    return;
  const auto& digest = s.pre_prepare->as<PrePrepare>()->batch_digest;
  if (matching(s.prepares, view_, digest) + 1 < options_.quorum) return;

  PreparedProof proof{s.pre_prepare, {}};
  for (const auto& [sender, prepare] : s.prepares) {
    const auto& p = *prepare->as<Prepare>();
    if (p.view == view_ && p.batch_digest == digest) proof.prepares.push_back(prepare);
  }
  s.prepared_proof = proof;
  PersistRecord record;
  record.kind = PersistRecord::Kind::kPrepared;
  record.prepared = std::move(proof);
  ready_.persist.push_back(std::move(record));

  auto commit = make_message(*signer_, Commit{view_, seq, digest});
  persist_sent(commit);
  send_to_all(commit);
  s.my_commit = commit;
  s.commits.emplace(self_, commit);
  check_committed(seq);
}

void Replica::check_committed(Seq seq) {
  auto& s = slot(seq);
  if (s.commit_proof || !s.pre_prepare) return;
  const auto& digest = s.pre_prepare->as<PrePrepare>()->batch_digest;
  // A quorum of commits means at least f+1 honest replicas prepared this batch in this view, so
  // no other batch can be committed at seq in any view: it is safe to execute.
  if (matching(s.commits, view_, digest) < options_.quorum) return;
  CommitProof proof{s.pre_prepare, {}};
  for (const auto& [sender, commit] : s.commits) {
    const auto& c = *commit->as<Commit>();
    if (c.view == view_ && c.batch_digest == digest) proof.commits.push_back(commit);
  }
  s.commit_proof = std::move(proof);
  ready_.events.push_back({ReplicaEvent::Kind::kCommitted, view_, seq, {}, {}});
  execute_ready_batches();
}

void Replica::execute_ready_batches() {
  for (;;) {
    auto it = slots_.find(last_executed_ + 1);
    if (it == slots_.end() || !it->second.commit_proof) break;
    execute_batch(it->first, it->second.commit_proof->pre_prepare, /*recovering=*/false);
  }
  maybe_propose_batches();
}

void Replica::execute_batch(Seq seq, const MessagePtr& pre_prepare, bool recovering) {
  const auto& pp = *pre_prepare->as<PrePrepare>();
  for (const auto& request : pp.requests) {
    const auto& r = *request->as<Request>();
    auto client = request->sender;
    pending_.erase({client, r.request_id});
    if (clients_.seen(client, r.request_id) != ClientTable::Seen::kNew) continue;  // a duplicate
    auto result = app_.apply(client, r.operation);
    if (!recovering) {
      ready_.messages.push_back(
          {Outbound::To::kClient, client,
           make_reply(*signer_, *request, Reply{client, r.request_id, view_, result})});
    }
    clients_.record(client, r.request_id, std::move(result));
  }
  last_executed_ = seq;
  executed_[seq] = pre_prepare;
  if (!recovering) {
    ready_.committed.push_back({seq, pp.view, pp.batch_digest, pp.requests});
    PersistRecord record;
    record.kind = PersistRecord::Kind::kExecuted;
    record.seq = seq;
    record.message = pre_prepare;
    ready_.persist.push_back(std::move(record));
    last_progress_ = now_;
    view_change_attempts_ = 0;
  }
  if (seq % options_.checkpoint_interval == 0) take_checkpoint(seq, /*announce=*/!recovering);
}

}  // namespace bftgate::bft
