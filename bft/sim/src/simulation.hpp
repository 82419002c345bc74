// The simulator's own rooms share this private header: the event queue, the simulated hosts
// (replicas, clients, the fleet of inference nodes) and the Simulation that runs one seed.
// simulation.cpp builds the cluster and runs the event loop; replica_hosts.cpp steps replicas,
// persists and routes their Readies over the simulated network, and drives their votes;
// fleet.cpp polls, fetches and samples the fleet and checks convergence; simulator.cpp is the
// public face (simulate() and the run's report).
#pragma once

#include <fmt/format.h>

#include <algorithm>
#include <mutex>
#include <nlohmann/json.hpp>
#include <numeric>
#include <queue>
#include <set>

#include "bftgate/byzantine/byzantine.hpp"
#include "bftgate/byzantine/validator_votes.hpp"
#include "bftgate/cluster/replica_config.hpp"
#include "bftgate/core/replica.hpp"
#include "bftgate/core/replica_checker.hpp"
#include "bftgate/crypto/certificate.hpp"
#include "bftgate/crypto/epoch_chain.hpp"
#include "bftgate/register/register.hpp"
#include "bftgate/register/release_selector.hpp"
#include "bftgate/sim/invariants.hpp"
#include "bftgate/sim/mac_signer.hpp"
#include "bftgate/sim/simulator.hpp"

namespace bftgate::sim::detail {
using bft::MessagePtr;
using bft::Outbound;
using bft::PrincipalId;

inline Time seconds(double s) {
  return Time(static_cast<std::int64_t>(s * 1e6));
}
inline double to_seconds(Time t) {
  return static_cast<double>(t.count()) / 1e6;
}

inline std::uint64_t mix(std::uint64_t h, std::uint64_t v) {
  // splitmix64 finaliser over the running hash: cheap, and any change anywhere changes the end.
  h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ULL;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebULL;
  return h ^ (h >> 31);
}

crypto::Digest artifact_digest(std::uint64_t version, bool tampered);

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
  kReconfigure,  // the operator proposes scenario change `arg`
  kJoin,         // a new member asks an old one for the frozen register
  kJoined,       // ... and it arrived
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

// One host's replica(s) in one epoch: the set it runs, where its register started, and the
// validator's vote logic for that epoch's key.
struct EpochPart {
  ClusterConfig config;  // its register's: the epoch and its set
  bft::ReplicaOptions options;
  // The register's snapshot the epoch started from (what a validator persists at the switch);
  // empty for the genesis epoch, which starts from the config alone.
  Bytes start;
  std::vector<Instance> instances;            // two for twins
  std::vector<bft::ReplicaChecker> checkers;  // one per instance, kept across restarts
  const crypto::SecretKey* vote_key = nullptr;
  // The validator process's own vote logic; recreated when the host restarts (what it was
  // validating died with it).
  std::optional<bft::ValidatorVotes> votes;
  std::map<std::uint64_t, bft::ValidationJob> validating;
  // Its epoch certificate was acted on (switched, joined elsewhere, or left out): the frozen
  // register is not looked at again after each of its commits.
  bool handed_over = false;

  std::uint64_t epoch() const { return config.epoch; }
  bft::AdapterRegister& reg() const { return *instances[0].app; }
};

// A new machine of the next epoch fetching the old set's frozen register (a handoff).
struct Joining {
  std::uint64_t epoch = 0;
  double since_s = 0;
  std::optional<bft::EpochHandoff> incoming;  // in flight from an old member
  std::uint32_t refused = 0;                  // handoffs that did not verify
};

struct Outstanding {
  MessagePtr request;
  std::uint64_t epoch = 0;  // of the set it was sent to
  std::set<ReplicaId> replied;
  std::set<ReplicaId> refused;  // the operator's: replies whose register refused the operation
  bool done = false;
  std::uint64_t proposal = 0;                  // the operator's proposal of this version
  std::optional<std::size_t> reconfiguration;  // the operator's: this scenario change
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
  std::shared_ptr<bft::Signer> signer;
  std::vector<EpochPart> parts;  // ascending epoch; none before it first joins
  std::optional<Joining> joining;

  EpochPart* part(std::uint64_t epoch) {
    for (auto& p : parts) {
      if (p.epoch() == epoch) return &p;
    }
    return nullptr;
  }
  bool running() const { return up && !parts.empty(); }
  // The newest epoch it runs: where it validates, votes and answers polls.
  EpochPart& newest() { return parts.back(); }
  const EpochPart& newest() const { return parts.back(); }
};

struct FleetNode {
  explicit FleetNode(crypto::EpochChain genesis) : chain(std::move(genesis)) {}
  std::uint64_t serving = 0;
  std::optional<std::uint64_t> fetching;
  // The release being fetched, as the node's release selector verified it.
  std::optional<crypto::VerifiedRelease> fetching_release;
  crypto::EpochChain chain;  // what it verifies certificates with, walked from the genesis set
};

// The operator's view of one epoch: the set it proposed, which members start on a new machine.
struct EpochPlan {
  ClusterConfig config;
  std::set<ReplicaId> fresh;
  Bytes reconfigure;  // the signed Reconfigure (empty for the genesis epoch)
};

constexpr ReplicaId kNoReplica = 0xffff'ffffu;
constexpr std::uint64_t kOperatorKeyIndex = 1'000'000;
// A validator's key of generation g (each new key it is given) is simulated_key(g * stride + id).
constexpr std::uint64_t kGenerationStride = 1024;

// The simulated validators' and operator's Ed25519 keys depend on their index only, not on the
// seed: Ed25519 signatures are deterministic, so runs that cast the same votes sign the same
// bytes, and a thread's verification cache serves them all.
const crypto::SecretKey& simulated_key(std::uint64_t index);
// One bounded cache of verified signatures per thread, kept across runs (a cache hit gives the
// same answer as verifying, so runs stay exact).
std::shared_ptr<crypto::VerifyCache> thread_verify_cache();

class Simulation {
 public:
  Simulation(const Scenario& scenario, std::uint64_t seed)
      : scenario_(scenario),
        rng_(seed),
        keyring_(std::make_shared<MacKeyring>(seed)),
        checker_(scenario, verify_cache_.get()) {
    result_.seed = seed;
    build_cluster();
  }

  RunResult run();

 private:
  void build_cluster();
  bft::ReplicaOptions options_for(const ClusterConfig& config) const;
  // A host's part in the epoch of `config`, its register starting from `start` (empty: genesis).
  EpochPart make_part(const ReplicaHost& host, const ClusterConfig& config, Bytes start);
  Instance make_instance(const ReplicaHost& host, const EpochPart& part);
  void schedule(Time at, EventKind kind, std::uint32_t target, std::uint64_t arg = 0,
                MessagePtr message = nullptr) {
    queue_.push(at, Event{kind, target, arg, std::move(message)});
  }
  void process(const Event& event);  // dispatches each event to one of:
  void deliver(const Event& event);
  void deliver_reply(Client& client, const bft::SignedMessage& message);
  void tick(ReplicaHost& host);
  void recover(ReplicaHost& host);
  void submit(std::uint64_t version);
  void client_retry(Client& client, std::uint64_t request_id);
  void fetched(std::uint32_t node, std::uint64_t version);
  void swapped(std::uint32_t node, std::uint64_t version);
  void handle_ready(ReplicaHost& host, std::size_t part, std::size_t instance);
  bool maybe_compact(Instance& instance);
  void crash(ReplicaHost& host, bool power_loss = false);
  void send(std::uint32_t from_replica_group, PrincipalId to, const MessagePtr& message,
            Duration extra_delay, std::uint64_t epoch);
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
  Outstanding& client_submit(Client& client, Bytes operation, std::uint64_t epoch);
  void client_send_all(Client& client, const Outstanding& request);
  void start_validations(ReplicaHost& host, EpochPart& part);
  void cast_vote(ReplicaHost& host, std::uint64_t version);
  void poll(std::uint32_t node);
  void walk_chain(FleetNode& node, std::span<const ReplicaId> order);
  std::optional<bft::ReleaseOffer> leaked_key_offer(const FleetNode& node, ReplicaId from);
  void check_releases(ReplicaHost& host);
  void check_convergence();
  bool within(const std::vector<Window>& windows) const;
  void sample_fleet();
  // Epochs (epochs.cpp): the operator's change, approvals and the switch, new members joining.
  void reconfigure(std::size_t index);
  EpochPlan plan_epoch(const ReconfigurationSpec& spec);
  void epoch_step(ReplicaHost& host, std::size_t part);
  void on_epoch_certified(ReplicaHost& host, const bft::AdapterRegister& reg);
  void note_started(std::uint64_t epoch);  // every honest member that is up runs it: recorded
  void join(ReplicaHost& host);
  void joined(ReplicaHost& host);
  bool switching() const;  // a reconfiguration the operator proposed is not certified yet
  const crypto::SecretKey& validator_key(ReplicaId id, const crypto::PublicKey& public_key) const;
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
  // The newest epoch some honest host runs: what the operator submits to.
  std::uint64_t newest_epoch() const { return plans_.rbegin()->first; }

  const Scenario& scenario_;
  Rng rng_;
  std::shared_ptr<MacKeyring> keyring_;
  std::shared_ptr<bft::Verifier> verifier_;
  std::shared_ptr<crypto::VerifyCache> verify_cache_ = thread_verify_cache();
  ClusterConfig config_;  // the genesis config
  const crypto::SecretKey* operator_key_ = nullptr;
  std::vector<ReplicaHost> hosts_;  // by validator id, scenario_.slots() of them
  std::map<PrincipalId, Client> clients_;
  std::vector<FleetNode> fleet_;
  // Epochs some honest host runs (the genesis one from the start), and the one proposed next.
  std::map<std::uint64_t, EpochPlan> plans_;
  std::optional<EpochPlan> proposed_;
  std::map<ReplicaId, std::uint64_t> generation_;  // of each id's key: bumped by a new key
  EventQueue queue_;
  Time now_{0};
  bool stopped_ = false;  // a replica broke one of its own invariants: the run ends there
  RunResult result_;
  InvariantChecker checker_;
};

}  // namespace bftgate::sim::detail
