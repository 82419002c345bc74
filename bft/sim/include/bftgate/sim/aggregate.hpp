// What many seeded runs of one scenario add up to: decisions, messages, certification latency
// and fleet convergence (mean, p50, p99, max), invariant violations by kind, and whether they
// are what the scenario expects. `bftgate simulate` prints it; experiment drivers reuse it.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "bftgate/sim/scenario.hpp"
#include "bftgate/sim/simulator.hpp"

namespace bftgate::sim {

// p in [0, 1], nearest rank; 0 for no values.
double percentile(std::vector<double> values, double p);
// {"count", "mean", "p50", "p99", "max"} ({"count": 0} for no values).
nlohmann::json summary(const std::vector<double>& values);

class SeedAggregate {
 public:
  explicit SeedAggregate(const Scenario& scenario) : scenario_(scenario) {}

  void add(const RunResult& result);

  std::uint64_t runs() const { return runs_; }
  std::uint64_t runs_with_violations() const { return runs_with_violations_; }
  // Clean runs when the scenario expects none; otherwise at least one violation, all of the
  // expected kind.
  bool as_expected() const;
  nlohmann::json to_json(double wall_s) const;

 private:
  const Scenario& scenario_;
  std::uint64_t runs_ = 0;
  std::uint64_t runs_with_violations_ = 0;
  std::uint64_t deliveries_ = 0;
  std::uint64_t view_changes_ = 0;
  std::uint64_t state_transfers_ = 0;
  std::map<std::string, std::uint64_t> messages_;
  std::map<std::string, std::uint64_t> decisions_;
  std::map<std::string, std::uint64_t> violation_kinds_;
  std::vector<double> latency_;
  std::vector<double> convergence_;
};

// "i/N" -> {i, N} with 0 <= i < N: a shard of a seed range, for batch schedulers.
Result<std::pair<std::uint64_t, std::uint64_t>> parse_shard(const std::string& text);

}  // namespace bftgate::sim
