// The `reconfiguration` experiment: what an epoch change costs and whether it is safe, in the
// simulator, and what it costs on real processes (reconfiguration_real.hpp).
//   switch   each change (replace one validator with a new machine, grow 4 -> 7, shrink 7 -> 4,
//            rotate every key) in the middle of a steady stream of adapters, with 0 or f Byzantine
//            validators: the time from the operator's proposal to every honest member of the new
//            set running it, the proposals the operator had to make again (requests stalled by
//            the frozen register), the largest gap between two releases around the switch
//            against the median gap, and every invariant (agreement per epoch, epoch-safety).
//   catch-up a new machine joining after k adapters were released: the frozen register it
//            fetches and verifies, and how long that took, against k.
//   real     validator 2 replaced by a new host on the local cluster after k releases, while
//            adapters keep coming: the same switch times, and the new host's join against k.
#include <fmt/format.h>

#include <algorithm>

#include "bftgate/base/strict_json.hpp"
#include "bftgate/experiments/experiments.hpp"
#include "bftgate/sim/aggregate.hpp"
#include "bftgate/sim/simulator.hpp"
#include "reconfiguration_real.hpp"

namespace bftgate::experiments {

using nlohmann::json;

namespace reconfiguration_detail {  // not anonymous: the library is built in unity units

constexpr double kSubmitEveryS = 2;
constexpr double kSwitchAtS = 21;
constexpr double kDurationS = 48;

std::optional<sim::ReconfigurationSpec::Change> parse_change(const std::string& name) {
  using Change = sim::ReconfigurationSpec::Change;
  for (auto change : {Change::kReplace, Change::kGrow, Change::kShrink, Change::kRotate}) {
    if (sim::to_string(change) == name) return change;
  }
  return std::nullopt;
}

sim::AdapterSpec adapter(std::uint64_t version, double submit_s) {
  sim::AdapterSpec a;
  a.version = version;
  a.submit_s = submit_s;
  a.size_bytes = 16 << 20;
  return a;
}

// A steady stream of passing adapters, the change at kSwitchAtS; `byzantine` validators of the
// old set (the highest ids that stay, so they are in both sets) play `equivocate`.
sim::Scenario switch_scenario(sim::ReconfigurationSpec::Change change, std::size_t byzantine) {
  using Change = sim::ReconfigurationSpec::Change;
  sim::Scenario s;
  s.name = "reconfiguration";
  s.validators = change == Change::kShrink ? 7 : 4;
  s.validation_time = sim::DurationDistribution::uniform(200, 800);
  std::uint64_t version = 1;
  for (double t = 1; t < kDurationS - 6; t += kSubmitEveryS)
    s.adapters.push_back(adapter(version++, t));
  sim::ReconfigurationSpec spec;
  spec.at_s = kSwitchAtS;
  spec.change = change;
  spec.validator = 0;  // replace: the first primary moves
  if (change == Change::kGrow) spec.validators = 7;
  if (change == Change::kShrink) spec.validators = 4;
  s.reconfigurations = {spec};
  for (std::size_t b = 0; b < byzantine; ++b)
    s.byzantine[static_cast<bft::ReplicaId>(1 + b)] = "equivocate";
  s.duration_s = kDurationS;
  return s;
}

sim::Scenario catch_up_scenario(std::uint64_t released) {
  sim::Scenario s;
  s.name = "reconfiguration-catch-up";
  s.validators = 4;
  s.validation_time = sim::DurationDistribution::uniform(20, 60);
  const double every = 0.25;
  for (std::uint64_t v = 1; v <= released; ++v)
    s.adapters.push_back(adapter(v, 0.2 + every * static_cast<double>(v - 1)));
  const double switch_at = 0.2 + every * static_cast<double>(released) + 1;
  s.reconfigurations = {{.at_s = switch_at,
                         .change = sim::ReconfigurationSpec::Change::kReplace,
                         .validator = 2,
                         .validators = 0}};
  s.duration_s = switch_at + 5;
  s.convergence_bound_s = s.duration_s;
  return s;
}

json run_switch(const json& params) {
  auto change = parse_change(params.at("change").get<std::string>());
  auto scenario = switch_scenario(*change, params.at("byzantine").get<std::size_t>());
  auto result = sim::simulate(scenario, params.at("seed").get<std::uint64_t>());
  json out = {{"violations", result.violations.size()},
              {"first_violation", result.violations.empty() ? "" : result.violations.front()}};
  const auto& epoch = result.epochs.empty() ? sim::EpochOutcome{} : result.epochs.front();
  out["switched"] = epoch.started_s.has_value();
  out["switch_s"] = epoch.started_s ? *epoch.started_s - epoch.proposed_s : -1.0;
  out["certified_after_s"] = epoch.certified_s ? *epoch.certified_s - epoch.proposed_s : -1.0;
  // The two parts of it: waiting for the register to take the change (refused while a vote is
  // under way; the operator proposes again a second later), then ordering, approvals and the
  // members' switch.
  out["wait_s"] = epoch.accepted_s ? *epoch.accepted_s - epoch.proposed_s : -1.0;
  out["ordered_to_running_s"] =
      epoch.accepted_s && epoch.started_s ? *epoch.started_s - *epoch.accepted_s : -1.0;
  out["proposals"] = epoch.proposals;
  out["resubmitted_proposals"] = result.resubmitted_proposals;
  // Releases in time order: the gap spanning the switch against the median gap.
  std::vector<double> released;
  for (const auto& v : result.versions) {
    if (v.certified_s) released.push_back(*v.certified_s);
  }
  std::sort(released.begin(), released.end());
  std::vector<double> gaps;
  double switch_gap = 0;
  for (std::size_t i = 1; i < released.size(); ++i) {
    gaps.push_back(released[i] - released[i - 1]);
    if (released[i - 1] <= kSwitchAtS && released[i] > kSwitchAtS) switch_gap = gaps.back();
  }
  std::sort(gaps.begin(), gaps.end());
  out["released"] = released.size();
  out["switch_gap_s"] = switch_gap;
  out["median_gap_s"] = gaps.empty() ? 0.0 : gaps[gaps.size() / 2];
  out["refused_loads"] = result.refused_loads;
  return out;
}

json run_catch_up(const json& params) {
  auto result = sim::simulate(catch_up_scenario(params.at("released").get<std::uint64_t>()),
                              params.at("seed").get<std::uint64_t>());
  json out = {{"violations", result.violations.size()}};
  out["joined"] = !result.joins.empty();
  if (!result.joins.empty()) {
    const auto& join = result.joins.front();
    out["handoff_bytes"] = join.bytes;
    out["join_s"] = join.joined_s - join.began_s;
    out["refused_handoffs"] = join.refused;
  }
  return out;
}

class ReconfigurationExperiment final : public Experiment {
 public:
  std::string_view name() const override { return "reconfiguration"; }
  std::string_view description() const override {
    return "Epoch changes in the simulator: switch time, stalled proposals and release gap for "
           "replace, grow, shrink and rotate under load with 0 or f Byzantine validators; a new "
           "member's catch-up against state size";
  }

  json config(Size size) const override {
    return {{"changes", {"replace", "grow", "shrink", "rotate"}},
            {"byzantine", {0, 1}},
            {"released", size == Size::kSmoke ? json{4, 16} : json{4, 16, 64, 256}},
            {"seeds", size == Size::kSmoke ? 3 : 100},
            {"real_released", size == Size::kSmoke ? json{2} : json{4, 16, 64}},
            {"real_repetitions", size == Size::kSmoke ? 1 : 3},
            {"real_every_s", 1.0},
            {"real_validation_s", 0.2}};
  }

  // The real runs use the machine's cores: one at a time.
  bool exclusive(const json& params) const override { return params.at("part") == "real"; }

  std::vector<json> sweep(const json& config) const override {
    std::vector<json> runs;
    const auto seeds = config.at("seeds").get<std::uint64_t>();
    for (const auto& change : config.at("changes")) {
      for (const auto& byzantine : config.at("byzantine")) {
        for (std::uint64_t r = 0; r < seeds; ++r) {
          json params = {
              {"part", "switch"}, {"change", change}, {"byzantine", byzantine}, {"repetition", r}};
          params["seed"] = seed_of(params);
          runs.push_back(std::move(params));
        }
      }
    }
    for (const auto& released : config.at("released")) {
      for (std::uint64_t r = 0; r < std::min<std::uint64_t>(seeds, 10); ++r) {
        json params = {{"part", "catch-up"}, {"released", released}, {"repetition", r}};
        params["seed"] = seed_of(params);
        runs.push_back(std::move(params));
      }
    }
    for (const auto& released : config.value("real_released", json::array())) {
      for (std::uint64_t r = 0; r < config.at("real_repetitions").get<std::uint64_t>(); ++r) {
        json params = {{"part", "real"},
                       {"released", released},
                       {"every_s", config.at("real_every_s")},
                       {"validation_s", config.at("real_validation_s")},
                       {"repetition", r}};
        params["seed"] = seed_of(params);
        runs.push_back(std::move(params));
      }
    }
    return runs;
  }

  json run(const json& params) const override {
    const auto& part = params.at("part");
    if (part == "real") {
      return run_real_reconfiguration({.released = params.at("released").get<std::size_t>(),
                                       .every_s = params.at("every_s").get<double>(),
                                       .validation_s = params.at("validation_s").get<double>(),
                                       .seed = params.at("seed").get<std::uint64_t>()});
    }
    return part == "switch" ? run_switch(params) : run_catch_up(params);
  }

  Summary summarize(const json& config, const std::vector<json>& records) const override {
    std::map<std::pair<std::string, std::uint64_t>, std::vector<const json*>> switches;
    std::map<std::uint64_t, std::vector<const json*>> catch_ups, reals;
    std::uint64_t violations = 0;
    std::uint64_t unswitched = 0;
    for (const auto& record : records) {
      const auto& p = record.at("params");
      const auto& r = record.at("result");
      if (p.at("part") == "real") {
        reals[p.at("released").get<std::uint64_t>()].push_back(&r);
        continue;
      }
      violations += r.at("violations").get<std::uint64_t>();
      if (p.at("part") == "switch") {
        if (!r.at("switched").get<bool>()) ++unswitched;
        switches[{p.at("change").get<std::string>(), p.at("byzantine").get<std::uint64_t>()}]
            .push_back(&r);
      } else {
        catch_ups[p.at("released").get<std::uint64_t>()].push_back(&r);
      }
    }
    const auto values = [](const std::vector<const json*>& rs, const char* key) {
      std::vector<double> v;
      for (const auto* r : rs) {
        if (r->contains(key) && r->at(key).get<double>() >= 0)
          v.push_back(r->at(key).get<double>());
      }
      return v;
    };
    json switch_rows = json::array();
    std::string markdown =
        "| change | Byzantine | switch mean (s) | p99 (s) | of it: waiting for a vote (s) | "
        "ordered "
        "to running (s) | proposals made again | release gap at the switch / median gap "
        "|\n|---|---|---|---|---|---|---|---|\n";
    for (const auto& [key, rs] : switches) {
      auto time = sim::summary(values(rs, "switch_s"));
      auto wait = sim::summary(values(rs, "wait_s"));
      auto switching = sim::summary(values(rs, "ordered_to_running_s"));
      auto again = sim::summary(values(rs, "resubmitted_proposals"));
      auto gap = sim::summary(values(rs, "switch_gap_s"));
      auto median = sim::summary(values(rs, "median_gap_s"));
      const double ratio = median.value("mean", 0.0) > 0
                               ? gap.value("mean", 0.0) / median.at("mean").get<double>()
                               : 0.0;
      switch_rows.push_back({{"change", key.first},
                             {"byzantine", key.second},
                             {"switch_s", time},
                             {"wait_s", wait},
                             {"ordered_to_running_s", switching},
                             {"resubmitted_proposals", again},
                             {"switch_gap_s", gap},
                             {"median_gap_s", median},
                             {"gap_ratio", ratio}});
      markdown += fmt::format("| {} | {} | {:.3f} | {:.3f} | {:.3f} | {:.3f} | {:.2f} | {:.2f} |\n",
                              key.first, key.second, time.value("mean", 0.0),
                              time.value("p99", 0.0), wait.value("mean", 0.0),
                              switching.value("mean", 0.0), again.value("mean", 0.0), ratio);
    }
    json catch_up_rows = json::array();
    std::string catch_up_md =
        "| adapters released | handoff (bytes) | join, simulated transfer (s) |\n|---|---|---|\n";
    for (const auto& [released, rs] : catch_ups) {
      auto bytes = sim::summary(values(rs, "handoff_bytes"));
      auto join = sim::summary(values(rs, "join_s"));
      catch_up_rows.push_back({{"released", released}, {"handoff_bytes", bytes}, {"join_s", join}});
      catch_up_md += fmt::format("| {} | {:.0f} | {:.4f} |\n", released, bytes.value("mean", 0.0),
                                 join.value("mean", 0.0));
    }
    json real_rows = json::array();
    std::string real_md =
        "| adapters released before | runs | change ordered (s) | certified (s) | quorum runs it "
        "(s) | all run it (s) | the operator sees the first release (s) | the node serves it (s) | "
        "new host's join (s) | "
        "handoff (bytes) | gap at the switch / median gap |\n|---|---|---|---|---|---|---|---|---|"
        "---|---|\n";
    for (const auto& [released, rs] : reals) {
      json row = {{"released", released}, {"runs", rs.size()}};
      for (const char* key : {"wait_s", "certified_after_s", "quorum_running_s", "switch_s",
                              "first_release_s", "served_s", "join_s", "handoff_bytes",
                              "switch_gap_s", "median_gap_s", "resubmitted_proposals"})
        row[key] = sim::summary(values(rs, key));
      const double median = row["median_gap_s"].value("mean", 0.0);
      row["gap_ratio"] = median > 0 ? row["switch_gap_s"].value("mean", 0.0) / median : 0.0;
      const auto mean = [&](const char* key) { return row[key].value("mean", 0.0); };
      real_md += fmt::format(
          "| {} | {} | {:.3f} | {:.3f} | {:.3f} | {:.3f} | {:.3f} | {:.3f} | {:.3f} | {:.0f} | "
          "{:.2f} |\n",
          released, rs.size(), mean("wait_s"), mean("certified_after_s"), mean("quorum_running_s"),
          mean("switch_s"), mean("first_release_s"), mean("served_s"), mean("join_s"),
          mean("handoff_bytes"), row["gap_ratio"].get<double>());
      real_rows.push_back(std::move(row));
    }
    Summary summary;
    summary.ok = violations == 0 && unswitched == 0;
    summary.data = {{"runs", records.size()},   {"config", config},
                    {"violations", violations}, {"unswitched_runs", unswitched},
                    {"switches", switch_rows},  {"catch_up", catch_up_rows},
                    {"real", real_rows}};
    summary.markdown = fmt::format(
        "# reconfiguration\n\n"
        "Adapters every {:.0f} s; the operator proposes the change at {:.0f} s. Switch time: from "
        "the proposal to every honest member of the new set running it.\n\n{}\n"
        "A new machine joining after k releases (it fetches the old set's frozen register and "
        "verifies it from genesis):\n\n{}\n"
        "Invariant violations over every run: **{}**; runs whose switch did not finish: **{}**.\n"
        "\nReal processes on 127.0.0.1 (4 validators with a stand-in validation of {} s, the "
        "store, one node): validator 2 replaced by a new host (its key made there) after k "
        "releases, adapters coming every {} s; times from the first proposal of the change, the "
        "join from the new host's start:\n\n{}",
        kSubmitEveryS, kSwitchAtS, markdown, catch_up_md, violations, unswitched,
        config.value("real_validation_s", 0.0), config.value("real_every_s", 0.0), real_md);
    return summary;
  }
};

}  // namespace reconfiguration_detail

std::unique_ptr<Experiment> make_reconfiguration() {
  return std::make_unique<reconfiguration_detail::ReconfigurationExperiment>();
}

}  // namespace bftgate::experiments
