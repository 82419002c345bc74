// The deterministic discrete-event simulator: the real PBFT core and adapter register on a
// simulated network (per-link latency, loss, duplication, reordering, partitions, GST), with
// crashes and recoveries (a node keeps only what it persisted), validators that take time to
// validate and vote, an operator that submits adapters, Byzantine strategies, and an inference
// fleet that polls, verifies certificates, fetches and swaps. One seed gives one exact run; an
// invariant checker runs after every event.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

#include "bftgate/core/messages.hpp"
#include "bftgate/sim/scenario.hpp"

namespace bftgate::sim {

struct VersionOutcome {
  std::uint64_t version = 0;
  bool passes = false;           // every honest validator votes PASS
  std::string state = "absent";  // in the honest replicas' registers at the end
  double submitted_s = 0;
  std::optional<double> certified_s;  // first honest replica to hold its certificate
  std::optional<double> converged_s;  // the whole live fleet serving it (or later)
  double bound_s = 0;                 // the liveness bound for this adapter
  // How long each honest validator's (last) validation of it took, by validator id: what the
  // convergence bounds are computed from.
  std::map<std::uint32_t, double> validation_s;
};

// Where an honest replica that is up stands when the run ends.
struct ReplicaAtEnd {
  std::uint32_t id = 0;
  std::uint64_t view = 0;
  bool view_active = true;
  bool voting = true;
  std::uint64_t last_executed = 0;
  std::string log_hash;  // the register's operation-log head, hex

  bool operator==(const ReplicaAtEnd&) const = default;
};

// What the fleet served at one instant (FleetSpec::sample_interval_s).
struct FleetSample {
  double t_s = 0;
  std::uint64_t newest_certified = 0;  // the newest release any honest validator that is up holds
  std::uint64_t min_served = 0;
  std::uint64_t max_served = 0;
  // A node serves a version no honest validator that is up holds as released, or an adapter
  // that honest validators would fail.
  bool uncertified_served = false;
  std::uint32_t serving_failing = 0;  // nodes serving an adapter honest validators would fail
  bool cut_off = false;               // the fleet cannot reach the validators
};

// One epoch change of the scenario, as it went.
struct EpochOutcome {
  std::uint64_t epoch = 0;  // the epoch it starts
  std::string change;       // "replace", "grow", "shrink", "rotate"
  std::size_t validators = 0;
  double proposed_s = 0;              // first proposed
  std::uint32_t proposals = 0;        // times proposed (refused while a vote was under way)
  std::optional<double> accepted_s;   // ordered: the register froze (f+1 replies)
  std::optional<double> certified_s;  // the first honest validator holds its epoch certificate
  std::optional<double> started_s;    // every honest member of the new set that is up runs it
};

// A new member (a new machine) catching up from the old set's frozen register.
struct JoinOutcome {
  std::uint32_t validator = 0;
  std::uint64_t epoch = 0;
  double began_s = 0;
  double joined_s = 0;
  std::uint64_t bytes = 0;    // the frozen register it fetched and verified
  std::uint32_t refused = 0;  // handoffs it refused first (from Byzantine old members)
};

struct RunResult {
  std::uint64_t seed = 0;
  std::vector<VersionOutcome> versions;
  std::array<std::uint64_t, bft::kMessageTypeCount> sent_by_type{};
  std::uint64_t bytes_sent = 0;  // wire bytes of every message sent (signature included)
  std::uint64_t deliveries = 0;
  std::uint64_t dropped = 0;
  std::uint64_t events = 0;
  std::uint64_t view_changes = 0;  // new views entered (by any honest replica)
  std::uint64_t state_transfers = 0;
  std::uint64_t compactions = 0;  // write-ahead logs rewritten to their live records
  std::uint64_t crashes_after_compaction = 0;
  std::uint64_t records_lost_to_power = 0;  // written, never synced, gone with a power loss
  std::uint64_t committed_seqs = 0;         // highest sequence number executed by an honest replica
  std::uint64_t refused_loads = 0;  // inference-node refusals (bad certificate, digest, version)
  std::vector<std::string> violations;  // each: "<invariant>: <what happened>"
  std::vector<ReplicaAtEnd> replicas_at_end;
  std::vector<FleetSample> fleet_samples;
  std::vector<EpochOutcome> epochs;
  std::vector<JoinOutcome> joins;
  std::uint64_t refused_links = 0;          // epoch links inference nodes refused
  std::uint64_t resubmitted_proposals = 0;  // the operator's, refused across a switch
  std::uint64_t trace_hash = 0;             // folds every event: equal for equal runs
  double end_s = 0;

  bool has_violation(std::string_view invariant) const;
  nlohmann::json to_json() const;
};

RunResult simulate(const Scenario& scenario, std::uint64_t seed);

}  // namespace bftgate::sim
