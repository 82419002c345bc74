// The `exposure` experiment (Vaidyanathan's motivation): how much traffic a bad adapter reaches
// under four release strategies, with Byzantine validators voting PASS on everything.
//   rolling   no gate: every adapter reaches the fleet in batches (10% of the nodes every 2 s)
//   canary    5% of the nodes first; one validator judges it; then everyone, or the canaries
//             roll back
//   vaidyanathan   the gate as Vaidyanathan writes it: a majority (CFT) quorum of PASS votes
//   bftgate   the BFT gate: 2f+1 of 3f+1
// The gates run in the simulator (7 validators); rolling and canary are timed models. Six
// adapters are submitted 20 s apart; two are bad in a way one honest validator misses (its suite
// passes them), so f+1 validators voting PASS on everything can push one through a gate.
// Requests spread evenly over the nodes, so the fraction of requests a bad adapter serves is the
// time-average of the fraction of nodes serving one.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "bftgate/base/strict_json.hpp"
#include "bftgate/experiments/experiments.hpp"
#include "bftgate/sim/aggregate.hpp"
#include "bftgate/sim/simulator.hpp"

namespace bftgate::experiments {

using nlohmann::json;

namespace exposure_detail {  // not anonymous: the library is built in unity units

constexpr std::size_t kValidators = 7;
constexpr std::uint64_t kAdapters = 6;
constexpr double kFirstSubmitS = 2;
constexpr double kSubmitEveryS = 20;
constexpr double kDurationS = kFirstSubmitS + kAdapters * kSubmitEveryS;
constexpr double kSampleS = 0.1;
constexpr double kBatchFraction = 0.1;  // rolling: a tenth of the fleet per step
constexpr double kBatchS = 2;
constexpr double kCanaryFraction = 0.05;
const std::vector<std::uint64_t> kBadVersions = {2, 5};

bool is_bad(std::uint64_t version) {
  return std::find(kBadVersions.begin(), kBadVersions.end(), version) != kBadVersions.end();
}

sim::DurationDistribution validation_time() {
  return sim::DurationDistribution::uniform(1000, 3000);
}

// The adapters, the bad ones passed by honest validator 0 (the one whose suite misses the flaw).
std::vector<sim::AdapterSpec> adapters() {
  std::vector<sim::AdapterSpec> out;
  for (std::uint64_t v = 1; v <= kAdapters; ++v) {
    sim::AdapterSpec a;
    a.version = v;
    a.submit_s = kFirstSubmitS + static_cast<double>(v - 1) * kSubmitEveryS;
    a.size_bytes = 16 << 20;
    if (is_bad(v)) {
      a.verdict = sim::Verdict::kFail;
      a.verdict_by_validator = {{0, sim::Verdict::kPass}};
    }
    out.push_back(std::move(a));
  }
  return out;
}

// What one run yields, from the fleet's timeline.
struct Exposure {
  double bad_node_seconds = 0;    // integral of the number of nodes serving a bad adapter
  double mixed_s = 0;             // time with more than one version served
  std::vector<double> rollout_s;  // per good adapter: submission to every node serving it

  json to_json(std::size_t nodes) const {
    const double span = kDurationS - kFirstSubmitS;
    return {{"bad_request_fraction", bad_node_seconds / (static_cast<double>(nodes) * span)},
            {"mixed_version_s", mixed_s},
            {"mixed_version_fraction", mixed_s / span},
            {"rollout_s", sim::summary(rollout_s)},
            {"rollouts", rollout_s.size()}};
  }
};

// Rolling and canary as timed models: changes[k] lists (time, version) for node k in time
// order; a node serves the version of its last change at or before t (0 before any).
using Changes = std::vector<std::vector<std::pair<double, std::uint64_t>>>;

Exposure timeline(Changes changes) {
  Exposure e;
  const auto nodes = changes.size();
  for (auto& node : changes) std::sort(node.begin(), node.end());
  const auto serving = [&](std::size_t k, double t) {
    std::uint64_t version = 0;
    for (const auto& [at, v] : changes[k]) {
      if (at > t) break;
      version = v;
    }
    return version;
  };
  for (double t = kFirstSubmitS; t < kDurationS; t += kSampleS) {
    std::uint64_t lo = kAdapters + 1, hi = 0;
    std::size_t bad = 0;
    for (std::size_t k = 0; k < nodes; ++k) {
      auto v = serving(k, t);
      lo = std::min(lo, v);
      hi = std::max(hi, v);
      if (is_bad(v)) ++bad;
    }
    e.bad_node_seconds += static_cast<double>(bad) * kSampleS;
    if (lo != hi) e.mixed_s += kSampleS;
  }
  for (std::uint64_t v = 1; v <= kAdapters; ++v) {
    if (is_bad(v)) continue;
    auto submit = kFirstSubmitS + static_cast<double>(v - 1) * kSubmitEveryS;
    double all = 0;
    for (std::size_t k = 0; k < nodes; ++k) {
      double first = std::numeric_limits<double>::infinity();
      for (const auto& [at, version] : changes[k]) {
        if (version >= v) first = std::min(first, at);
      }
      all = std::max(all, first);
    }
    if (std::isfinite(all)) e.rollout_s.push_back(all - submit);
  }
  return e;
}

Exposure rolling(std::size_t nodes, std::mt19937_64& rng) {
  const auto per_batch = std::max<std::size_t>(
      1, static_cast<std::size_t>(std::lround(kBatchFraction * static_cast<double>(nodes))));
  std::uniform_real_distribution<double> jitter(0, 0.1 * kBatchS);
  Changes changes(nodes);
  for (std::size_t k = 0; k < nodes; ++k) {
    for (std::uint64_t v = 1; v <= kAdapters; ++v) {
      auto submit = kFirstSubmitS + static_cast<double>(v - 1) * kSubmitEveryS;
      changes[k].push_back(
          {submit + static_cast<double>(k / per_batch + 1) * kBatchS + jitter(rng), v});
    }
  }
  return timeline(std::move(changes));
}

// The canaries take every adapter at once; one validator, drawn per adapter, judges it (a
// Byzantine judge passes everything); a pass sends it to the rest, a fail rolls the canaries
// back to the version they served before.
Exposure canary(std::size_t nodes, std::size_t byzantine, std::mt19937_64& rng) {
  const auto canaries = std::max<std::size_t>(
      1, static_cast<std::size_t>(std::lround(kCanaryFraction * static_cast<double>(nodes))));
  auto judge_time = validation_time();
  Changes changes(nodes);
  std::uint64_t fleet_version = 0;  // what the non-canary nodes serve
  for (std::uint64_t v = 1; v <= kAdapters; ++v) {
    auto submit = kFirstSubmitS + static_cast<double>(v - 1) * kSubmitEveryS;
    auto judged = submit + std::chrono::duration<double>(judge_time.sample(rng)).count();
    auto judge = rng() % kValidators;
    // Validators 0..n-1-byzantine are honest; validator 0 misses the bad adapters' flaw.
    bool byzantine_judge = judge >= kValidators - byzantine;
    bool pass = !is_bad(v) || byzantine_judge || judge == 0;
    for (std::size_t k = 0; k < nodes; ++k) {
      if (k < canaries) {
        changes[k].push_back({submit, v});
        if (!pass) changes[k].push_back({judged, fleet_version});  // rolled back
      } else if (pass) {
        changes[k].push_back({judged, v});
      }
    }
    if (pass) fleet_version = v;
  }
  return timeline(std::move(changes));
}

Exposure gated(std::size_t nodes, std::size_t byzantine, FaultModel model, std::uint64_t seed) {
  sim::Scenario s;
  s.name = "exposure";
  s.validators = kValidators;
  s.fault_model = model;
  s.validation_time = validation_time();
  s.adapters = adapters();
  for (std::size_t b = 0; b < byzantine; ++b)
    s.byzantine[static_cast<bft::ReplicaId>(kValidators - 1 - b)] = "pass-all";
  s.fleet.nodes = nodes;
  s.fleet.poll_interval_s = 1;
  s.fleet.sample_interval_s = kSampleS;
  s.duration_s = kDurationS;
  s.convergence_bound_s = kDurationS;
  auto result = sim::simulate(s, seed);
  Exposure e;
  for (const auto& sample : result.fleet_samples) {
    if (sample.t_s < kFirstSubmitS) continue;
    e.bad_node_seconds += static_cast<double>(sample.serving_failing) * kSampleS;
    if (sample.min_served != sample.max_served) e.mixed_s += kSampleS;
  }
  for (const auto& v : result.versions) {
    if (v.passes && v.converged_s) e.rollout_s.push_back(*v.converged_s - v.submitted_s);
  }
  return e;
}

class ExposureExperiment final : public Experiment {
 public:
  std::string_view name() const override { return "exposure"; }
  std::string_view description() const override {
    return "Vaidyanathan's motivation: requests served by bad adapters, mixed-version time and "
           "rollout time for rolling, canary, Vaidyanathan's CFT gate and bftgate's BFT gate";
  }

  json config(Size size) const override {
    return {{"fleets", size == Size::kSmoke ? json{10, 100} : json{10, 100, 1000}},
            {"strategies", {"rolling", "canary", "vaidyanathan", "bftgate"}},
            {"byzantine", {0, 1, 2, 3}},  // 0 to f+1 for f = 2
            {"seeds", size == Size::kSmoke ? 1 : 10}};
  }

  std::vector<json> sweep(const json& config) const override {
    std::vector<json> runs;
    for (const auto& nodes : config.at("fleets")) {
      for (const auto& strategy : config.at("strategies")) {
        for (const auto& byzantine : config.at("byzantine")) {
          // Without validators there is no one to corrupt: rolling runs once per fleet.
          if (strategy.get<std::string>() == "rolling" && byzantine.get<std::size_t>() != 0)
            continue;
          for (std::uint64_t r = 0; r < config.at("seeds").get<std::uint64_t>(); ++r) {
            json params = {{"nodes", nodes},
                           {"strategy", strategy},
                           {"byzantine", byzantine},
                           {"validators", kValidators},
                           {"repetition", r}};
            params["seed"] = seed_of(params);
            runs.push_back(std::move(params));
          }
        }
      }
    }
    return runs;
  }

  json run(const json& params) const override {
    const auto nodes = params.at("nodes").get<std::size_t>();
    const auto byzantine = params.at("byzantine").get<std::size_t>();
    const auto strategy = params.at("strategy").get<std::string>();
    const auto seed = params.at("seed").get<std::uint64_t>();
    std::mt19937_64 rng(seed);
    Exposure e;
    if (strategy == "rolling") {
      e = rolling(nodes, rng);
    } else if (strategy == "canary") {
      e = canary(nodes, byzantine, rng);
    } else {
      e = gated(nodes, byzantine, strategy == "vaidyanathan" ? FaultModel::kCft : FaultModel::kBft,
                seed);
    }
    return e.to_json(nodes);
  }

  Summary summarize(const json& config, const std::vector<json>& records) const override {
    // Mean per (strategy, byzantine), over fleets and seeds, and per fleet size.
    std::map<std::pair<std::string, std::uint64_t>, std::vector<double>> bad, mixed, rollout;
    for (const auto& record : records) {
      const auto& p = record.at("params");
      const auto& r = record.at("result");
      std::pair key{p.at("strategy").get<std::string>(), p.at("byzantine").get<std::uint64_t>()};
      bad[key].push_back(r.at("bad_request_fraction").get<double>());
      mixed[key].push_back(r.at("mixed_version_fraction").get<double>());
      if (r.at("rollout_s").value("count", 0) > 0)
        rollout[key].push_back(r.at("rollout_s").at("mean").get<double>());
    }
    const auto mean = [](const std::vector<double>& v) {
      double sum = 0;
      for (double x : v) sum += x;
      return v.empty() ? 0.0 : sum / static_cast<double>(v.size());
    };
    json table = json::array();
    std::string markdown =
        "| strategy | Byzantine validators | requests served by a bad adapter | mixed-version "
        "time | mean time to full rollout (s) |\n|---|---|---|---|---|\n";
    bool gate_held = true;
    for (const auto& [key, values] : bad) {
      auto row = json{{"strategy", key.first},
                      {"byzantine", key.second},
                      {"bad_request_fraction", mean(values)},
                      {"mixed_version_fraction", mean(mixed[key])},
                      {"rollout_s", mean(rollout[key])}};
      table.push_back(row);
      markdown += fmt::format("| {} | {} | {:.4f} | {:.3f} | {:.2f} |\n", key.first, key.second,
                              mean(values), mean(mixed[key]), mean(rollout[key]));
      // Within f = 2 the BFT gate lets no bad adapter through.
      if (key.first == "bftgate" && key.second <= 2 && mean(values) > 0) gate_held = false;
    }
    Summary summary;
    summary.ok = gate_held;
    summary.data = {{"runs", records.size()},
                    {"config", config},
                    {"by_strategy", table},
                    {"bftgate_within_f_served_no_bad_request", gate_held}};
    summary.markdown = fmt::format(
        "# exposure\n\n"
        "Six adapters, {:.0f} s apart; versions 2 and 5 are bad in a way one honest validator "
        "misses. Requests spread evenly over the nodes. Byzantine validators vote PASS on "
        "everything (pass-all; for the canary, a Byzantine judge). Means over fleets of {} nodes "
        "and seeds.\n\n{}\n"
        "bftgate with at most f = 2 Byzantine validators served no request with a bad adapter: "
        "**{}**.\n",
        kSubmitEveryS, config.at("fleets").dump(), markdown, gate_held ? "yes" : "NO");
    return summary;
  }
};

}  // namespace exposure_detail

std::unique_ptr<Experiment> make_exposure() {
  return std::make_unique<exposure_detail::ExposureExperiment>();
}

}  // namespace bftgate::experiments
