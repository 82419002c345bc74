// The `convergence` experiment (Vaidyanathan): how long from a passing adapter's submission until
// every live inference node serves it, against two bounds:
//   Vaidyanathan's:  max_i V_i + P + S/B                   (the slowest validator, as written)
//   quorum:      t_GST + V_(q) + C + P + S/B + L + swap (the q-th fastest live validator)
// where V_i are the validation times of the live validators, q = the certificate quorum (2f+1),
// P the poll interval, S/B the transfer, L the largest one-way latency after GST, and C the
// consensus allowance below. Each run is one simulator seed of one configuration.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "bftgate/base/strict_json.hpp"
#include "bftgate/config/cluster_setup.hpp"
#include "bftgate/experiments/experiments.hpp"
#include "bftgate/sim/aggregate.hpp"
#include "bftgate/sim/simulator.hpp"

namespace bftgate::experiments {

using nlohmann::json;

namespace {

constexpr double kSubmitS = 1.0;
constexpr double kGstS = 3.0;  // the lossy network becomes synchronous here
constexpr double kLognormalSigma = 0.5;
constexpr double kSwapMs = 5;
constexpr std::size_t kFleet = 5;

// The seed of a run: distinct for every (configuration, repetition), stable across sweeps.
std::uint64_t run_seed(const json& point, std::uint64_t repetition) {
  return seed_of({{"point", point}, {"repetition", repetition}});
}

sim::DurationDistribution validation_distribution(const std::string& kind, double mean_s) {
  const double mean_ms = mean_s * 1000;
  if (kind == "fixed") return sim::DurationDistribution::fixed(mean_ms);
  if (kind == "uniform") return sim::DurationDistribution::uniform(0.5 * mean_ms, 1.5 * mean_ms);
  // Log-normal with this mean: median = mean * exp(-sigma^2 / 2).
  return {sim::DurationDistribution::Kind::kLogNormal,
          mean_ms * std::exp(-kLognormalSigma * kLognormalSigma / 2), kLognormalSigma};
}

struct Point {
  std::size_t validators = 4;
  std::string validation_kind = "uniform";
  double validation_mean_s = 1;
  double poll_s = 1;
  double size_mib = 16;
  double bandwidth_mb_s = 1000;
  std::string network = "clean";  // or "lossy-before-gst"
  std::string crashed = "0";      // "0" or "f"

  static Point from(const json& j) {
    Point p;
    p.validators = j.at("validators").get<std::size_t>();
    p.validation_kind = j.at("validation_kind").get<std::string>();
    p.validation_mean_s = j.at("validation_mean_s").get<double>();
    p.poll_s = j.at("poll_s").get<double>();
    p.size_mib = j.at("size_mib").get<double>();
    p.bandwidth_mb_s = j.at("bandwidth_mb_s").get<double>();
    p.network = j.at("network").get<std::string>();
    p.crashed = j.at("crashed").get<std::string>();
    return p;
  }
  json to_json() const {
    return {{"validators", validators},
            {"validation_kind", validation_kind},
            {"validation_mean_s", validation_mean_s},
            {"poll_s", poll_s},
            {"size_mib", size_mib},
            {"bandwidth_mb_s", bandwidth_mb_s},
            {"network", network},
            {"crashed", crashed}};
  }
};

sim::Scenario scenario_of(const Point& p) {
  sim::Scenario s;
  s.name = "convergence";
  s.validators = p.validators;
  s.link.latency = sim::DurationDistribution::uniform(1, 5);
  if (p.network == "lossy-before-gst") {
    sim::LinkSpec lossy;
    lossy.latency = sim::DurationDistribution::uniform(1, 50);
    lossy.loss = 0.2;
    s.before_gst = lossy;
    s.gst_s = kGstS;
  }
  auto crashed = p.crashed == "f" ? max_faults(FaultModel::kBft, p.validators) : 0u;
  // The highest ids crash at the start: never the first primary, so no view change is owed.
  for (std::uint32_t k = 0; k < crashed; ++k)
    s.crashes.push_back({static_cast<bft::ReplicaId>(p.validators - 1 - k), 0.0, std::nullopt});
  s.validation_time = validation_distribution(p.validation_kind, p.validation_mean_s);
  sim::AdapterSpec adapter;
  adapter.version = 1;
  adapter.submit_s = kSubmitS;
  adapter.size_bytes = static_cast<std::uint64_t>(p.size_mib * (1 << 20));
  s.adapters = {adapter};
  s.fleet.nodes = kFleet;
  s.fleet.poll_interval_s = p.poll_s;
  s.fleet.bandwidth_mb_s = p.bandwidth_mb_s;
  s.fleet.swap_ms = kSwapMs;
  // Long enough for the slowest plausible run; the experiment measures its own bounds, so the
  // simulator's liveness check only asks that the fleet converges before the end.
  double transfer_s = static_cast<double>(adapter.size_bytes) / (p.bandwidth_mb_s * 1e6);
  s.duration_s =
      kSubmitS + kGstS + 4 * s.validation_time.max_ms() / 1000 + 3 * p.poll_s + transfer_s + 10;
  s.convergence_bound_s = s.duration_s;
  return s;
}

// The consensus allowance C, from the scenario's timing (stated in summary.md): two ordered
// requests (the proposal, then the q-th vote) of four one-way delays each, the replicas'
// execution skew and the poll's answer (four more), two ticks; before GST a lost request waits
// for the client's retry and a view change the losses started may still have to finish.
double consensus_allowance_s(const sim::Scenario& s, bool lossy) {
  const double l_max = s.link.latency.max_ms() / 1000;
  double c = 12 * l_max + 2 * s.timing.tick_ms / 1000;
  if (lossy)
    c += s.client_retry_s + 2 * s.timing.view_change_timeout_ms / 1000 +
         s.timing.retransmit_ms / 1000;
  return c;
}

class Convergence final : public Experiment {
 public:
  std::string_view name() const override { return "convergence"; }
  std::string_view description() const override {
    return "Vaidyanathan: time from submission to the whole fleet serving a passing adapter, "
           "against Vaidyanathan's bound and the quorum bound";
  }

  json config(Size size) const override {
    json base = Point{}.to_json();
    if (size == Size::kSmoke) {
      return {{"base", base},
              {"axes",
               {{"validation_kind", {"fixed", "lognormal"}},
                {"validation_mean_s", {0.2, 5}},
                {"poll_s", {0.1, 2}},
                {"validators", {4, 7}},
                {"network", {"lossy-before-gst"}},
                {"crashed", {"f"}}}},
              {"seeds_per_point", 2},
              {"random_points", 4}};
    }
    return {{"base", base},
            {"axes",
             {{"validation_kind", {"fixed", "uniform", "lognormal"}},
              {"validation_mean_s", {0.2, 1, 5, 20, 60}},
              {"poll_s", {0.1, 0.5, 1, 2, 5, 10}},
              {"size_mib", {1, 16, 128, 512}},
              {"bandwidth_mb_s", {100, 1000}},
              {"validators", {4, 7, 10, 13}},
              {"network", {"clean", "lossy-before-gst"}},
              {"crashed", {"0", "f"}}}},
            {"seeds_per_point", 50},
            {"random_points", 1000}};
  }

  std::vector<json> sweep(const json& config) const override {
    std::vector<json> runs;
    const auto seeds = config.at("seeds_per_point").get<std::uint64_t>();
    // One axis at a time around the base point...
    for (const auto& [axis, values] : config.at("axes").items()) {
      for (const auto& value : values) {
        auto point = config.at("base");
        point[axis] = value;
        for (std::uint64_t r = 0; r < seeds; ++r) {
          auto params = point;
          params["design"] = "axis:" + axis;
          params["seed"] = run_seed(point, r);
          runs.push_back(std::move(params));
        }
      }
    }
    // ...and random points of the whole space, one seed each.
    std::mt19937_64 rng(run_seed(config, 0));
    const auto& axes = config.at("axes");
    for (std::uint64_t k = 0; k < config.at("random_points").get<std::uint64_t>(); ++k) {
      auto point = config.at("base");
      for (const auto& [axis, values] : axes.items()) point[axis] = values[rng() % values.size()];
      auto params = point;
      params["design"] = "random";
      params["seed"] = run_seed(point, 1000 + k);
      runs.push_back(std::move(params));
    }
    return runs;
  }

  json run(const json& params) const override {
    auto point = Point::from(params);
    auto scenario = scenario_of(point);
    auto result = sim::simulate(scenario, params.at("seed").get<std::uint64_t>());
    const auto& outcome = result.versions.at(0);
    const auto n = point.validators;
    const auto f = max_faults(FaultModel::kBft, n);
    const auto quorum = 2 * f + 1;
    std::vector<double> v;
    for (const auto& [id, seconds] : outcome.validation_s) v.push_back(seconds);
    std::sort(v.begin(), v.end());
    const bool lossy = point.network == "lossy-before-gst";
    const double transfer_s = point.size_mib * (1 << 20) / (point.bandwidth_mb_s * 1e6);
    const double l_max = scenario.link.latency.max_ms() / 1000;
    const double t_gst = lossy ? std::max(0.0, kGstS - kSubmitS) : 0.0;
    json out = {{"f", f},
                {"quorum", quorum},
                {"validations", v.size()},
                {"violations", result.violations},
                {"events", result.events},
                {"converged", outcome.converged_s.has_value()}};
    if (v.size() < quorum || !outcome.converged_s) return out;
    const double measured = *outcome.converged_s - outcome.submitted_s;
    const double vaidyanathan = v.back() + point.poll_s + transfer_s;
    const double quorum_bound = t_gst + v[quorum - 1] + consensus_allowance_s(scenario, lossy) +
                                point.poll_s + transfer_s + l_max + kSwapMs / 1000;
    out["t_conv_s"] = measured;
    out["certified_after_s"] =
        outcome.certified_s ? json(*outcome.certified_s - outcome.submitted_s) : json(nullptr);
    out["v_max_s"] = v.back();
    out["v_quorum_s"] = v[quorum - 1];
    out["transfer_s"] = transfer_s;
    out["vaidyanathan_bound_s"] = vaidyanathan;
    out["quorum_bound_s"] = quorum_bound;
    out["ratio_vaidyanathan"] = measured / vaidyanathan;
    out["ratio_quorum"] = measured / quorum_bound;
    return out;
  }

  Summary summarize(const json& config, const std::vector<json>& records) const override {
    (void)config;
    std::vector<double> ratio_vaidyanathan, ratio_quorum, tightening;
    std::size_t unconverged = 0, quorum_violations = 0, vaidyanathan_violations = 0,
                sim_violations = 0;
    for (const auto& record : records) {
      const auto& r = record.at("result");
      if (!r.value("violations", json::array()).empty()) ++sim_violations;
      if (!r.contains("t_conv_s")) {
        ++unconverged;
        continue;
      }
      ratio_vaidyanathan.push_back(r["ratio_vaidyanathan"].get<double>());
      ratio_quorum.push_back(r["ratio_quorum"].get<double>());
      tightening.push_back(r["quorum_bound_s"].get<double>() /
                           r["vaidyanathan_bound_s"].get<double>());
      if (r["ratio_quorum"].get<double>() > 1) ++quorum_violations;
      if (r["ratio_vaidyanathan"].get<double>() > 1) ++vaidyanathan_violations;
    }
    Summary summary;
    summary.data = {{"runs", records.size()},
                    {"unconverged", unconverged},
                    {"simulator_invariant_violations", sim_violations},
                    {"quorum_bound_violations_after_gst", quorum_violations},
                    {"vaidyanathan_bound_violations", vaidyanathan_violations},
                    {"ratio_to_vaidyanathan_bound", sim::summary(ratio_vaidyanathan)},
                    {"ratio_to_quorum_bound", sim::summary(ratio_quorum)},
                    {"quorum_bound_over_vaidyanathan_bound", sim::summary(tightening)}};
    summary.ok = quorum_violations == 0 && unconverged == 0 && sim_violations == 0;
    const auto row = [](const char* label, const std::vector<double>& values) {
      return fmt::format("| {} | {:.3f} | {:.3f} | {:.3f} | {:.3f} |\n", label,
                         sim::percentile(values, 0.1), sim::percentile(values, 0.5),
                         sim::percentile(values, 0.99),
                         values.empty() ? 0.0 : *std::max_element(values.begin(), values.end()));
    };
    summary.markdown = fmt::format(
        "# convergence\n\n"
        "T_conv: from a passing adapter's submission to every live inference node serving it "
        "(simulator, {} runs).\n\n"
        "Bounds, with V_i the validation times of the live validators, P the poll interval, S/B "
        "the transfer, L the largest one-way latency after GST:\n\n"
        "- Vaidyanathan: max_i V_i + P + S/B (the slowest validator, no consensus or swap time).\n"
        "- quorum: t_GST + V_(q) + C + P + S/B + L + swap, where V_(q) is the q-th smallest "
        "validation time (q = 2f+1, the certificate quorum: a release waits for the q-th vote, "
        "not the slowest), t_GST the time from submission to GST, and C = 12 L + 2 ticks (two "
        "ordered requests of four one-way delays each, the replicas' execution skew and the "
        "poll's answer), plus, when the network was lossy before GST, one client retry, two "
        "view-change timeouts and one retransmission.\n\n"
        "| measured / bound | p10 | p50 | p99 | max |\n|---|---|---|---|---|\n{}{}\n"
        "The quorum bound is {:.3f} of Vaidyanathan's at the median.\n\n"
        "- quorum-bound violations after GST: **{}** (must be 0)\n"
        "- Vaidyanathan-bound violations: {} of {} converged runs (it leaves out consensus and "
        "swap time)\n"
        "- runs that did not converge: {}; runs with a simulator invariant violation: {}\n",
        records.size(), row("Vaidyanathan", ratio_vaidyanathan), row("quorum", ratio_quorum),
        sim::percentile(tightening, 0.5), quorum_violations, vaidyanathan_violations,
        ratio_vaidyanathan.size(), unconverged, sim_violations);
    return summary;
  }
};

}  // namespace

std::unique_ptr<Experiment> make_convergence() {
  return std::make_unique<Convergence>();
}

}  // namespace bftgate::experiments
