// bftgate simulate: seeded runs of a scenario in the deterministic simulator, with per-run and
// aggregate results and the invariant checker's verdict.
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <nlohmann/json.hpp>

#include "bftgate/crypto/file_io.hpp"
#include "bftgate/sim/simulator.hpp"
#include "build_info.hpp"
#include "cli_common.hpp"

namespace bftgate::cli {

namespace {
using nlohmann::json;

struct SimulateArgs {
  std::filesystem::path scenario;
  std::uint64_t seeds = 100;
  std::uint64_t first_seed = 1;
  std::string shard;  // "i/N": this process runs seeds with index % N == i
  bool json_output = false;
  bool quiet = false;
  std::filesystem::path out;
};

double percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  auto index = static_cast<std::size_t>(p * static_cast<double>(values.size() - 1) + 0.5);
  return values[std::min(index, values.size() - 1)];
}

json summary(std::vector<double> values) {
  if (values.empty()) return {{"count", 0}};
  double sum = 0;
  for (double v : values) sum += v;
  return {{"count", values.size()},
          {"mean", sum / static_cast<double>(values.size())},
          {"p50", percentile(values, 0.5)},
          {"p99", percentile(values, 0.99)},
          {"max", *std::max_element(values.begin(), values.end())}};
}

int simulate_command(const SimulateArgs& args) {
  auto scenario = sim::Scenario::load(args.scenario);
  if (!scenario) {
    print_error(scenario.error().message);
    return kExitFailure;
  }
  std::uint64_t shard_index = 0;
  std::uint64_t shard_count = 1;
  if (!args.shard.empty()) {
    if (std::sscanf(args.shard.c_str(), "%lu/%lu", &shard_index, &shard_count) != 2 || shard_count == 0 ||
        shard_index >= shard_count) {
      print_error("--shard must be i/N with 0 <= i < N");
      return kExitUsage;
    }
  }
  const bool expect_clean = scenario->expect_violation == "none";
  if (!args.json_output) {
    fmt::print("scenario '{}': n={} ({} mode, f={}), {} Byzantine, {} adapters, {} s virtual; seeds {}..{}{}\n",
               scenario->name, scenario->validators, to_string(scenario->fault_model), scenario->f(),
               scenario->byzantine.size(), scenario->adapters.size(), scenario->duration_s, args.first_seed,
               args.first_seed + args.seeds - 1,
               shard_count > 1 ? fmt::format(" (shard {}/{})", shard_index, shard_count) : "");
  }

  json runs = json::array();
  std::map<std::string, std::uint64_t> messages;
  std::map<std::string, std::uint64_t> decisions;
  std::map<std::string, std::uint64_t> violation_kinds;
  std::vector<double> latency;
  std::vector<double> convergence;
  std::uint64_t runs_with_violations = 0;
  std::uint64_t deliveries = 0;
  std::uint64_t view_changes = 0;
  std::uint64_t state_transfers = 0;
  std::uint64_t done = 0;
  auto start = std::chrono::steady_clock::now();
  auto last_progress = start;
  for (std::uint64_t i = 0; i < args.seeds; ++i) {
    if (i % shard_count != shard_index) continue;
    auto seed = args.first_seed + i;
    auto result = sim::simulate(*scenario, seed);
    ++done;
    deliveries += result.deliveries;
    view_changes += result.view_changes;
    state_transfers += result.state_transfers;
    auto run_json = result.to_json();
    for (const auto& [type, count] : run_json["messages_sent"].items()) messages[type] += count.get<std::uint64_t>();
    for (const auto& v : result.versions) {
      ++decisions[fmt::format("v{} {}", v.version, v.state)];
      if (v.certified_s) latency.push_back(*v.certified_s - v.submitted_s);
      if (v.converged_s) convergence.push_back(*v.converged_s - v.submitted_s);
    }
    if (!result.violations.empty()) ++runs_with_violations;
    for (const auto& v : result.violations) ++violation_kinds[v.substr(0, v.find(':'))];
    if (args.json_output) {
      runs.push_back(std::move(run_json));
    } else if (!args.quiet) {
      std::string states;
      for (const auto& v : result.versions) {
        states += fmt::format(" v{}={}{}", v.version, v.state,
                              v.converged_s ? fmt::format("@{:.2f}s", *v.converged_s - v.submitted_s) : "");
      }
      fmt::print("  seed {:>6}: {:>7} deliveries, {} view changes,{}{}\n", seed, result.deliveries,
                 result.view_changes, states,
                 result.violations.empty() ? "" : fmt::format("  VIOLATION {}", result.violations.front()));
    }
    auto now = std::chrono::steady_clock::now();
    if (args.quiet && !args.json_output && now - last_progress > std::chrono::seconds(2)) {
      last_progress = now;
      fmt::print(stderr, "  ... {} runs done, {} with violations\n", done, runs_with_violations);
    }
  }
  double wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  bool as_expected = expect_clean ? runs_with_violations == 0 : runs_with_violations > 0;
  if (!expect_clean) {
    // Every violation must be of the kind the scenario demonstrates.
    for (const auto& [kind, count] : violation_kinds) as_expected &= kind == scenario->expect_violation;
  }
  json aggregate = {{"scenario", scenario->name},
                    {"runs", done},
                    {"runs_with_violations", runs_with_violations},
                    {"violations_by_invariant", violation_kinds},
                    {"expected_violation", scenario->expect_violation},
                    {"as_expected", as_expected},
                    {"decisions", decisions},
                    {"messages_sent", messages},
                    {"deliveries", deliveries},
                    {"view_changes", view_changes},
                    {"state_transfers", state_transfers},
                    {"certification_latency_s", summary(latency)},
                    {"convergence_s", summary(convergence)},
                    {"wall_s", wall_s},
                    {"deliveries_per_s", wall_s > 0 ? static_cast<double>(deliveries) / wall_s : 0}};
  if (!args.out.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(args.out, ec);
    json record = {{"git_revision", build_info::kGitRevision},
                   {"scenario_file", args.scenario.string()},
                   {"scenario", scenario->to_json()},
                   {"first_seed", args.first_seed},
                   {"seeds", args.seeds},
                   {"shard", args.shard},
                   {"aggregate", aggregate}};
    auto text = record.dump(2) + "\n";
    if (auto s = write_file_atomic(args.out / "simulate.json", as_bytes(text), {.mode = 0644, .overwrite = true}); !s) {
      print_error(s.error().message);
      return kExitFailure;
    }
  }
  if (args.json_output) {
    fmt::print("{}\n", json({{"aggregate", aggregate}, {"runs", runs}}).dump(2));
  } else {
    fmt::print("aggregate over {} runs ({:.1f} s wall, {:.0f} deliveries/s):\n", done, wall_s,
               aggregate["deliveries_per_s"].get<double>());
    fmt::print("  decisions:   {}\n", json(decisions).dump());
    fmt::print("  messages:    {}\n", json(messages).dump());
    fmt::print("  view changes {}, state transfers {}\n", view_changes, state_transfers);
    if (!latency.empty()) {
      fmt::print("  certified after   mean {:.3f} s, p99 {:.3f} s\n", aggregate["certification_latency_s"]["mean"].get<double>(),
                 aggregate["certification_latency_s"]["p99"].get<double>());
    }
    if (!convergence.empty()) {
      fmt::print("  fleet converged after mean {:.3f} s, max {:.3f} s\n", aggregate["convergence_s"]["mean"].get<double>(),
                 aggregate["convergence_s"]["max"].get<double>());
    }
    fmt::print("  invariant violations: {} runs {}; expected: {} -> {}\n", runs_with_violations,
               json(violation_kinds).dump(), scenario->expect_violation, as_expected ? "AS EXPECTED" : "UNEXPECTED");
  }
  return as_expected ? kExitOk : kExitFailure;
}
}  // namespace

void register_simulate(CLI::App& app, Runner& run) {
  auto args = std::make_shared<SimulateArgs>();
  auto* cmd = app.add_subcommand("simulate", "Run a scenario in the deterministic simulator over many seeds; "
                                             "exit 0 when the invariant checker's findings match the scenario's "
                                             "expectation");
  cmd->add_option("--scenario", args->scenario, "Scenario JSON file")->required()->check(CLI::ExistingFile);
  cmd->add_option("--seeds", args->seeds, "Number of seeded runs")->default_val(100)->check(CLI::Range(1, 10'000'000));
  cmd->add_option("--first-seed", args->first_seed, "Seed of the first run")->default_val(1);
  cmd->add_option("--shard", args->shard, "Run only seeds i, i+N, ... of the range (i/N), for batch schedulers");
  cmd->add_flag("--json", args->json_output, "Print every run and the aggregate as JSON");
  cmd->add_flag("--quiet", args->quiet, "Only progress and the aggregate");
  cmd->add_option("--out", args->out, "Also write the aggregate with the scenario and git revision to DIR/simulate.json");
  cmd->callback([&run, args] { run = [args] { return simulate_command(*args); }; });
}

}  // namespace bftgate::cli
