// The `adversaries` experiment: every Byzantine strategy of the registry, with 0 to f+1
// Byzantine validators, at n = 4, 7 and 10, in BFT mode (2f+1 of 3f+1) and in CFT mode (a
// majority, Vaidyanathan's gate) at equal n, in the simulator.
//
// The Byzantine validators are the first b ids (so the first primary is one of them). Three
// adapters are submitted: two that every honest validator passes, and between them a bad one
// that exactly f honest validators (the last f ids) miss and pass. With b <= f Byzantine PASS
// votes, the bad adapter gathers at most 2f PASS votes: a BFT quorum (2f+1) never forms, while a
// majority quorum can. With f+1 colluders voting PASS it reaches 2f+1: the model's limit, shown.
//
// Per run: certification latency of the good adapters, messages and bytes per decision, view
// changes, the bad adapter certified (a safety failure users see) and the simulator's
// invariant violations.
#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "bftgate/byzantine/byzantine.hpp"
#include "bftgate/config/cluster_setup.hpp"
#include "bftgate/experiments/experiments.hpp"
#include "bftgate/sim/aggregate.hpp"
#include "bftgate/sim/simulator.hpp"

namespace bftgate::experiments {

using nlohmann::json;

namespace adversaries_detail {  // not anonymous: the library is built in unity units

constexpr std::uint64_t kBadVersion = 2;
constexpr double kDurationS = 24;

sim::Scenario scenario_for(const json& params) {
  const auto n = params.at("validators").get<std::size_t>();
  const auto b = params.at("byzantine").get<std::size_t>();
  const auto f = max_faults(FaultModel::kBft, n);
  sim::Scenario s;
  s.name = "adversaries";
  s.validators = n;
  s.fault_model = params.at("mode") == "cft" ? FaultModel::kCft : FaultModel::kBft;
  s.link.latency = sim::DurationDistribution::uniform(1, 5);
  const auto strategy = params.at("strategy").get<std::string>();
  for (std::size_t i = 0; i < b; ++i) s.byzantine[static_cast<sim::ReplicaId>(i)] = strategy;
  for (std::uint64_t v = 1; v <= 3; ++v) {
    sim::AdapterSpec a;
    a.version = v;
    a.submit_s = 0.5 + 7.0 * static_cast<double>(v - 1);
    a.size_bytes = 16 << 20;
    if (v == kBadVersion) {
      a.verdict = sim::Verdict::kFail;
      for (std::size_t k = 0; k < f; ++k)
        a.verdict_by_validator[static_cast<sim::ReplicaId>(n - 1 - k)] = sim::Verdict::kPass;
    }
    s.adapters.push_back(a);
  }
  s.fleet.nodes = 3;
  s.duration_s = kDurationS;
  s.convergence_bound_s = kDurationS;
  return s;
}

class Adversaries final : public Experiment {
 public:
  std::string_view name() const override { return "adversaries"; }
  std::string_view description() const override {
    return "every Byzantine strategy x 0..f+1 Byzantine validators x n in {4, 7, 10}, BFT and CFT "
           "quorums: certification latency, messages and bytes per decision, view changes, "
           "safety violations";
  }

  json config(Size size) const override {
    json strategies = json::array();
    for (const auto& info : bft::strategies()) {
      if (info.standalone) strategies.push_back(std::string(info.name));
    }
    return {{"validators", {4, 7, 10}},
            {"modes", {"bft", "cft"}},
            {"strategies", strategies},
            {"seeds", size == Size::kSmoke ? 1 : 10}};
  }

  std::vector<json> sweep(const json& config) const override {
    std::vector<json> runs;
    for (const auto& n : config.at("validators")) {
      const auto f = max_faults(FaultModel::kBft, n.get<std::size_t>());
      for (const auto& mode : config.at("modes")) {
        for (std::uint32_t b = 0; b <= f + 1; ++b) {
          // Without Byzantine validators the strategy plays no part: one run per seed.
          const json strategies = b == 0 ? json{"none"} : config.at("strategies");
          for (const auto& strategy : strategies) {
            for (std::uint64_t r = 0; r < config.at("seeds").get<std::uint64_t>(); ++r) {
              json params = {{"validators", n}, {"mode", mode},         {"byzantine", b},
                             {"f", f},          {"strategy", strategy}, {"repetition", r}};
              params["seed"] = seed_of(params);
              runs.push_back(std::move(params));
            }
          }
        }
      }
    }
    return runs;
  }

  json run(const json& params) const override {
    auto scenario = scenario_for(params);
    auto result = sim::simulate(scenario, params.at("seed").get<std::uint64_t>());
    std::vector<double> latency;
    bool bad_certified = false;
    std::uint64_t certified = 0;
    for (const auto& v : result.versions) {
      if (!v.certified_s) continue;
      ++certified;
      if (v.version == kBadVersion) bad_certified = true;
      if (v.passes) latency.push_back(*v.certified_s - v.submitted_s);
    }
    std::uint64_t messages = 0;
    for (auto count : result.sent_by_type) messages += count;
    const double decisions = static_cast<double>(std::max<std::uint64_t>(1, result.committed_seqs));
    return {{"certified", certified},
            {"good_certified", latency.size()},
            {"bad_certified", bad_certified},
            {"certification_latency_s", latency},
            {"decisions", result.committed_seqs},
            {"messages_per_decision", static_cast<double>(messages) / decisions},
            {"bytes_per_decision", static_cast<double>(result.bytes_sent) / decisions},
            {"view_changes", result.view_changes},
            {"invariant_violations", result.violations.size()},
            {"violations", result.violations.size() > 3
                               ? json(std::vector<std::string>(result.violations.begin(),
                                                               result.violations.begin() + 3))
                               : json(result.violations)}};
  }

  Summary summarize(const json& config, const std::vector<json>& records) const override {
    (void)config;
    // Per (n, mode, strategy, b), over seeds.
    struct Cell {
      std::vector<double> latency, messages, bytes;
      std::uint64_t runs = 0, view_changes = 0, unsafe_runs = 0, bad_certified = 0,
                    good_missing = 0;
    };
    std::map<std::tuple<std::uint64_t, std::string, std::string, std::uint64_t>, Cell> cells;
    for (const auto& record : records) {
      const auto& p = record.at("params");
      const auto& r = record.at("result");
      auto& c =
          cells[{p.at("validators").get<std::uint64_t>(), p.at("mode").get<std::string>(),
                 p.at("strategy").get<std::string>(), p.at("byzantine").get<std::uint64_t>()}];
      ++c.runs;
      for (const auto& x : r.at("certification_latency_s")) c.latency.push_back(x.get<double>());
      c.messages.push_back(r.at("messages_per_decision").get<double>());
      c.bytes.push_back(r.at("bytes_per_decision").get<double>());
      c.view_changes += r.at("view_changes").get<std::uint64_t>();
      const bool bad = r.at("bad_certified").get<bool>();
      if (bad) ++c.bad_certified;
      if (bad || r.at("invariant_violations").get<std::uint64_t>() > 0) ++c.unsafe_runs;
      c.good_missing += 2 - r.at("good_certified").get<std::uint64_t>();
    }
    json rows = json::array();
    // The smallest Byzantine count at which each (n, mode, strategy) is unsafe.
    std::map<std::tuple<std::uint64_t, std::string, std::string>, std::uint64_t> breaks;
    bool bft_safe_within_f = true, bft_breaks_at_f_plus_1 = false;
    std::string table =
        "| n | mode | strategy | Byzantine | runs | cert. latency p50 / p99 (s) | msgs / "
        "decision | bytes / decision | view changes | unsafe runs | good adapters not certified "
        "|\n|---|---|---|---|---|---|---|---|---|---|---|\n";
    for (const auto& [key, c] : cells) {
      const auto& [n, mode, strategy, b] = key;
      const auto f = max_faults(FaultModel::kBft, n);
      const auto p50 = sim::percentile(c.latency, 0.5), p99 = sim::percentile(c.latency, 0.99);
      const auto messages = sim::percentile(c.messages, 0.5);
      const auto bytes = sim::percentile(c.bytes, 0.5);
      rows.push_back({{"validators", n},
                      {"mode", mode},
                      {"strategy", strategy},
                      {"byzantine", b},
                      {"f", f},
                      {"runs", c.runs},
                      {"certification_latency_p50_s", p50},
                      {"certification_latency_p99_s", p99},
                      {"messages_per_decision", messages},
                      {"bytes_per_decision", bytes},
                      {"view_changes", c.view_changes},
                      {"unsafe_runs", c.unsafe_runs},
                      {"bad_certified_runs", c.bad_certified},
                      {"good_not_certified", c.good_missing}});
      table += fmt::format(
          "| {} | {} | {} | {} | {} | {:.3f} / {:.3f} | {:.0f} | {:.0f} | {} | {} | {} |\n", n,
          mode, strategy, b, c.runs, p50, p99, messages, bytes, c.view_changes, c.unsafe_runs,
          c.good_missing);
      if (c.unsafe_runs > 0) {
        auto [it, first] = breaks.emplace(std::tuple{n, mode, strategy}, b);
        if (!first) it->second = std::min(it->second, b);
        if (mode == "bft" && b <= f) bft_safe_within_f = false;
        if (mode == "bft" && b == f + 1) bft_breaks_at_f_plus_1 = true;
      }
    }
    json break_rows = json::array();
    std::string break_table =
        "| n | f | mode | strategy | first unsafe Byzantine count |\n|---|---|---|---|---|\n";
    for (const auto& [key, b] : breaks) {
      const auto& [n, mode, strategy] = key;
      break_rows.push_back({{"validators", n},
                            {"mode", mode},
                            {"strategy", strategy},
                            {"f", max_faults(FaultModel::kBft, n)},
                            {"first_unsafe_byzantine", b}});
      break_table += fmt::format("| {} | {} | {} | {} | {} |\n", n, max_faults(FaultModel::kBft, n),
                                 mode, strategy, b);
    }
    Summary summary;
    summary.ok = bft_safe_within_f && bft_breaks_at_f_plus_1;
    summary.data = {{"runs", records.size()},
                    {"cells", rows},
                    {"breaks", break_rows},
                    {"bft_safe_within_f", bft_safe_within_f},
                    {"bft_breaks_at_f_plus_1", bft_breaks_at_f_plus_1}};
    summary.markdown = fmt::format(
        "# adversaries\n\n"
        "The first b validators run the strategy; adapter {} is bad, and the last f honest "
        "validators miss it. Unsafe run: the bad adapter certified, or a simulator invariant "
        "broken (among them the mode's own guarantee: every certificate holds f+1 honest PASS "
        "votes, f being the mode's; a CFT quorum gives it only without Byzantine members). "
        "Latency: the good adapters' certification. Medians over seeds per cell.\n\n"
        "BFT safe with up to f Byzantine validators: **{}**. BFT unsafe at f+1 (the model's "
        "limit, shown): **{}**.\n\n## Where safety breaks\n\n{}\n## Every cell\n\n{}",
        kBadVersion, bft_safe_within_f ? "yes" : "NO", bft_breaks_at_f_plus_1 ? "yes" : "NO",
        break_table, table);
    return summary;
  }
};

}  // namespace adversaries_detail

std::unique_ptr<Experiment> make_adversaries() {
  return std::make_unique<adversaries_detail::Adversaries>();
}

}  // namespace bftgate::experiments
