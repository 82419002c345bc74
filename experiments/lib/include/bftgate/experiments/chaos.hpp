// Real-process chaos (`bftgate chaos`, `make chaos`): a local cluster of real processes (4
// validators, 2 inference nodes, the store) under a random nemesis, Jepsen style. Each round
// draws one fault: a validator killed with SIGKILL and restarted, a validator cut off by
// nftables in a network namespace of the run's own (or by its in-process --faults where this
// machine cannot), a validator restarted as a Byzantine process for the round, an inference
// node killed and restarted, or none; at most f validators are ever faulty. Each round
// submits an adapter. After each round, everything healed, it checks from the validators'
// `status` and the nodes' /status that
//   - the passing adapter of the round is certified and served (liveness),
//   - the honest registers agree (the same operation-log hash at the same executed sequence
//     number, the same digest and decision for every version),
//   - no node ever served a version the registers do not hold as released, and no node's
//     version ever went down (across its restarts too).
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "bftgate/base/result.hpp"

namespace bftgate::experiments {

struct ChaosOptions {
  std::uint64_t rounds = 20;
  double time_s = 0;     // stop after this wall time even if rounds remain (0: no limit)
  double fault_s = 1.0;  // how long each round's fault holds
  double settle_s = 30;  // how long a healed round may take to certify and serve
  std::uint64_t seed = 1;
  std::filesystem::path out;  // run folder (manifest, data/rounds.jsonl, summary.json)
  std::string git_revision = "unknown";
};

struct ChaosProgress {
  std::uint64_t round = 0;
  std::uint64_t rounds = 0;
  double elapsed_s = 0;
  std::uint64_t violations = 0;
};

struct ChaosReport {
  std::uint64_t rounds = 0;
  std::map<std::string, std::uint64_t> faults;  // by kind
  std::uint64_t submitted = 0;
  std::uint64_t certified = 0;
  std::vector<std::string> violations;  // "round N: <invariant>: <what>"
  std::string partitions;               // "nftables" or why the in-process fallback was used
  std::vector<double> settle_s;         // each certified round: healing to certified and served
  double wall_s = 0;
  nlohmann::json to_json() const;
};

// Runs the rounds; an error only when the cluster cannot be run at all.
Result<ChaosReport> run_chaos(const ChaosOptions& options,
                              const std::function<void(const ChaosProgress&)>& progress = {});

}  // namespace bftgate::experiments
