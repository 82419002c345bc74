// The `consistability` experiment (Aiyer et al.): which consistency class the serving fleet
// provides under each failure scenario, as a fraction of time, and CProb per class for a
// failure-scenario distribution FProb. A stream of adapters (one of them bad) is released to the
// fleet; every 100 ms the run records what each node serves.
//
// Classes, nested (so the CProbs of one strategy sum to more than 1):
//   single-certified     every node serves the newest certified version
//   certified-within-1   every node serves a certified version at most one behind the newest
//   certified            every served version is certified, and the validators are reachable
//   none (the empty set) a node serves an uncertified adapter, or no certified version is
//                        reachable (the fleet is cut off from the validators)
// For the rolling update, which certifies nothing, a version counts as certified when it is a
// passing adapter: what a gate would have certified. Vaidyanathan's gate as written is the same
// register with a majority (CFT) quorum: 4 of 7 instead of 5.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "bftgate/base/strict_json.hpp"
#include "bftgate/byzantine/byzantine.hpp"
#include "bftgate/experiments/experiments.hpp"
#include "bftgate/io/file_io.hpp"
#include "bftgate/sim/simulator.hpp"

#ifndef BFTGATE_SOURCE_DIR
#define BFTGATE_SOURCE_DIR "."
#endif

namespace bftgate::experiments {

using nlohmann::json;

namespace consistability_detail {  // not anonymous: the library is built in unity units

constexpr std::size_t kValidators = 7;  // f = 2
constexpr std::size_t kNodes = 5;
constexpr std::uint64_t kAdapters = 6;
constexpr std::uint64_t kBadVersion = 3;
constexpr double kFirstSubmitS = 2;
constexpr double kSubmitEveryS = 10;
constexpr double kDurationS = kFirstSubmitS + kAdapters * kSubmitEveryS;
constexpr double kSampleS = 0.1;
constexpr double kFaultStartS = 10, kFaultEndS = 25;  // covers version 2's release at 12 s
constexpr double kRollingBatchS = 2;                  // the rolling update moves one node every 2 s
const std::vector<std::string> kClasses = {"single-certified", "certified-within-1", "certified",
                                           "none"};

// The failure scenarios F, disjoint: each names everything that goes wrong in it.
std::vector<std::string> scenario_names() {
  std::vector<std::string> names = {"none", "one-crashed", "f-crashed"};
  for (const auto& s : bft::strategies()) {
    if (s.standalone && s.name != "pass-all")
      names.push_back(fmt::format("f-byzantine-{}", s.name));
  }
  names.insert(names.end(), {"f-byzantine-pass-all", "f-plus-1-colluders", "validator-partition",
                             "fleet-cut-off", "store-down", "lossy", "composite"});
  return names;
}

sim::Scenario base_scenario() {
  sim::Scenario s;
  s.name = "consistability";
  s.validators = kValidators;
  s.validation_time = sim::DurationDistribution::uniform(500, 1500);
  for (std::uint64_t v = 1; v <= kAdapters; ++v) {
    sim::AdapterSpec a;
    a.version = v;
    a.submit_s = kFirstSubmitS + static_cast<double>(v - 1) * kSubmitEveryS;
    a.size_bytes = 16 << 20;
    if (v == kBadVersion) {
      a.verdict = sim::Verdict::kFail;
      // Two honest validators would pass it: with f+1 colluders that makes a quorum.
      a.verdict_by_validator = {{0, sim::Verdict::kPass}, {1, sim::Verdict::kPass}};
    }
    s.adapters.push_back(std::move(a));
  }
  s.fleet.nodes = kNodes;
  s.fleet.poll_interval_s = 0.5;
  s.fleet.sample_interval_s = kSampleS;
  s.duration_s = kDurationS;
  s.convergence_bound_s = kDurationS;  // classes are measured here, not liveness
  return s;
}

void apply_failure(const std::string& name, sim::Scenario& s) {
  const auto last = static_cast<bft::ReplicaId>(kValidators - 1);
  if (name == "one-crashed") {
    s.crashes.push_back({last, 5, std::nullopt});
  } else if (name == "f-crashed") {
    s.crashes.push_back({last, 5, std::nullopt});
    s.crashes.push_back({last - 1, 5, std::nullopt});
  } else if (name.rfind("f-byzantine-", 0) == 0) {
    auto strategy = name.substr(std::string("f-byzantine-").size());
    s.byzantine = {{last, strategy}, {last - 1, strategy}};
  } else if (name == "f-plus-1-colluders") {
    s.byzantine = {{last, "pass-all"}, {last - 1, "pass-all"}, {last - 2, "pass-all"}};
  } else if (name == "validator-partition") {
    s.partitions.push_back({kFaultStartS, kFaultEndS, {{0, 1, 2}, {3, 4, 5, 6}}});
  } else if (name == "fleet-cut-off") {
    s.fleet.cut_off.push_back({kFaultStartS, kFaultEndS});
  } else if (name == "store-down") {
    s.fleet.store_down.push_back({kFaultStartS, kFaultEndS});
  } else if (name == "lossy") {
    sim::LinkSpec lossy;
    lossy.latency = sim::DurationDistribution::uniform(1, 50);
    lossy.loss = 0.1;
    s.link = lossy;
  } else if (name == "composite") {
    s.crashes.push_back({last, 5, std::nullopt});
    s.fleet.store_down.push_back({kFaultStartS, kFaultEndS});
    sim::LinkSpec lossy;
    lossy.latency = sim::DurationDistribution::uniform(1, 50);
    lossy.loss = 0.1;
    s.link = lossy;
  }
}

// The ungated rolling update: every submitted adapter, good or bad, reaches node k at
// submit + (k+1) * batch (plus up to 10% jitter), unless the fleet cannot be reached from the
// rollout controller or the store is down, which holds the step until the window ends.
std::vector<sim::FleetSample> rolling_update(const sim::Scenario& s, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> jitter(0, 0.1 * kRollingBatchS);
  const auto held = [&](double t) {
    for (const auto* windows : {&s.fleet.cut_off, &s.fleet.store_down}) {
      for (const auto& w : *windows) {
        if (w.contains(t)) t = w.end_s;
      }
    }
    return t;
  };
  // update_at[k][v]: when node k starts serving version v.
  std::vector<std::vector<double>> update_at(kNodes, std::vector<double>(kAdapters + 1, 0));
  for (std::size_t k = 0; k < kNodes; ++k) {
    for (const auto& a : s.adapters)
      update_at[k][a.version] =
          held(a.submit_s + static_cast<double>(k + 1) * kRollingBatchS + jitter(rng));
  }
  std::vector<sim::FleetSample> samples;
  for (double t = 0; t < s.duration_s; t += kSampleS) {
    sim::FleetSample sample;
    sample.t_s = t;
    sample.min_served = kAdapters + 1;
    for (std::size_t k = 0; k < kNodes; ++k) {
      std::uint64_t serving = 0;
      for (std::uint64_t v = 1; v <= kAdapters; ++v) {
        if (update_at[k][v] <= t) serving = v;
      }
      sample.min_served = std::min(sample.min_served, serving);
      sample.max_served = std::max(sample.max_served, serving);
      if (serving == kBadVersion) sample.uncertified_served = true;
    }
    // "Certified" here: the newest passing adapter submitted so far.
    for (const auto& a : s.adapters) {
      if (a.submit_s <= t && a.passes()) sample.newest_certified = a.version;
    }
    samples.push_back(sample);
  }
  return samples;
}

// The fraction of time (samples from the first submission on) in each class.
json class_fractions(const std::vector<sim::FleetSample>& samples) {
  std::map<std::string, double> in;
  std::size_t counted = 0;
  for (const auto& s : samples) {
    if (s.t_s < kFirstSubmitS) continue;
    ++counted;
    bool certified = !s.uncertified_served && !s.cut_off;
    bool within = certified && s.newest_certified <= s.min_served + 1;
    bool single =
        certified && s.min_served == s.newest_certified && s.max_served == s.newest_certified;
    in["single-certified"] += single ? 1 : 0;
    in["certified-within-1"] += within ? 1 : 0;
    in["certified"] += certified ? 1 : 0;
    in["none"] += certified ? 0 : 1;
  }
  json out = json::object();
  for (const auto& c : kClasses) out[c] = counted == 0 ? 0.0 : in[c] / static_cast<double>(counted);
  return out;
}

class Consistability final : public Experiment {
 public:
  std::string_view name() const override { return "consistability"; }
  std::string_view description() const override {
    return "Aiyer et al.: time in each consistency class per failure scenario, and CProb per class "
           "for an FProb, for bftgate, Vaidyanathan's CFT gate and an ungated rolling update";
  }

  json config(Size size) const override {
    // FProb: a bundled example (experiments/consistability/fprob.json), copied into the config
    // so that the manifest holds it and its hash covers it.
    auto text =
        read_small_file(BFTGATE_SOURCE_DIR "/experiments/consistability/fprob.json", 1 << 20);
    auto parsed = text ? parse_json(*text) : Result<json>(text.error());
    json fprob = parsed ? *parsed : json();
    return {{"strategies", {"bftgate", "vaidyanathan", "rolling"}},
            {"scenarios", scenario_names()},
            {"seeds", size == Size::kSmoke ? 2 : 40},
            {"fprob", fprob.is_object() ? fprob.value("fprob", json::object()) : json::object()}};
  }

  std::vector<json> sweep(const json& config) const override {
    std::vector<json> runs;
    for (const auto& strategy : config.at("strategies")) {
      for (const auto& scenario : config.at("scenarios")) {
        for (std::uint64_t r = 0; r < config.at("seeds").get<std::uint64_t>(); ++r) {
          json params = {{"strategy", strategy},
                         {"scenario", scenario},
                         {"validators", kValidators},
                         {"nodes", kNodes},
                         {"repetition", r}};
          params["seed"] = seed_of(params);
          runs.push_back(std::move(params));
        }
      }
    }
    return runs;
  }

  json run(const json& params) const override {
    auto s = base_scenario();
    apply_failure(params.at("scenario").get<std::string>(), s);
    auto seed = params.at("seed").get<std::uint64_t>();
    if (params.at("strategy") == "rolling")
      return {{"classes", class_fractions(rolling_update(s, seed))}};
    // Vaidyanathan as written: the same replicated register, a majority (CFT) quorum.
    if (params.at("strategy") == "vaidyanathan") s.fault_model = FaultModel::kCft;
    auto result = sim::simulate(s, seed);
    json out = {{"classes", class_fractions(result.fleet_samples)},
                {"violations", result.violations},
                {"view_changes", result.view_changes}};
    // The transition after the fault heals: the fleet's lag behind the newest certified
    // version, every second from the fault's start.
    json lag = json::array();
    for (const auto& sample : result.fleet_samples) {
      auto tenth = static_cast<long>(std::lround(sample.t_s * 10));
      if (sample.t_s >= kFaultStartS - 5 && sample.t_s < kFaultEndS + 15 && tenth % 10 == 0) {
        lag.push_back({sample.t_s, static_cast<double>(sample.newest_certified) -
                                       static_cast<double>(sample.min_served)});
      }
    }
    out["lag_after_fault"] = lag;
    return out;
  }

  Summary summarize(const json& config, const std::vector<json>& records) const override {
    // Mean time fraction per (strategy, scenario, class).
    std::map<std::string, std::map<std::string, std::map<std::string, double>>> mean;
    std::map<std::string, std::map<std::string, std::size_t>> runs;
    for (const auto& record : records) {
      const auto& p = record.at("params");
      auto strategy = p.at("strategy").get<std::string>();
      auto scenario = p.at("scenario").get<std::string>();
      ++runs[strategy][scenario];
      for (const auto& c : kClasses)
        mean[strategy][scenario][c] += record.at("result").at("classes").at(c).get<double>();
    }
    for (auto& [strategy, scenarios] : mean) {
      for (auto& [scenario, classes] : scenarios) {
        for (auto& [c, value] : classes) value /= static_cast<double>(runs[strategy][scenario]);
      }
    }
    const auto& fprob = config.at("fprob");
    double fprob_total = 0;
    for (const auto& [scenario, p] : fprob.items()) fprob_total += p.get<double>();
    json cprob = json::object();
    Summary summary;
    summary.ok = std::abs(fprob_total - 1) < 1e-9;
    for (const auto& [strategy, scenarios] : mean) {
      double sum = 0;
      for (const auto& c : kClasses) {
        double value = 0;
        for (const auto& [scenario, p] : fprob.items()) {
          if (!scenarios.contains(scenario)) continue;
          value += p.get<double>() * scenarios.at(scenario).at(c);
        }
        cprob[strategy][c] = value;
        sum += value;
      }
      cprob[strategy]["sum"] = sum;
      // Nested classes: a moment in single-certified is also in the two above it.
      if (sum < 1 - 1e-9) summary.ok = false;
    }
    json fractions = json::object();
    for (const auto& [strategy, scenarios] : mean) {
      for (const auto& [scenario, classes] : scenarios) {
        for (const auto& [c, value] : classes) fractions[strategy][scenario][c] = value;
      }
    }
    summary.data = {{"runs", records.size()},     {"classes", kClasses},        {"fprob", fprob},
                    {"fprob_total", fprob_total}, {"time_fraction", fractions}, {"cprob", cprob}};
    std::string table = "| scenario | strategy |";
    for (const auto& c : kClasses) table += fmt::format(" {} |", c);
    table += "\n|---|---|";
    for (std::size_t i = 0; i < kClasses.size(); ++i) table += "---|";
    table += "\n";
    for (const auto& scenario : config.at("scenarios")) {
      for (const auto& [strategy, scenarios] : mean) {
        auto name = scenario.get<std::string>();
        if (!scenarios.contains(name)) continue;
        table += fmt::format("| {} | {} |", name, strategy);
        for (const auto& c : kClasses) table += fmt::format(" {:.3f} |", scenarios.at(name).at(c));
        table += "\n";
      }
    }
    std::string cprob_table = "| strategy |";
    for (const auto& c : kClasses) cprob_table += fmt::format(" CProb({}) |", c);
    cprob_table += " sum |\n|---|";
    for (std::size_t i = 0; i <= kClasses.size(); ++i) cprob_table += "---|";
    cprob_table += "\n";
    for (const auto& [strategy, values] : cprob.items()) {
      cprob_table += fmt::format("| {} |", strategy);
      for (const auto& c : kClasses)
        cprob_table += fmt::format(" {:.4f} |", values[c].get<double>());
      cprob_table += fmt::format(" {:.4f} |\n", values["sum"].get<double>());
    }
    summary.markdown = fmt::format(
        "# consistability\n\n"
        "The serving fleet ({} nodes, {} validators, f = 2) while {} adapters are released "
        "{:.0f} s apart (version {} is bad); each run samples what the fleet serves every "
        "{:.1f} s. Faults with a window last from {:.0f} s to {:.0f} s.\n\n"
        "Classes (nested): single-certified (every node serves the newest certified version) "
        "within certified-within-1 (every node at most one version behind) within certified "
        "(every served version certified, and the validators reachable); none: a node serves an "
        "uncertified adapter or the fleet cannot reach the validators. For the ungated rolling "
        "update a version counts as certified when it is a passing adapter.\n\n"
        "Time fraction in each class (mean over seeds):\n\n{}\n"
        "CProb(c) = sum over scenarios f of FProb(f) * time-fraction(c | f), with FProb from "
        "experiments/consistability/fprob.json (total {:.3f}). The classes nest, so each "
        "strategy's CProbs sum to at least 1.\n\n{}",
        kNodes, kValidators, kAdapters, kSubmitEveryS, kBadVersion, kSampleS, kFaultStartS,
        kFaultEndS, table, fprob_total, cprob_table);
    return summary;
  }
};

}  // namespace consistability_detail

std::unique_ptr<Experiment> make_consistability() {
  return std::make_unique<consistability_detail::Consistability>();
}

}  // namespace bftgate::experiments
