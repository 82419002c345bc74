#include "bftgate/sim/simulator.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <mutex>
#include <nlohmann/json.hpp>
#include <numeric>
#include <queue>
#include <set>

#include "bftgate/bft/byzantine.hpp"
#include "bftgate/bft/register.hpp"
#include "bftgate/bft/release_selector.hpp"
#include "bftgate/bft/replica.hpp"
#include "bftgate/bft/replica_checker.hpp"
#include "bftgate/bft/replica_config.hpp"
#include "bftgate/bft/validator_votes.hpp"
#include "bftgate/crypto/certificate.hpp"
#include "bftgate/sim/invariants.hpp"
#include "bftgate/sim/mac_signer.hpp"

namespace bftgate::sim {

using bft::MessagePtr;
using bft::Outbound;
using bft::PrincipalId;

namespace {

Time seconds(double s) {
  return Time(static_cast<std::int64_t>(s * 1e6));
}
double to_seconds(Time t) {
  return static_cast<double>(t.count()) / 1e6;
}

std::uint64_t mix(std::uint64_t h, std::uint64_t v) {
  // splitmix64 finaliser over the running hash: cheap, and any change anywhere changes the end.
  h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ULL;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebULL;
  return h ^ (h >> 31);
}

crypto::Digest artifact_digest(std::uint64_t version, bool tampered) {
  return crypto::sha256(
      as_bytes(fmt::format("bftgate-sim-artifact/{}{}", version, tampered ? "/tampered" : "")));
}

enum class EventKind : std::uint8_t {
  kDeliver,
  kTick,
  kCrash,
  kRecover,
  kSubmit,
  kValidated,
  kClientRetry,
  kPoll,
  kFetched,
  kSwapped,
  kSample,
};

struct Event {
  EventKind kind;
  std::uint32_t target;  // principal (deliver), replica, client, or fleet node
  std::uint64_t arg;     // version, request id, ...
  MessagePtr message;
};

// The event queue orders small keys; the events themselves stay in a slab (EventQueue::events_),
// so the heap moves 24 trivially copyable bytes instead of events that own a message.
class EventQueue {
 public:
  void push(Time at, Event event) {
    std::uint32_t slot;
    if (free_.empty()) {
      slot = static_cast<std::uint32_t>(events_.size());
      events_.push_back(std::move(event));
    } else {
      slot = free_.back();
      free_.pop_back();
      events_[slot] = std::move(event);
    }
    heap_.push(Key{at, next_order_++, slot});
  }
  bool empty() const { return heap_.empty(); }
  Time next_at() const { return heap_.top().at; }
  // The earliest event (ties in the order they were pushed), and when it happens.
  std::pair<Time, Event> pop() {
    auto key = heap_.top();
    heap_.pop();
    free_.push_back(key.slot);
    return {key.at, std::move(events_[key.slot])};
  }

 private:
  struct Key {
    Time at;
    std::uint64_t order;
    std::uint32_t slot;
  };
  struct Later {
    bool operator()(const Key& a, const Key& b) const {
      return a.at != b.at ? a.at > b.at : a.order > b.order;
    }
  };
  std::priority_queue<Key, std::vector<Key>, Later> heap_;
  std::vector<Event> events_;
  std::vector<std::uint32_t> free_;
  std::uint64_t next_order_ = 0;
};

struct Instance {
  std::unique_ptr<bft::AdapterRegister> app;
  std::unique_ptr<bft::Replica> replica;
  std::vector<bft::PersistRecord> disk;
  std::size_t synced = 0;             // disk[0, synced) is durable; the rest a power loss takes
  std::size_t compacted_records = 0;  // the disk's size after its last compaction
  bft::Ready ready;                   // drained into after every step, its vectors reused
};

struct Outstanding {
  MessagePtr request;
  std::set<ReplicaId> replied;
  bool done = false;
};

struct Client {
  PrincipalId id = 0;
  std::shared_ptr<bft::Signer> signer;
  ReplicaId colocated_with = 0;  // for partitions; kNoReplica for the operator
  std::uint64_t next_request_id = 1;
  std::map<std::uint64_t, Outstanding> outstanding;
};

struct ReplicaHost {
  ReplicaId id = 0;
  std::unique_ptr<bft::ByzantineStrategy> strategy;  // null: honest
  bool up = true;
  std::vector<Instance> instances;            // two for twins
  std::vector<bft::ReplicaChecker> checkers;  // one per instance, kept across restarts
  std::shared_ptr<bft::Signer> signer;
  const crypto::SecretKey* vote_key = nullptr;
  // The validator process's own vote logic; recreated when the host restarts (what it was
  // validating died with it).
  std::optional<bft::ValidatorVotes> votes;
  std::map<std::uint64_t, bft::ValidationJob> validating;
};

struct FleetNode {
  std::uint64_t serving = 0;
  std::optional<std::uint64_t> fetching;
  // The release being fetched, as the node's release selector verified it.
  std::optional<crypto::VerifiedRelease> fetching_release;
};

constexpr ReplicaId kNoReplica = 0xffff'ffffu;
constexpr std::uint64_t kOperatorKeyIndex = 1'000'000;

// The simulated validators' and operator's Ed25519 keys depend on their index only, not on the
// seed: Ed25519 signatures are deterministic, so runs that cast the same votes sign the same
// bytes, and a thread's verification cache (below) serves them all.
const crypto::SecretKey& simulated_key(std::uint64_t index) {
  static std::mutex mutex;
  static std::map<std::uint64_t, std::unique_ptr<crypto::SecretKey>> keys;
  std::lock_guard lock(mutex);
  auto& key = keys[index];
  if (!key) {
    std::array<std::uint8_t, crypto::kSeedSize> key_seed{};
    auto digest = crypto::sha256(as_bytes(fmt::format("bftgate-sim-key/{}", index)));
    std::copy(digest.bytes.begin(), digest.bytes.end(), key_seed.begin());
    key = std::make_unique<crypto::SecretKey>(crypto::SecretKey::from_seed(key_seed));
  }
  return *key;
}

// One bounded cache of verified signatures per thread, kept across runs (a cache hit gives the
// same answer as verifying, so runs stay exact).
std::shared_ptr<crypto::VerifyCache> thread_verify_cache() {
  thread_local auto cache = std::make_shared<crypto::VerifyCache>(std::size_t{1} << 14);
  return cache;
}

class Simulation {
 public:
  Simulation(const Scenario& scenario, std::uint64_t seed)
      : scenario_(scenario),
        rng_(seed),
        keyring_(std::make_shared<MacKeyring>(seed)),
        checker_(scenario, config_, verify_cache_.get()) {
    result_.seed = seed;
    build_cluster();
  }

  RunResult run();

 private:
  void build_cluster();
  Instance make_instance(ReplicaHost& host);
  void schedule(Time at, EventKind kind, std::uint32_t target, std::uint64_t arg = 0,
                MessagePtr message = nullptr) {
    queue_.push(at, Event{kind, target, arg, std::move(message)});
  }
  void process(const Event& event);
  void deliver(const Event& event);
  void handle_ready(ReplicaHost& host, std::size_t instance);
  bool maybe_compact(Instance& instance);
  void crash(ReplicaHost& host, bool power_loss = false);
  void send(std::uint32_t from_replica_group, PrincipalId to, const MessagePtr& message,
            Duration extra_delay);
  bool partitioned(ReplicaId a, ReplicaId b) const;
  bool round_partitioned(ReplicaId a, ReplicaId b, const bft::SignedMessage& message) const {
    for (const auto& p : scenario_.round_partitions) {
      if (p.round.matches(message) && p.separates(a, b)) return true;
    }
    return false;
  }
  const LinkSpec& link() const {
    return (scenario_.before_gst && now_ < seconds(scenario_.gst_s)) ? *scenario_.before_gst
                                                                     : scenario_.link;
  }
  void client_submit(Client& client, Bytes operation);
  void client_send_all(Client& client, const MessagePtr& request);
  void start_validations(ReplicaHost& host);
  void cast_vote(ReplicaHost& host, std::uint64_t version);
  void poll(std::uint32_t node);
  void check_releases(ReplicaHost& host);
  void check_convergence();
  bool within(const std::vector<Window>& windows) const;
  void sample_fleet();
  crypto::VerifyOptions cached() const {
    crypto::VerifyOptions options;
    options.cache = verify_cache_.get();
    return options;
  }
  bool honest(ReplicaId id) const { return !scenario_.byzantine.contains(id); }
  const AdapterSpec* adapter(std::uint64_t version) const {
    for (const auto& a : scenario_.adapters) {
      if (a.version == version) return &a;
    }
    return nullptr;
  }
  VersionOutcome& outcome(std::uint64_t version) {
    for (auto& o : result_.versions) {
      if (o.version == version) return o;
    }
    throw std::logic_error("no outcome for version");
  }

  const Scenario& scenario_;
  Rng rng_;
  std::shared_ptr<MacKeyring> keyring_;
  std::shared_ptr<bft::Verifier> verifier_;
  std::shared_ptr<crypto::VerifyCache> verify_cache_ = thread_verify_cache();
  ClusterConfig config_;
  bft::ReplicaOptions options_;
  const crypto::SecretKey* operator_key_ = nullptr;
  std::vector<ReplicaHost> hosts_;
  std::map<PrincipalId, Client> clients_;
  std::vector<FleetNode> fleet_;
  EventQueue queue_;
  Time now_{0};
  bool stopped_ = false;  // a replica broke one of its own invariants: the run ends there
  RunResult result_;
  InvariantChecker checker_;
};

void Simulation::build_cluster() {
  auto n = scenario_.validators;
  config_.cluster_id = "bftgate-sim";
  config_.epoch = 1;
  config_.fault_model = scenario_.fault_model;
  config_.f = scenario_.f();
  for (std::size_t i = 0; i < n; ++i) {
    config_.validators.push_back({static_cast<ReplicaId>(i),
                                  fmt::format("tcp://127.0.0.1:{}", 20000 + i),
                                  simulated_key(i).public_key(), 0});
  }
  operator_key_ = &simulated_key(kOperatorKeyIndex);
  config_.operator_public_key = operator_key_->public_key();
  config_.artifact_store_endpoint = "tcp://127.0.0.1:19999";
  if (auto status = config_.validate(); !status)
    throw std::invalid_argument(status.error().message);

  options_ = bft::replica_options(config_);
  const auto& t = scenario_.timing;
  options_.checkpoint_interval = t.checkpoint_interval;
  options_.watermark_window = t.watermark_window;
  options_.max_batch = t.max_batch;
  options_.max_in_flight = t.max_in_flight;
  // As the validators batch: proposals at the end of a burst, here of one delivery.
  options_.batch_by_burst();
  options_.view_change_timeout =
      Duration(static_cast<std::int64_t>(t.view_change_timeout_ms * 1000));
  options_.retransmit_interval = Duration(static_cast<std::int64_t>(t.retransmit_ms * 1000));
  verifier_ = std::make_shared<MacVerifier>(keyring_);

  auto slow_delay = options_.view_change_timeout * 9 / 10;
  for (std::size_t i = 0; i < n; ++i) {
    ReplicaHost host;
    host.id = static_cast<ReplicaId>(i);
    host.signer = std::make_shared<MacSigner>(host.id, keyring_->key(host.id));
    host.vote_key = &simulated_key(i);
    auto byz = scenario_.byzantine.find(host.id);
    if (byz != scenario_.byzantine.end()) {
      std::vector<bft::Mutation> plan;
      for (const auto& m : scenario_.mutations) {
        if (m.replica == host.id) plan.push_back(m);
      }
      host.strategy = bft::make_strategy(byz->second, slow_delay, std::move(plan));
    }
    hosts_.push_back(std::move(host));
  }
  for (auto& host : hosts_) {
    host.votes.emplace(host.id, *host.vote_key, host.strategy.get());
    host.instances.push_back(make_instance(host));
    if (host.strategy && host.strategy->twins()) host.instances.push_back(make_instance(host));
    host.checkers.resize(host.instances.size());
    auto client_id = bft::kValidatorClientBase + host.id;
    clients_[client_id] = Client{client_id,
                                 std::make_shared<MacSigner>(client_id, keyring_->key(client_id)),
                                 host.id,
                                 1,
                                 {}};
  }
  clients_[bft::kOperatorPrincipal] = Client{
      bft::kOperatorPrincipal,
      std::make_shared<MacSigner>(bft::kOperatorPrincipal, keyring_->key(bft::kOperatorPrincipal)),
      kNoReplica,
      1,
      {}};
  fleet_.resize(scenario_.fleet.nodes);
}

Instance Simulation::make_instance(ReplicaHost& host) {
  Instance instance;
  instance.app = std::make_unique<bft::AdapterRegister>(config_, verify_cache_);
  instance.replica =
      std::make_unique<bft::Replica>(options_, host.signer, verifier_, *instance.app);
  return instance;
}

RunResult Simulation::run() {
  auto tick = Duration(static_cast<std::int64_t>(scenario_.timing.tick_ms * 1000));
  for (auto& host : hosts_) {
    // Stagger the first ticks so replicas are not in lock step.
    schedule(
        Duration(static_cast<std::int64_t>(rng_() % static_cast<std::uint64_t>(tick.count() + 1))),
        EventKind::kTick, host.id);
  }
  for (const auto& crash : scenario_.crashes) {
    schedule(seconds(crash.at_s), EventKind::kCrash, crash.replica, crash.power_loss ? 1 : 0);
    if (crash.recover_s) schedule(seconds(*crash.recover_s), EventKind::kRecover, crash.replica);
  }
  for (const auto& a : scenario_.adapters) {
    result_.versions.push_back({a.version,
                                a.passes(),
                                "absent",
                                a.submit_s,
                                std::nullopt,
                                std::nullopt,
                                scenario_.convergence_bound_for(a),
                                {}});
    schedule(seconds(a.submit_s), EventKind::kSubmit, 0, a.version);
  }
  auto poll_interval = seconds(scenario_.fleet.poll_interval_s);
  for (std::uint32_t j = 0; j < fleet_.size(); ++j) {
    schedule(Duration(static_cast<std::int64_t>(
                 rng_() % static_cast<std::uint64_t>(poll_interval.count() + 1))),
             EventKind::kPoll, j);
  }

  if (scenario_.fleet.sample_interval_s > 0) schedule(Time(0), EventKind::kSample, 0);

  auto end = seconds(scenario_.duration_s);
  while (!queue_.empty() && queue_.next_at() <= end && !stopped_) {
    auto [at, event] = queue_.pop();
    now_ = at;
    ++result_.events;
    result_.trace_hash = mix(mix(mix(result_.trace_hash, static_cast<std::uint64_t>(at.count())),
                                 static_cast<std::uint64_t>(event.kind) << 32 | event.target),
                             event.message ? event.message->signed_bytes.size() : event.arg);
    process(event);
  }
  now_ = end;
  result_.end_s = to_seconds(end);
  checker_.at_end(result_.versions);
  result_.violations = checker_.violations();
  result_.committed_seqs = checker_.highest_commit();
  for (const auto& host : hosts_) {
    if (!honest(host.id) || !host.up) continue;
    const auto& replica = *host.instances[0].replica;
    result_.replicas_at_end.push_back({host.id, replica.view(), replica.view_active(),
                                       replica.voting(), replica.last_executed(),
                                       host.instances[0].app->log_head_hash().hex()});
  }
  for (auto& o : result_.versions) {
    for (const auto& host : hosts_) {
      if (!honest(host.id) || !host.up) continue;
      if (const auto* entry = host.instances[0].app->entry(o.version))
        o.state = to_string(entry->state);
      break;
    }
  }
  return result_;
}

void Simulation::process(const Event& event) {
  switch (event.kind) {
    case EventKind::kDeliver:
      deliver(event);
      break;
    case EventKind::kTick: {
      auto& host = hosts_[event.target];
      if (!host.up) break;
      for (std::size_t k = 0; k < host.instances.size(); ++k) {
        host.instances[k].replica->tick(now_);
        handle_ready(host, k);
      }
      schedule(now_ + Duration(static_cast<std::int64_t>(scenario_.timing.tick_ms * 1000)),
               EventKind::kTick, host.id);
      break;
    }
    case EventKind::kCrash:
      crash(hosts_[event.target], /*power_loss=*/event.arg != 0);
      break;
    case EventKind::kRecover: {
      auto& host = hosts_[event.target];
      if (host.up) break;
      host.up = true;
      host.validating.clear();
      host.votes.emplace(host.id, *host.vote_key, host.strategy.get());
      for (std::size_t k = 0; k < host.instances.size(); ++k) {
        auto& instance = host.instances[k];
        auto disk = std::move(instance.disk);
        instance = make_instance(host);
        instance.replica->restore(disk);
        host.checkers[k].restored(disk);
        instance.disk = std::move(disk);
        instance.synced = instance.disk.size();
        // Recovery must rebuild exactly the state the replica had executed.
        if (honest(host.id)) {
          checker_.on_state(host.id, instance.replica->last_executed(),
                            instance.app->log_head_hash());
        }
      }
      schedule(now_, EventKind::kTick, host.id);
      break;
    }
    case EventKind::kSubmit: {
      const auto* a = adapter(event.arg);
      auto op = bft::make_propose(*operator_key_, config_.cluster_id, config_.epoch, a->version,
                                  artifact_digest(a->version, false), a->size_bytes,
                                  fmt::format("sim://store/adapter-{}", a->version));
      client_submit(clients_.at(bft::kOperatorPrincipal), std::move(op));
      break;
    }
    case EventKind::kValidated:
      cast_vote(hosts_[event.target], event.arg);
      break;
    case EventKind::kClientRetry: {
      auto& client = clients_.at(event.target);
      auto it = client.outstanding.find(event.arg);
      if (it == client.outstanding.end() || it->second.done) break;
      if (client.colocated_with != kNoReplica && !hosts_[client.colocated_with].up) break;
      client_send_all(client, it->second.request);
      schedule(now_ + seconds(scenario_.client_retry_s), EventKind::kClientRetry, client.id,
               event.arg);
      break;
    }
    case EventKind::kPoll:
      poll(event.target);
      break;
    case EventKind::kSample:
      sample_fleet();
      schedule(now_ + seconds(scenario_.fleet.sample_interval_s), EventKind::kSample, 0);
      break;
    case EventKind::kFetched: {
      auto& node = fleet_[event.target];
      const auto* a = adapter(event.arg);
      // What the store hands over is checked against the certified digest before anything
      // loads, by the node's own check.
      auto received = artifact_digest(event.arg, a != nullptr && a->tampered_artifact);
      if (!node.fetching_release->check_digest(received, a != nullptr ? a->size_bytes : 0)) {
        ++result_.refused_loads;
        node.fetching.reset();
        break;
      }
      schedule(now_ + Duration(static_cast<std::int64_t>(scenario_.fleet.swap_ms * 1000)),
               EventKind::kSwapped, event.target, event.arg);
      break;
    }
    case EventKind::kSwapped: {
      auto& node = fleet_[event.target];
      auto version = event.arg;
      // What the node loads: the bytes the store handed over.
      const auto* a = adapter(version);
      auto digest = artifact_digest(version, a != nullptr && a->tampered_artifact);
      node.fetching.reset();
      checker_.on_load(event.target, node.serving, node.fetching_release->certificate(), digest);
      if (version <= node.serving) break;
      node.serving = version;
      check_convergence();
      break;
    }
  }
}

void Simulation::deliver(const Event& event) {
  ++result_.deliveries;
  auto to = event.target;
  // Replicas are 0..n-1; every other principal is a client (kValidatorClientBase and above).
  if (to >= hosts_.size()) {
    auto client = clients_.find(to);
    if (client == clients_.end()) return;
    const auto* reply = event.message->as<bft::Reply>();
    if (reply == nullptr ||
        !verifier_->verify(event.message->sender, bft::domain_of(event.message->type()),
                           event.message->signed_bytes, event.message->signature)) {
      return;
    }
    auto it = client->second.outstanding.find(reply->request_id);
    if (it == client->second.outstanding.end()) return;
    it->second.replied.insert(event.message->sender);
    // f+1 replies include one from an honest replica: the request is executed.
    if (it->second.replied.size() >= std::size_t{config_.f} + 1) it->second.done = true;
    return;
  }
  auto& host = hosts_[to];
  if (!host.up) return;
  for (std::size_t k = 0; k < host.instances.size(); ++k) {
    if (host.strategy) {
      bft::StrategyContext context{
          host.id, *host.instances[k].replica, *host.signer, options_.replicas, rng_, now_};
      if (!host.strategy->accept(context, event.message)) continue;
    }
    host.instances[k].replica->step(event.message);
    host.instances[k].replica->end_of_burst();
    handle_ready(host, k);
  }
}

void Simulation::crash(ReplicaHost& host, bool power_loss) {
  host.up = false;
  for (auto& instance : host.instances) {
    if (power_loss) {
      result_.records_lost_to_power += instance.disk.size() - instance.synced;
      instance.disk.resize(instance.synced);
    }
    instance.replica.reset();
    instance.app.reset();
  }
}

// The validator's compaction: the disk becomes the replica's live records.
bool Simulation::maybe_compact(Instance& instance) {
  auto threshold = scenario_.compaction.wal_records;
  if (threshold == 0 || instance.disk.size() < std::max(threshold, 2 * instance.compacted_records))
    return false;
  instance.disk = instance.replica->live_records();
  instance.compacted_records = instance.disk.size();
  instance.synced = instance.disk.size();  // a compaction is written and synced whole
  ++result_.compactions;
  return true;
}

void Simulation::handle_ready(ReplicaHost& host, std::size_t k) {
  auto& instance = host.instances[k];
  auto& ready = instance.ready;
  if (instance.replica->has_ready()) {
    instance.replica->take_ready(ready);
  } else {
    ready.clear();
  }
  if (auto broken = host.checkers[k].after_step(*instance.replica, ready)) {
    checker_.on_replica_invariant(
        host.id, fmt::format("seed {}, event {} at {:.6f} s: {}", result_.seed, result_.events,
                             to_seconds(now_), *broken));
    stopped_ = true;
    return;
  }
  if (ready.empty()) return;
  // Persist before send: in the simulator the disk is the list of records a restart replays.
  const bool sync = ready.needs_sync();
  for (auto& record : ready.persist) instance.disk.push_back(std::move(record));
  if (sync) instance.synced = instance.disk.size();  // one sync covers all written before it
  bool compacted = maybe_compact(instance);
  if (honest(host.id)) {
    for (const auto& batch : ready.committed) checker_.on_commit(host.id, batch);
    for (const auto& out : ready.messages) checker_.on_sent(host.id, *out.message);
    if (!ready.committed.empty()) {
      // The state after the Ready is the state after its last batch.
      checker_.on_state(host.id, ready.committed.back().seq, instance.app->log_head_hash());
    }
    for (const auto& e : ready.events) {
      if (e.kind == bft::ReplicaEvent::Kind::kNewViewEntered) ++result_.view_changes;
      if (e.kind == bft::ReplicaEvent::Kind::kStateTransferred) ++result_.state_transfers;
      if (e.kind == bft::ReplicaEvent::Kind::kCheckpointTaken)
        checker_.on_checkpoint(host.id, e.seq, e.digest);
    }
    if (!ready.committed.empty()) check_releases(host);
  }
  if (compacted && honest(host.id) && host.instances.size() == 1 &&
      scenario_.compaction.crash_after_probability > 0 &&
      std::all_of(hosts_.begin(), hosts_.end(), [](const ReplicaHost& h) { return h.up; }) &&
      std::uniform_real_distribution<double>()(rng_) <
          scenario_.compaction.crash_after_probability) {
    // Crash right after the compaction: this step's messages never leave.
    ++result_.crashes_after_compaction;
    crash(host);
    schedule(now_ + seconds(scenario_.compaction.down_s), EventKind::kRecover, host.id);
    return;
  }
  if (k == 0 && !ready.committed.empty()) start_validations(host);

  auto route = [&](const Outbound& out, Duration delay) {
    switch (out.to) {
      case Outbound::To::kAllReplicas:
        for (const auto& other : hosts_) {
          if (other.id != host.id) send(host.id, other.id, out.message, delay);
        }
        break;
      case Outbound::To::kReplica:
      case Outbound::To::kClient:
        send(host.id, out.destination, out.message, delay);
        break;
    }
  };
  if (host.strategy) {
    bft::StrategyContext context{host.id, *instance.replica, *host.signer, options_.replicas, rng_,
                                 now_};
    for (const auto& [out, delay] : host.strategy->transform(context, std::move(ready.messages)))
      route(out, delay);
  } else {
    for (const auto& out : ready.messages) route(out, Duration(0));
  }
}

bool Simulation::partitioned(ReplicaId a, ReplicaId b) const {
  if (a == kNoReplica || b == kNoReplica || a == b) return false;
  auto now_s = to_seconds(now_);
  for (const auto& p : scenario_.partitions) {
    if (now_s < p.start_s || now_s >= p.end_s) continue;
    int group_a = -1;
    int group_b = -1;
    for (std::size_t g = 0; g < p.groups.size(); ++g) {
      for (auto id : p.groups[g]) {
        if (id == a) group_a = static_cast<int>(g);
        if (id == b) group_b = static_cast<int>(g);
      }
    }
    if (group_a >= 0 && group_b >= 0 && group_a != group_b) return true;
  }
  return false;
}

void Simulation::send(std::uint32_t from_group, PrincipalId to, const MessagePtr& message,
                      Duration extra_delay) {
  ++result_.sent_by_type[static_cast<std::size_t>(message->type())];
  result_.bytes_sent += message->signed_bytes.size() + crypto::kSignatureSize;
  ReplicaId to_group = to;
  if (to >= hosts_.size()) {
    auto client = clients_.find(to);
    to_group = client != clients_.end() ? client->second.colocated_with : kNoReplica;
  }
  const auto& l = link();
  if (partitioned(from_group, to_group) || round_partitioned(from_group, to_group, *message) ||
      (l.loss > 0 && std::uniform_real_distribution<double>()(rng_) < l.loss)) {
    ++result_.dropped;
    return;
  }
  schedule(now_ + extra_delay + l.latency.sample(rng_), EventKind::kDeliver, to, 0, message);
  if (l.duplicate > 0 && std::uniform_real_distribution<double>()(rng_) < l.duplicate) {
    schedule(now_ + extra_delay + l.latency.sample(rng_), EventKind::kDeliver, to, 0, message);
  }
}

void Simulation::client_submit(Client& client, Bytes operation) {
  auto request_id = client.next_request_id++;
  auto request = bft::make_message(*client.signer, bft::Request{request_id, std::move(operation)});
  client.outstanding[request_id] = Outstanding{request, {}, false};
  client_send_all(client, request);
  schedule(now_ + seconds(scenario_.client_retry_s), EventKind::kClientRetry, client.id,
           request_id);
}

void Simulation::client_send_all(Client& client, const MessagePtr& request) {
  for (const auto& host : hosts_) send(client.colocated_with, host.id, request, Duration(0));
}

void Simulation::start_validations(ReplicaHost& host) {
  auto job = host.votes->next_validation(*host.instances[0].app);
  if (!job) return;
  auto version = job->version;
  host.validating[version] = std::move(*job);
  auto took = scenario_.validation_time_of(host.id).sample(rng_);
  if (!host.strategy) {
    for (auto& o : result_.versions) {
      if (o.version == version) o.validation_s[host.id] = to_seconds(took);
    }
  }
  schedule(now_ + took, EventKind::kValidated, host.id, version);
}

void Simulation::cast_vote(ReplicaHost& host, std::uint64_t version) {
  if (!host.up) return;  // the validation died with the process
  auto job = host.validating.find(version);
  if (job == host.validating.end()) return;
  const auto* spec = adapter(version);
  bool pass = spec != nullptr && spec->honest_verdict(host.id) == Verdict::kPass;
  auto metrics = crypto::sha256(as_bytes(fmt::format("metrics/{}/{}", host.id, version)));
  auto& client = clients_.at(bft::kValidatorClientBase + host.id);
  for (auto& op : host.votes->votes_for(*host.instances[0].app, job->second, pass, metrics))
    client_submit(client, std::move(op));
  host.validating.erase(job);
}

void Simulation::poll(std::uint32_t index) {
  schedule(now_ + seconds(scenario_.fleet.poll_interval_s), EventKind::kPoll, index);
  auto& node = fleet_[index];
  if (node.fetching) return;
  if (within(scenario_.fleet.cut_off)) return;  // no validator answers
  // As the node does (runtime/inference_node.cpp): f+1 validators include an honest one; the
  // others only when those answers leave the choice open. The choice is the node's own code.
  std::vector<std::size_t> order(hosts_.size());
  std::iota(order.begin(), order.end(), 0);
  std::shuffle(order.begin(), order.end(), rng_);
  auto first = std::min<std::size_t>(order.size(), std::size_t{config_.f} + 1);
  std::vector<bft::ReleaseOffer> offers;
  auto ask = [&](std::size_t from, std::size_t to) {
    for (auto i = from; i < to; ++i) {
      auto& host = hosts_[order[i]];
      if (!host.up) continue;  // no answer
      const auto& app = *host.instances[0].app;
      const auto* answer = host.strategy ? host.strategy->serve_poll(app) : app.latest_release();
      offers.push_back(answer ? bft::ReleaseOffer::of(host.id, *answer)
                              : bft::ReleaseOffer{host.id, 0, {}, 0, {}, std::nullopt});
    }
  };
  ask(0, first);
  auto selection = bft::select_release(offers, node.serving, config_, cached());
  if (selection.needs_wider_poll(config_.f)) {
    ask(first, order.size());
    selection = bft::select_release(offers, node.serving, config_, cached());
  }
  result_.refused_loads += selection.refused.size();
  if (!selection.chosen) return;
  if (within(scenario_.fleet.store_down)) return;  // the fetch fails; the next poll retries
  const auto* entry = &*selection.chosen;
  node.fetching = entry->version;
  node.fetching_release = selection.release;
  auto transfer =
      seconds(static_cast<double>(entry->size) / (scenario_.fleet.bandwidth_mb_s * 1e6));
  schedule(now_ + transfer + link().latency.sample(rng_), EventKind::kFetched, index,
           entry->version);
}

void Simulation::check_releases(ReplicaHost& host) {
  for (const auto& entry : host.instances[0].app->entries()) {
    if (entry.state != bft::EntryState::kReleaseCommit) continue;
    if (checker_.on_release(host.id, entry)) outcome(entry.version).certified_s = to_seconds(now_);
  }
}

bool Simulation::within(const std::vector<Window>& windows) const {
  auto t = to_seconds(now_);
  return std::any_of(windows.begin(), windows.end(),
                     [&](const Window& w) { return w.contains(t); });
}

// What the fleet serves now, against what the honest validators have certified.
void Simulation::sample_fleet() {
  FleetSample sample;
  sample.t_s = to_seconds(now_);
  sample.cut_off = within(scenario_.fleet.cut_off);
  std::set<std::uint64_t> certified{0};  // the base model is always safe to serve
  for (const auto& host : hosts_) {
    if (host.strategy || !host.up) continue;
    for (const auto& entry : host.instances[0].app->entries()) {
      if (entry.state == bft::EntryState::kReleaseCommit) certified.insert(entry.version);
    }
  }
  sample.newest_certified = *certified.rbegin();
  sample.min_served = fleet_.empty() ? 0 : fleet_.front().serving;
  for (const auto& node : fleet_) {
    sample.min_served = std::min(sample.min_served, node.serving);
    sample.max_served = std::max(sample.max_served, node.serving);
    const auto* spec = adapter(node.serving);
    bool validated = node.serving == 0 || (spec != nullptr && spec->passes());
    if (!certified.contains(node.serving) || !validated) sample.uncertified_served = true;
    if (!validated) ++sample.serving_failing;
  }
  result_.fleet_samples.push_back(sample);
}

void Simulation::check_convergence() {
  for (auto& o : result_.versions) {
    if (o.converged_s || !o.certified_s) continue;
    bool all = std::all_of(fleet_.begin(), fleet_.end(),
                           [&](const FleetNode& n) { return n.serving >= o.version; });
    if (all) o.converged_s = to_seconds(now_);
  }
}

}  // namespace

bool RunResult::has_violation(std::string_view invariant) const {
  return std::any_of(violations.begin(), violations.end(),
                     [&](const std::string& v) { return v.starts_with(invariant); });
}

nlohmann::json RunResult::to_json() const {
  nlohmann::json j;
  j["seed"] = seed;
  j["end_s"] = end_s;
  j["events"] = events;
  j["deliveries"] = deliveries;
  j["bytes_sent"] = bytes_sent;
  j["dropped"] = dropped;
  j["view_changes"] = view_changes;
  j["state_transfers"] = state_transfers;
  j["compactions"] = compactions;
  j["crashes_after_compaction"] = crashes_after_compaction;
  j["records_lost_to_power"] = records_lost_to_power;
  j["committed_seqs"] = committed_seqs;
  j["refused_loads"] = refused_loads;
  j["trace_hash"] = fmt::format("{:016x}", trace_hash);
  nlohmann::json sent = nlohmann::json::object();
  for (std::size_t t = 1; t < sent_by_type.size(); ++t) {
    if (sent_by_type[t] > 0)
      sent[std::string(bft::to_string(static_cast<bft::MessageType>(t)))] = sent_by_type[t];
  }
  j["messages_sent"] = sent;
  j["versions"] = nlohmann::json::array();
  for (const auto& v : versions) {
    nlohmann::json vj = {{"version", v.version},
                         {"passes", v.passes},
                         {"state", v.state},
                         {"submitted_s", v.submitted_s},
                         {"bound_s", v.bound_s}};
    vj["certified_s"] = v.certified_s ? nlohmann::json(*v.certified_s) : nlohmann::json(nullptr);
    vj["converged_s"] = v.converged_s ? nlohmann::json(*v.converged_s) : nlohmann::json(nullptr);
    if (v.converged_s) vj["convergence_s"] = *v.converged_s - v.submitted_s;
    j["versions"].push_back(vj);
  }
  j["violations"] = violations;
  j["replicas_at_end"] = nlohmann::json::array();
  for (const auto& r : replicas_at_end) {
    j["replicas_at_end"].push_back({{"id", r.id},
                                    {"view", r.view},
                                    {"view_active", r.view_active},
                                    {"voting", r.voting},
                                    {"last_executed", r.last_executed},
                                    {"log_hash", r.log_hash}});
  }
  return j;
}

RunResult simulate(const Scenario& scenario, std::uint64_t seed) {
  thread_local crypto::SignatureMemo memo;
  crypto::SignatureMemo::Use use(memo);
  return Simulation(scenario, seed).run();
}

}  // namespace bftgate::sim
