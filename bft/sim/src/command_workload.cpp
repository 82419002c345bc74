#include "bftgate/sim/command_workload.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <deque>
#include <map>
#include <queue>
#include <set>

#include "bftgate/core/replica.hpp"
#include "bftgate/core/replica_checker.hpp"
#include "bftgate/sim/mac_signer.hpp"

namespace bftgate::sim {

namespace {

using bft::MessagePtr;
using bft::Outbound;

constexpr bft::PrincipalId kClient = 0x1000'0000u;

Time at_seconds(double s) {
  return Time(static_cast<std::int64_t>(s * 1e6));
}
double seconds_of(Time t) {
  return static_cast<double>(t.count()) / 1e6;
}
Duration microseconds(double us) {
  return Duration(static_cast<std::int64_t>(us));
}

// The replicated application: `keys` keys, each holding the last value written and how often it
// was written. An operation is a 4-byte key index followed by the value.
class KeyValueStore final : public bft::StateMachine {
 public:
  explicit KeyValueStore(std::uint32_t keys) : keys_(keys) {}

  Bytes apply(std::uint32_t client, ByteView operation) override {
    (void)client;
    if (operation.size() < 4) return {0};
    std::uint32_t key = 0;
    for (std::size_t i = 0; i < 4; ++i) key |= static_cast<std::uint32_t>(operation[i]) << (8 * i);
    if (key >= keys_) return {0};
    auto& slot = values_[key];
    slot.first.assign(operation.begin() + 4, operation.end());
    ++slot.second;
    return {1};
  }

  Bytes snapshot() const override {
    Bytes out;
    for (const auto& [key, value] : values_) {
      append_u64(out, key);
      append_u64(out, value.second);
      append_u64(out, value.first.size());
      out.insert(out.end(), value.first.begin(), value.first.end());
    }
    return out;
  }

  Status restore(ByteView snapshot) override {
    std::map<std::uint32_t, std::pair<Bytes, std::uint64_t>> values;
    std::size_t at = 0;
    const auto u64 = [&](std::uint64_t* v) {
      if (snapshot.size() - at < 8) return false;
      *v = 0;
      for (std::size_t i = 0; i < 8; ++i)
        *v |= static_cast<std::uint64_t>(snapshot[at + i]) << (8 * i);
      at += 8;
      return true;
    };
    while (at < snapshot.size()) {
      std::uint64_t key = 0, writes = 0, size = 0;
      if (!u64(&key) || !u64(&writes) || !u64(&size) || key >= keys_ ||
          size > snapshot.size() - at) {
        return Error{"malformed key-value snapshot"};
      }
      auto begin = snapshot.begin() + static_cast<std::ptrdiff_t>(at);
      values[static_cast<std::uint32_t>(key)] = {
          Bytes(begin, begin + static_cast<std::ptrdiff_t>(size)), writes};
      at += size;
    }
    values_ = std::move(values);
    return ok_status();
  }

 private:
  static void append_u64(Bytes& out, std::uint64_t v) {
    for (int i = 0; i < 8; ++i) out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
  }
  std::uint32_t keys_;
  std::map<std::uint32_t, std::pair<Bytes, std::uint64_t>> values_;
};

// The consensus instance a message belongs to, if it is one of an instance's own messages.
std::optional<bft::Seq> instance_of(const bft::SignedMessage& message) {
  if (const auto* m = message.as<bft::PrePrepare>()) return m->seq;
  if (const auto* m = message.as<bft::Prepare>()) return m->seq;
  if (const auto* m = message.as<bft::Commit>()) return m->seq;
  return std::nullopt;
}

enum class LoopEventKind { kDeliver, kProcess, kTimer, kClientRetry };

struct LoopEvent {
  Time at;
  std::uint64_t order;
  LoopEventKind kind;
  bft::PrincipalId target;
  std::uint64_t arg;
  MessagePtr message;
  bool operator>(const LoopEvent& other) const {
    return at != other.at ? at > other.at : order > other.order;
  }
};

struct Host {
  ReplicaId id = 0;
  std::unique_ptr<KeyValueStore> app;
  std::shared_ptr<bft::CountingVerifier> verifier;
  std::unique_ptr<bft::Replica> replica;
  bft::ReplicaChecker checker;
  bool up = true;
  bool cut_off = false;
  std::deque<MessagePtr> inbox;  // null: the timer fired (a tick waits its turn in the loop)
  bool tick_queued = false;
  bool waited = false;  // a straggler has waited its delay for the message at the inbox's front
  bool process_scheduled = false;
  Time busy_until{0};
};

struct Pending {
  double submitted_s = 0;
  std::set<ReplicaId> replied;
};

class CommandSimulation {
 public:
  CommandSimulation(const CommandWorkload& w, std::uint64_t seed)
      : w_(w), rng_(seed), keyring_(std::make_shared<MacKeyring>(seed)) {
    result_.seed = seed;
    const auto n = w.replicas;
    options_.f = static_cast<std::uint32_t>((n - 1) / 3);
    options_.quorum = n - options_.f;
    for (std::size_t i = 0; i < n; ++i) options_.replicas.push_back(static_cast<ReplicaId>(i));
    options_.checkpoint_interval = w.checkpoint_interval;
    options_.watermark_window = w.watermark_window;
    options_.max_batch = w.max_batch;
    options_.max_in_flight = w.max_in_flight > 0 ? w.max_in_flight : w.pipeline;
    // As the validators batch: proposals at the end of a burst, here of one message.
    options_.batch_by_burst();
    options_.view_change_timeout = microseconds(w.view_change_timeout_ms * 1000);
    options_.retransmit_interval = microseconds(w.retransmit_ms * 1000);
    hosts_.resize(n);
    for (std::size_t i = 0; i < n; ++i) {
      auto& h = hosts_[i];
      h.id = static_cast<ReplicaId>(i);
      h.app = std::make_unique<KeyValueStore>(w.keys);
      h.verifier = std::make_shared<bft::CountingVerifier>(std::make_shared<MacVerifier>(keyring_));
      auto signer = std::make_shared<MacSigner>(h.id, keyring_->key(h.id));
      h.replica = std::make_unique<bft::Replica>(options_, signer, h.verifier, *h.app);
      h.cut_off = w.isolated && *w.isolated == h.id;
    }
    client_signer_ = std::make_shared<MacSigner>(kClient, keyring_->key(kClient));
    cores_.assign(w.cores, Time(0));
  }

  CommandRunResult run() {
    const auto tick = microseconds(w_.tick_ms * 1000);
    for (auto& h : hosts_) {
      schedule(Duration(static_cast<std::int64_t>(rng_() %
                                                  static_cast<std::uint64_t>(tick.count() + 1))),
               LoopEventKind::kTimer, h.id);
    }
    while (next_id_ <= w_.commands && pending_.size() < w_.pipeline) submit();
    const auto end = at_seconds(w_.time_limit_s);
    while (!queue_.empty() && queue_.top().at <= end && result_.violations.empty()) {
      LoopEvent e = queue_.top();
      queue_.pop();
      now_ = e.at;
      switch (e.kind) {
        case LoopEventKind::kDeliver:
          deliver(e);
          break;
        case LoopEventKind::kProcess:
          process(hosts_[e.target]);
          break;
        case LoopEventKind::kTimer:
          timer(hosts_[e.target]);
          break;
        case LoopEventKind::kClientRetry:
          retry(e.arg);
          break;
      }
      if (result_.commands.size() == w_.commands) break;
    }
    result_.completed = result_.commands.size() == w_.commands;
    result_.end_s = seconds_of(now_);
    // Each command's consensus cost: its instance's messages and its request and replies.
    for (auto& record : result_.commands) {
      auto at = executed_at_.find(record.id);
      record.seq = at == executed_at_.end() ? 0 : at->second;
      record.consensus_messages = command_messages_[record.id];
      if (auto it = instance_messages_.find(record.seq); it != instance_messages_.end())
        record.consensus_messages += it->second;
    }
    return result_;
  }

 private:
  void schedule(Time at, LoopEventKind kind, bft::PrincipalId target, std::uint64_t arg = 0,
                MessagePtr message = nullptr) {
    queue_.push(LoopEvent{at, order_++, kind, target, arg, std::move(message)});
  }

  void send(ReplicaId from, bft::PrincipalId to, const MessagePtr& message, Time leaves) {
    count_instance_message(to, *message);
    if (from != kClient && hosts_[from].cut_off) return;
    if (to != kClient && hosts_[to].cut_off) return;
    schedule(leaves + w_.latency.sample(rng_), LoopEventKind::kDeliver, to, 0, message);
  }

  void submit() {
    auto id = next_id_++;
    Bytes operation(4 + w_.value_bytes);
    auto key = static_cast<std::uint32_t>(rng_() % w_.keys);
    for (std::size_t i = 0; i < 4; ++i) operation[i] = static_cast<std::uint8_t>(key >> (8 * i));
    for (std::size_t i = 4; i < operation.size(); ++i)
      operation[i] = static_cast<std::uint8_t>(rng_());
    auto request = bft::make_message(*client_signer_, bft::Request{id, std::move(operation)});
    requests_[id] = request;
    pending_[id].submitted_s = seconds_of(now_);
    // To the primary of the view the client last heard of (or to all); a retry goes to all.
    if (w_.client_sends_to_all) {
      for (const auto& h : hosts_) send(kClient, h.id, request, now_);
    } else {
      send(kClient, primary_, request, now_);
    }
    schedule(now_ + microseconds(w_.client_retry_ms * 1000), LoopEventKind::kClientRetry, kClient,
             id);
  }

  void retry(std::uint64_t id) {
    if (!pending_.contains(id)) return;
    for (const auto& h : hosts_) send(kClient, h.id, requests_.at(id), now_);
    schedule(now_ + microseconds(w_.client_retry_ms * 1000), LoopEventKind::kClientRetry, kClient,
             id);
  }

  void deliver(const LoopEvent& e) {
    if (e.target == kClient) {
      on_reply(*e.message);
      return;
    }
    auto& h = hosts_[e.target];
    if (!h.up) return;
    h.inbox.push_back(e.message);
    result_.max_queue = std::max<std::uint64_t>(result_.max_queue, h.inbox.size());
    wake(h);
  }

  void wake(Host& h) {
    if (h.process_scheduled || h.inbox.empty()) return;
    h.process_scheduled = true;
    schedule(std::max(now_, h.busy_until), LoopEventKind::kProcess, h.id);
  }

  void timer(Host& h) {
    if (!h.up) return;
    if (!h.tick_queued) {
      h.tick_queued = true;
      h.inbox.push_back(nullptr);
      wake(h);
    }
    schedule(now_ + microseconds(w_.tick_ms * 1000), LoopEventKind::kTimer, h.id);
  }

  // The replica's loop takes the next input (once a core is free); the outputs of that step
  // leave when its processing time is over.
  void process(Host& h) {
    h.process_scheduled = false;
    if (!h.up || h.inbox.empty()) return;
    // A straggler's loop waits before each message, holding no core (a sleep, as select() in
    // Antoniadis et al.), then handles it.
    if (w_.straggler && *w_.straggler == h.id && h.inbox.front() && !h.waited) {
      h.waited = true;
      h.busy_until = now_ + microseconds(std::uniform_real_distribution<double>(
                                0, w_.straggler_delay_us)(rng_));
      h.process_scheduled = true;
      schedule(h.busy_until, LoopEventKind::kProcess, h.id);
      return;
    }
    h.waited = false;
    std::size_t core = 0;
    if (!cores_.empty()) {
      core =
          static_cast<std::size_t>(std::min_element(cores_.begin(), cores_.end()) - cores_.begin());
      if (cores_[core] > now_) {
        h.process_scheduled = true;
        schedule(cores_[core], LoopEventKind::kProcess, h.id);
        return;
      }
    }
    auto message = std::move(h.inbox.front());
    h.inbox.pop_front();
    double cost_us = 0;
    if (!message) {
      h.tick_queued = false;
      h.replica->tick(now_);
    } else {
      const auto checked_before = h.verifier->checks();
      h.replica->step(message);
      h.replica->end_of_burst();
      const auto checked = h.verifier->checks() - checked_before;
      const auto bytes = message->signed_bytes.size() + crypto::kSignatureSize;
      cost_us = w_.message_us + w_.verify_us * static_cast<double>(checked) +
                w_.ns_per_byte * static_cast<double>(bytes) / 1000;
      account(*message, std::max<std::uint64_t>(1, checked), bytes);
    }
    auto ready = h.replica->has_ready() ? h.replica->take_ready() : bft::Ready{};
    std::set<const bft::SignedMessage*> signed_here;
    for (const auto& out : ready.messages) {
      if (out.message->sender == h.id) signed_here.insert(out.message.get());
    }
    cost_us += w_.sign_us * static_cast<double>(signed_here.size());
    h.busy_until = now_ + microseconds(cost_us);
    if (!cores_.empty()) cores_[core] = h.busy_until;
    if (auto broken = h.checker.after_step(*h.replica, ready)) {
      result_.violations.push_back(
          fmt::format("replica {} at {:.6f} s: {}", h.id, seconds_of(now_), *broken));
      return;
    }
    for (const auto& batch : ready.committed) {
      for (const auto& request : batch.requests) {
        if (request->sender == kClient)
          executed_at_.emplace(request->as<bft::Request>()->request_id, batch.seq);
      }
    }
    for (const auto& e : ready.events) {
      if (e.kind == bft::ReplicaEvent::Kind::kNewViewEntered) ++result_.view_changes;
      if (e.kind == bft::ReplicaEvent::Kind::kStateTransferred) ++result_.state_transfers;
    }
    for (const auto& out : ready.messages) {
      switch (out.to) {
        case Outbound::To::kAllReplicas:
          for (const auto& other : hosts_) {
            if (other.id != h.id) send(h.id, other.id, out.message, h.busy_until);
          }
          break;
        case Outbound::To::kReplica:
        case Outbound::To::kClient:
          send(h.id, out.destination, out.message, h.busy_until);
          break;
      }
    }
    wake(h);
  }

  // What a command's consensus instance sends: its request, the pre-prepare, prepares and
  // commits tagged with its sequence number, and the replies, each counted once per receiver
  // (a retransmitted copy is the same message) whether or not it is ever processed.
  void count_instance_message(bft::PrincipalId to, const bft::SignedMessage& message) {
    if (!instance_seen_.insert({to, message.signed_bytes}).second) return;
    if (auto seq = instance_of(message)) {
      ++instance_messages_[*seq];
    } else if (const auto* request = message.as<bft::Request>()) {
      ++command_messages_[request->request_id];
    } else if (const auto* reply = message.as<bft::Reply>()) {
      ++command_messages_[reply->request_id];
    }
  }

  // Every processed message counts toward the SMR cost of the command that completes next; one
  // of an instance's own messages also counts toward that instance's consensus cost.
  void account(const bft::SignedMessage& message, std::uint64_t weight, std::uint64_t bytes) {
    ++result_.messages_processed;
    smr_messages_ += weight;
    smr_bytes_ += bytes;
    if (message.type() == bft::MessageType::kCatchUp) {
      ++result_.catch_ups;
      smr_catch_up_ += weight;
    }
  }

  void on_reply(const bft::SignedMessage& message) {
    const auto* reply = message.as<bft::Reply>();
    if (reply == nullptr || !client_verifier_.verify(message.sender, bft::domain_of(message.type()),
                                                     message.signed_bytes, message.signature)) {
      return;
    }
    ++result_.messages_processed;
    ++smr_messages_;
    smr_bytes_ += message.signed_bytes.size() + crypto::kSignatureSize;
    auto it = pending_.find(reply->request_id);
    if (it == pending_.end()) return;
    it->second.replied.insert(message.sender);
    primary_ = static_cast<ReplicaId>(reply->view % hosts_.size());
    if (it->second.replied.size() < std::size_t{options_.f} + 1) return;

    CommandRecord record;
    record.id = it->first;
    record.submitted_s = it->second.submitted_s;
    record.completed_s = seconds_of(now_);
    record.smr_messages = smr_messages_;
    record.smr_bytes = smr_bytes_;
    record.smr_catch_up_messages = smr_catch_up_;
    smr_messages_ = smr_bytes_ = smr_catch_up_ = 0;
    result_.commands.push_back(record);
    pending_.erase(it);
    requests_.erase(record.id);

    const auto done = result_.commands.size();
    if (done == w_.crash_at_command) {
      if (w_.crash) {
        auto& h = hosts_[*w_.crash];
        h.up = false;
        h.inbox.clear();
      }
      if (w_.isolated) hosts_[*w_.isolated].cut_off = false;
    }
    while (next_id_ <= w_.commands && pending_.size() < w_.pipeline) submit();
  }

 private:
  const CommandWorkload& w_;
  Rng rng_;
  std::shared_ptr<MacKeyring> keyring_;
  bft::ReplicaOptions options_;
  std::vector<Host> hosts_;
  std::vector<Time> cores_;  // when each shared core is free (empty: a core per replica)
  std::shared_ptr<MacSigner> client_signer_;
  MacVerifier client_verifier_{keyring_};
  std::priority_queue<LoopEvent, std::vector<LoopEvent>, std::greater<>> queue_;
  std::uint64_t order_ = 0;
  Time now_{0};
  ReplicaId primary_ = 0;
  std::uint64_t next_id_ = 1;
  std::map<std::uint64_t, Pending> pending_;
  std::map<std::uint64_t, MessagePtr> requests_;
  std::map<bft::Seq, std::uint64_t> instance_messages_;
  std::set<std::pair<ReplicaId, Bytes>> instance_seen_;
  std::map<std::uint64_t, bft::Seq> executed_at_;  // request id -> the seq it was executed at
  std::map<std::uint64_t, std::uint64_t> command_messages_;  // request id -> requests, replies sent
  std::uint64_t smr_messages_ = 0, smr_bytes_ = 0, smr_catch_up_ = 0;
  CommandRunResult result_;
};

}  // namespace

CommandRunResult run_commands(const CommandWorkload& workload, std::uint64_t seed) {
  return CommandSimulation(workload, seed).run();
}

}  // namespace bftgate::sim
