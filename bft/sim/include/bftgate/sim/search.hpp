// Randomized search for Byzantine schedules that break an invariant, after ByzzFuzz: each seed
// draws network faults (partitions that hold for one protocol round) and process faults
// (mutations of the Byzantine validators' messages in one round, or their votes), runs the
// simulator with the invariant checker after every event, and a schedule that breaks an
// invariant is shrunk by delta debugging over its faults to a minimal one, which replays from
// its scenario file (`bftgate simulate --scenario`).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "bftgate/sim/scenario.hpp"
#include "bftgate/sim/simulator.hpp"

namespace bftgate::sim {

struct SearchOptions {
  std::size_t validators = 4;
  // Byzantine validators per schedule; nullopt: f. Above f, schedules should break safety.
  std::optional<std::size_t> byzantine;
  std::uint64_t rounds = 3;        // faults land in views [0, rounds)...
  std::uint64_t seqs = 6;          // ...and, where bound to one, sequence numbers [1, seqs]
  std::size_t network_faults = 2;  // d: round partitions per schedule
  std::size_t process_faults = 4;  // c: mutations per schedule
  bool any_scope = false;          // also draw any-scope mutations (wide values, corrupt bytes)
  // Epoch changes a schedule: each a replace, a rotation, or a grow by 3 (a shrink back once
  // grown), at a random time in the first half of the run; faults then fall around the switch.
  std::size_t epoch_changes = 0;
  bool liveness = false;         // count liveness violations as findings (safety always)
  std::optional<Scenario> base;  // default: search_base_scenario(validators)
};

// A short run that exercises what the invariants are about: a passing adapter, then one that
// the honest validators split on (one PASS), with checkpoints, compaction and a fleet.
Scenario search_base_scenario(std::size_t validators);

// The schedule seed `seed` draws (its faults and Byzantine validators), as a scenario.
Scenario draw_schedule(const SearchOptions& options, std::uint64_t seed);
std::size_t fault_count(const Scenario& scenario);

// The invariant a run broke and counts as a finding ("register-safety", ...), if any.
std::optional<std::string> finding_of(const RunResult& result, const SearchOptions& options);

struct Finding {
  std::uint64_t seed = 0;
  std::string invariant;
  std::string violation;  // the first violation of the drawn schedule
  std::size_t faults_drawn = 0;
  Scenario shrunk;                // minimal: no fault can be left out (replays with `seed`)
  RunResult replay;               // the shrunk scenario's run
  std::uint64_t shrink_runs = 0;  // simulator runs the shrinking took
  double shrink_s = 0;
};

// Delta debugging (ddmin) over the schedule's faults, then over its Byzantine validators that
// no longer mutate anything: the smallest scenario that still breaks `invariant` with `seed`.
Finding shrink(const Scenario& drawn, std::uint64_t seed, const std::string& invariant,
               const std::string& violation);

struct SearchBudget {
  std::uint64_t first_seed = 1;
  std::uint64_t seeds = 1000;    // schedules to try...
  double time_s = 0;             // ...or, when > 0, as many as fit in this wall time
  std::size_t jobs = 1;          // threads
  std::size_t max_findings = 3;  // shrink (and stop after) this many findings; 0: never stop
};

struct SearchProgress {
  std::uint64_t schedules = 0;
  std::uint64_t violating = 0;
  double elapsed_s = 0;
};

struct SearchReport {
  std::uint64_t schedules = 0;
  std::uint64_t violating = 0;  // schedules that broke an invariant
  std::uint64_t deliveries = 0;
  std::uint64_t faults_drawn = 0;
  std::map<std::string, std::uint64_t> by_invariant;
  std::map<std::string, std::uint64_t> mutations_by_kind;  // drawn, over all schedules
  double search_s = 0;  // wall time of the search itself (shrinking excluded)
  std::size_t jobs = 1;
  std::vector<Finding> findings;  // shrunk, in seed order

  double schedules_per_s_per_core() const;
};

// Runs the search; `progress` (if set) is called every so often from one thread.
SearchReport search(const SearchOptions& options, const SearchBudget& budget,
                    const std::function<void(const SearchProgress&)>& progress = {});

}  // namespace bftgate::sim
