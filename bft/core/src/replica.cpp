// Dispatch, timers and outputs of the replica.
#include "bftgate/core/replica.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <set>
#include <tuple>

#include "bftgate/base/seeded_bug.hpp"

namespace bftgate::bft {

Replica::Replica(ReplicaOptions options, std::shared_ptr<const Signer> signer,
                 std::shared_ptr<const Verifier> verifier, StateMachine& app)
    : options_(std::move(options)),
      replicas_(options_.replicas),
      self_(signer->id()),
      signer_(bind_epoch(std::move(signer), options_.epoch)),
      verifier_(bind_epoch(std::move(verifier), options_.epoch)),
      app_(app) {
  std::sort(replicas_.begin(), replicas_.end());
  if (replicas_.empty() || !std::binary_search(replicas_.begin(), replicas_.end(), self_)) {
    throw std::invalid_argument("replica id is not in the replica set");
  }
  if (options_.quorum == 0 || options_.quorum > replicas_.size())
    throw std::invalid_argument("bad quorum size");
  if (options_.checkpoint_interval == 0 ||
      options_.watermark_window < options_.checkpoint_interval ||
      options_.watermark_window % options_.checkpoint_interval != 0) {
    throw std::invalid_argument(
        "watermark window must be a positive multiple of the checkpoint interval");
  }
  if (options_.max_batch == 0 || options_.max_in_flight == 0)
    throw std::invalid_argument("bad batching options");
  std::tie(stable_.snapshot, stable_.digest) = replica_snapshot();
}

bool Replica::is_replica(PrincipalId id) const {
  return std::binary_search(replicas_.begin(), replicas_.end(), id);
}

void Replica::reject(std::string detail) {
  ready_.events.push_back({ReplicaEvent::Kind::kRejected, view_, 0, std::move(detail)});
}

void Replica::refuse_request(std::string detail) {
  ready_.events.push_back(
      {ReplicaEvent::Kind::kRejected, view_, 0, std::move(detail), {}, 0, true});
}

void Replica::equivocation(ReplicaId peer, std::string detail) {
  ready_.events.push_back(
      {ReplicaEvent::Kind::kEquivocation, view_, 0, std::move(detail), {}, peer});
}

void Replica::send_to_all(const MessagePtr& message) {
  ready_.messages.push_back({Outbound::To::kAllReplicas, 0, message});
}

void Replica::send_to(ReplicaId replica, const MessagePtr& message) {
  ready_.messages.push_back({Outbound::To::kReplica, replica, message});
}

void Replica::persist_sent(const MessagePtr& message) {
  PersistRecord record;
  record.kind = PersistRecord::Kind::kSent;
  record.message = message;
  if constexpr (seeded_bug("persist-after-send")) {
    deferred_persist_.push_back(std::move(record));  // written with the next Ready
    return;
  }
  ready_.persist.push_back(std::move(record));
}

void Replica::persist_view() {
  PersistRecord record;
  record.kind = PersistRecord::Kind::kView;
  record.view = view_;
  record.view_active = view_active_;
  ready_.persist.push_back(std::move(record));
}

void Replica::step(const MessagePtr& message) {
  if (!message) return;
  // Checking a signature is the costliest step; a vote that can change nothing is not worth it.
  if (is_late_vote(*message)) {
    ++skipped_verifications_;
    return;
  }
  if (!verify_signature(*verifier_, *message)) {
    reject(fmt::format("{} from {}: bad signature", to_string(message->type()), message->sender));
    return;
  }
  // Only replicas speak the protocol; clients only send requests.
  if (message->type() != MessageType::kRequest &&
      (!is_replica(message->sender) || message->sender == self_)) {
    if (message->sender != self_)
      reject(fmt::format("{} from non-replica {}", to_string(message->type()), message->sender));
    return;
  }
  switch (message->type()) {
    case MessageType::kRequest:
      on_request(message);
      break;
    case MessageType::kPrePrepare:
      on_pre_prepare(message);
      break;
    case MessageType::kPrepare:
      on_prepare(message);
      break;
    case MessageType::kCommit:
      on_commit(message);
      break;
    case MessageType::kCheckpoint:
      on_checkpoint(message);
      break;
    case MessageType::kViewChange:
      on_view_change(message);
      break;
    case MessageType::kNewView:
      on_new_view(message);
      break;
    case MessageType::kStatus:
      on_status(message);
      break;
    case MessageType::kCatchUp:
      on_catch_up(message);
      break;
    case MessageType::kReply:
      break;  // replies are for clients
  }
}

void Replica::tick(Time now) {
  now_ = std::max(now_, now);
  if (view_active_) {
    maybe_propose_batches();
    // A request waiting this long means the primary is faulty or cut off: change views.
    if (!pending_.empty()) {
      Time oldest = now_;
      for (const auto& [key, pending] : pending_) oldest = std::min(oldest, pending.arrived);
      Time since = std::max(oldest, last_progress_);
      if (now_ - since >= options_.view_change_timeout) start_view_change(view_ + 1);
    }
  } else {
    // The view change stalled. With a quorum asking for this view or a later one (each replica
    // counted once), its primary is faulty or cut off, or the quorum is split over views (a
    // replica that timed out alone while cut off is ahead): try the next one, waiting twice as
    // long each time so that honest replicas eventually overlap (the doubling stops at 8x, so
    // replicas cut off for long do not sit out minutes once healed). Without such a quorum, a
    // higher view would not gather one either (PBFT moves on only after 2f+1 view changes): if
    // f+1 peers are active in a view, go back to it; otherwise keep asking (retransmission)
    // until peers join or answer.
    auto timeout = options_.view_change_timeout * (1 << std::min(view_change_attempts_, 3u));
    if (now_ - view_change_started_ >= timeout) {
      std::set<ReplicaId> asking;
      for (auto it = view_changes_.lower_bound(view_); it != view_changes_.end(); ++it) {
        for (const auto& [sender, message] : it->second) asking.insert(sender);
      }
      if (asking.size() >= options_.quorum) {
        start_view_change(view_ + 1);
      } else {
        maybe_return_to_peers_view();
      }
    }
  }
  if (now_ - last_retransmit_ >= options_.retransmit_interval) {
    last_retransmit_ = now_;
    retransmit();
  }
}

bool Ready::needs_sync() const {
  return std::any_of(persist.begin(), persist.end(), [](const PersistRecord& record) {
    return record.kind != PersistRecord::Kind::kExecuted;
  });
}

bool binds_sender(const SignedMessage& message) {
  switch (message.type()) {
    case MessageType::kPrePrepare:
    case MessageType::kPrepare:
    case MessageType::kCommit:
    case MessageType::kCheckpoint:
    case MessageType::kViewChange:
    case MessageType::kNewView:
      return true;
    default:
      return false;
  }
}

Ready Replica::take_ready() {
  Ready out;
  take_ready(out);
  return out;
}

void Replica::take_ready(Ready& into) {
  into.clear();
  std::swap(into, ready_);
  if constexpr (seeded_bug("persist-after-send")) ready_.persist = std::move(deferred_persist_);
  deferred_persist_.clear();
}

std::size_t Replica::matching(const Votes& votes, View view, const Digest& digest) const {
  std::size_t count = 0;
  for (const auto& [sender, message] : votes) {
    if (const auto* p = message->as<Prepare>()) {
      bool view_ok = p->view == view || (seeded_bug("stale-view-prepare") && p->view < view);
      if (view_ok && p->batch_digest == digest) ++count;
    } else if (const auto* c = message->as<Commit>()) {
      if (c->view == view && c->batch_digest == digest) ++count;
    }
  }
  return count;
}

}  // namespace bftgate::bft
