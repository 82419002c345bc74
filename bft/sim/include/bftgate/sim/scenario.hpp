// A simulation scenario: the cluster, the network, faults, adversaries, the adapters submitted
// and the inference fleet. Scenarios are JSON files (see experiments/scenarios/); every field has
// a default, so a scenario states only what it is about. Times are in seconds unless named _ms.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "bftgate/base/result.hpp"
#include "bftgate/byzantine/round_faults.hpp"
#include "bftgate/config/cluster_config.hpp"
#include "bftgate/core/types.hpp"

namespace bftgate::sim {

using Rng = std::mt19937_64;
using bft::Duration;
using bft::ReplicaId;
using bft::Time;

// A distribution of durations: fixed, uniform [a, b], exponential with mean a, or log-normal
// with median a and shape b. JSON: {"fixed": ms} | {"uniform": [ms, ms]} | {"exponential": ms}
// | {"lognormal": [median_ms, sigma]}.
struct DurationDistribution {
  enum class Kind { kFixed, kUniform, kExponential, kLogNormal };
  Kind kind = Kind::kFixed;
  double a_ms = 0;
  double b_ms = 0;

  Duration sample(Rng& rng) const;
  double max_ms() const;  // an upper bound used for bounds (for unbounded kinds: a high quantile)
  static DurationDistribution fixed(double ms) { return {Kind::kFixed, ms, 0}; }
  static DurationDistribution uniform(double lo, double hi) { return {Kind::kUniform, lo, hi}; }
};

struct LinkSpec {
  DurationDistribution latency = DurationDistribution::uniform(1, 5);
  double loss = 0;       // probability a message is dropped
  double duplicate = 0;  // probability a message is delivered twice
};

struct PartitionSpec {
  double start_s = 0;
  double end_s = 0;                            // heals at end_s
  std::vector<std::vector<ReplicaId>> groups;  // replicas in different groups cannot talk
};

struct CrashSpec {
  ReplicaId replica = 0;
  double at_s = 0;
  std::optional<double> recover_s;  // restarts from what it persisted
  // The machine loses power rather than the process dying: what was written but never synced
  // (the last executed batches, Ready::needs_sync) is lost too.
  bool power_loss = false;
};

enum class Verdict { kPass, kFail };

struct AdapterSpec {
  std::uint64_t version = 1;
  double submit_s = 0;
  std::uint64_t size_bytes = 32 << 20;
  Verdict verdict = Verdict::kPass;                   // what honest validators conclude...
  std::map<ReplicaId, Verdict> verdict_by_validator;  // ...unless overridden for one of them
  bool tampered_artifact = false;                     // the store serves bytes that do not match

  Verdict honest_verdict(ReplicaId validator) const;
  // Passing: every honest validator would vote PASS (liveness is owed only to these).
  bool passes() const;
};

// An epoch change the operator proposes at at_s (and again, each client_retry_s, while the register
// refuses it: a vote under way, or the previous change not yet done), against the set the cluster
// runs then. JSON: "reconfigurations": [{"at_s": 10, "change": "replace", "validator": 2} |
// {"at_s": 10, "change": "grow" | "shrink", "validators": 7} | {"at_s": 10, "change": "rotate"}].
//   replace  validator `validator` moves to a new machine with a new key (made there): that
//            machine starts empty and joins from the old set's frozen register
//   grow     validators n..m-1 join, each a new machine; f becomes the most m tolerates
//   shrink   validators m..n-1 leave (they keep their old epoch's replica for laggards)
//   rotate   every validator keeps its machine and state and takes a new key
struct ReconfigurationSpec {
  enum class Change { kReplace, kGrow, kShrink, kRotate };
  double at_s = 0;
  Change change = Change::kRotate;
  ReplicaId validator = 0;     // replace
  std::size_t validators = 0;  // grow, shrink: the new n
};
std::string_view to_string(ReconfigurationSpec::Change change);

struct ProtocolTiming {
  std::uint64_t checkpoint_interval = 8;
  std::uint64_t watermark_window = 32;
  std::size_t max_batch = 16;
  std::size_t max_in_flight = 4;
  double view_change_timeout_ms = 500;
  double retransmit_ms = 100;
  double tick_ms = 10;
};

// Write-ahead log compaction, through the same Replica::live_records() the validator uses.
// JSON: "compaction": {"wal_records": 256, "crash_after_probability": 0, "down_s": 0.5}.
struct CompactionSpec {
  std::size_t wal_records = 256;  // compact a replica's log at this many records (0: never)
  // Chance that an honest replica crashes right after a compaction, before that step's messages
  // leave (only while every other replica is up), restarting down_s later.
  double crash_after_probability = 0;
  double down_s = 0.5;
};

// A span of time [start_s, end_s).
struct Window {
  double start_s = 0;
  double end_s = 0;
  bool contains(double t_s) const { return t_s >= start_s && t_s < end_s; }
};

struct FleetSpec {
  std::size_t nodes = 3;
  double poll_interval_s = 1.0;
  double bandwidth_mb_s = 1000;  // per node, MB/s
  double swap_ms = 5;
  // JSON: "cut_off": [[start_s, end_s], ...]: the fleet cannot reach the validators (its polls
  // go unanswered); "store_down": [[start_s, end_s], ...]: fetches fail.
  std::vector<Window> cut_off;
  std::vector<Window> store_down;
  // Every this many seconds the run records what the fleet serves (RunResult::fleet_samples,
  // for consistency classes); 0: never.
  double sample_interval_s = 0;
};

struct Scenario {
  std::string name = "unnamed";
  std::string description;
  std::size_t validators = 4;
  FaultModel fault_model = FaultModel::kBft;
  ProtocolTiming timing;
  LinkSpec link;                       // after GST
  std::optional<LinkSpec> before_gst;  // default: same as `link`
  double gst_s = 0;
  std::vector<PartitionSpec> partitions;
  std::vector<CrashSpec> crashes;
  CompactionSpec compaction;
  std::map<ReplicaId, std::string> byzantine;  // validator id -> strategy name
  // Faults bound to protocol rounds (bftgate/byzantine/round_faults.hpp), as the schedule search
  // draws them. JSON: "round_partitions": [{"view": v, "seq": s (optional), "groups": [[..], ..]}];
  // "mutations": [{"validator": id, "kind": "seq+1", "view": v, "seq": s, "to": [ids],
  // "salt": n} | {"validator": id, "kind": "vote-flip", "version": v}]. A mutated validator's
  // strategy must be "mutate".
  std::vector<bft::RoundPartition> round_partitions;
  std::vector<bft::Mutation> mutations;
  std::vector<AdapterSpec> adapters;
  std::vector<ReconfigurationSpec> reconfigurations;  // in time order
  // Liveness of each epoch change: from its first proposal to every honest member of the new
  // set (that is up) running it, when the cluster is stable over that span.
  double switch_bound_s = 10;
  // After an epoch is superseded, its keys leak to the adversary: each Byzantine validator
  // offers the fleet a certificate of that epoch, signed by all of its keys, for a version above
  // anything released (what EpochChain must refuse: kStaleEpoch).
  bool leak_retired_keys = false;
  DurationDistribution validation_time = DurationDistribution::uniform(200, 800);
  std::map<ReplicaId, DurationDistribution> validation_time_by_validator;
  FleetSpec fleet;
  double duration_s = 30;
  double client_retry_s = 1.0;
  // Liveness bound per passing adapter, from submission to the whole fleet serving it. 0: the
  // seed-000 bound (slowest validation + poll interval + transfer) plus consensus_allowance_s.
  double convergence_bound_s = 0;
  double consensus_allowance_s = 2.0;
  // What a correct run of this scenario shows: "none" (no invariant violation) or the
  // invariant a run is expected to break (e.g. "register-safety" with f+1 colluders).
  std::string expect_violation = "none";
  // The seed this scenario replays with (a schedule the search found); `bftgate simulate` runs
  // just this seed unless told otherwise.
  std::optional<std::uint64_t> seed;

  std::uint32_t f() const;  // of the genesis set
  // Validator ids any epoch uses: [0, slots()); ids of validators that joined are above n.
  std::size_t slots() const;
  const DurationDistribution& validation_time_of(ReplicaId validator) const;
  double convergence_bound_for(const AdapterSpec& adapter) const;

  static constexpr std::size_t kMaxScenarioBytes = 16 << 20;
  static Result<Scenario> from_json(const nlohmann::json& json);
  // Strict JSON (bounded size and depth, duplicate keys refused, UTF-8 checked), then from_json.
  static Result<Scenario> parse(std::string_view text);
  static Result<Scenario> load(const std::filesystem::path& path);
  nlohmann::json to_json() const;
};

}  // namespace bftgate::sim
