// bftgate simulate: seeded runs of a scenario in the deterministic simulator, with per-run and
// aggregate results and the invariant checker's verdict.
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <nlohmann/json.hpp>
#include <tuple>

#include "bftgate/io/file_io.hpp"
#include "bftgate/sim/aggregate.hpp"
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
  bool seed_range_given = false;  // else a scenario's own seed (a search finding) is the run
};

int simulate_command(const SimulateArgs& given) {
  auto scenario = sim::Scenario::load(given.scenario);
  if (!scenario) {
    print_error(scenario.error().message);
    return kExitFailure;
  }
  SimulateArgs args = given;
  if (scenario->seed && !args.seed_range_given) {
    args.first_seed = *scenario->seed;
    args.seeds = 1;
  }
  std::uint64_t shard_index = 0;
  std::uint64_t shard_count = 1;
  if (!args.shard.empty()) {
    auto shard = sim::parse_shard(args.shard);
    if (!shard) {
      print_error(shard.error().message);
      return kExitUsage;
    }
    std::tie(shard_index, shard_count) = *shard;
  }
  if (!args.json_output) {
    fmt::print(
        "scenario '{}': n={} ({} mode, f={}), {} Byzantine, {} adapters, {} s virtual; seeds "
        "{}..{}{}\n",
        scenario->name, scenario->validators, to_string(scenario->fault_model), scenario->f(),
        scenario->byzantine.size(), scenario->adapters.size(), scenario->duration_s,
        args.first_seed, args.first_seed + args.seeds - 1,
        shard_count > 1 ? fmt::format(" (shard {}/{})", shard_index, shard_count) : "");
  }

  json runs = json::array();
  sim::SeedAggregate aggregate(*scenario);
  std::uint64_t done = 0;
  const std::uint64_t total = (args.seeds + shard_count - 1 - shard_index) / shard_count;
  auto start = std::chrono::steady_clock::now();
  auto last_progress = start;
  for (std::uint64_t i = 0; i < args.seeds; ++i) {
    if (i % shard_count != shard_index) continue;
    auto seed = args.first_seed + i;
    auto result = sim::simulate(*scenario, seed);
    ++done;
    aggregate.add(result);
    auto run_json = result.to_json();
    if (args.json_output) {
      runs.push_back(std::move(run_json));
    } else if (!args.quiet) {
      std::string states;
      for (const auto& v : result.versions) {
        states += fmt::format(
            " v{}={}{}", v.version, v.state,
            v.converged_s ? fmt::format("@{:.2f}s", *v.converged_s - v.submitted_s) : "");
      }
      fmt::print("  seed {:>6}: {:>7} deliveries, {} view changes,{}{}\n", seed, result.deliveries,
                 result.view_changes, states,
                 result.violations.empty()
                     ? ""
                     : fmt::format("  VIOLATION {}", result.violations.front()));
    }
    auto now = std::chrono::steady_clock::now();
    if (args.quiet && !args.json_output && now - last_progress > std::chrono::seconds(2)) {
      last_progress = now;
      auto elapsed = std::chrono::duration<double>(now - start).count();
      auto rate = static_cast<double>(done) / elapsed;
      fmt::print(stderr, "  ... {}/{} runs, {:.0f} runs/s, ETA {:.0f} s, {} with violations\n",
                 done, total, rate, static_cast<double>(total - done) / rate,
                 aggregate.runs_with_violations());
    }
  }
  double wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  auto summary = aggregate.to_json(wall_s);
  bool as_expected = aggregate.as_expected();
  if (!args.out.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(args.out, ec);
    json record = {{"git_revision", build_info::kGitRevision},
                   {"scenario_file", args.scenario.string()},
                   {"scenario", scenario->to_json()},
                   {"first_seed", args.first_seed},
                   {"seeds", args.seeds},
                   {"shard", args.shard},
                   {"aggregate", summary}};
    auto text = record.dump(2) + "\n";
    if (auto s = write_file_atomic(args.out / "simulate.json", as_bytes(text),
                                   {.mode = 0644, .overwrite = true});
        !s) {
      print_error(s.error().message);
      return kExitFailure;
    }
  }
  if (args.json_output) {
    fmt::print("{}\n", json({{"aggregate", summary}, {"runs", runs}}).dump(2));
  } else {
    const auto& latency = summary["certification_latency_s"];
    const auto& convergence = summary["convergence_s"];
    fmt::print("aggregate over {} runs ({:.1f} s wall, {:.0f} deliveries/s):\n", done, wall_s,
               summary["deliveries_per_s"].get<double>());
    fmt::print("  decisions:   {}\n", summary["decisions"].dump());
    fmt::print("  messages:    {}\n", summary["messages_sent"].dump());
    fmt::print("  view changes {}, state transfers {}\n", summary["view_changes"].dump(),
               summary["state_transfers"].dump());
    if (latency["count"].get<std::size_t>() > 0) {
      fmt::print("  certified after   mean {:.3f} s, p99 {:.3f} s\n", latency["mean"].get<double>(),
                 latency["p99"].get<double>());
    }
    if (convergence["count"].get<std::size_t>() > 0) {
      fmt::print("  fleet converged after mean {:.3f} s, max {:.3f} s\n",
                 convergence["mean"].get<double>(), convergence["max"].get<double>());
    }
    fmt::print("  invariant violations: {} runs {}; expected: {} -> {}\n",
               aggregate.runs_with_violations(), summary["violations_by_invariant"].dump(),
               scenario->expect_violation, as_expected ? "AS EXPECTED" : "UNEXPECTED");
  }
  return as_expected ? kExitOk : kExitFailure;
}
}  // namespace

void register_simulate(CLI::App& app, Runner& run) {
  auto args = std::make_shared<SimulateArgs>();
  auto* cmd =
      app.add_subcommand("simulate",
                         "Run a scenario in the deterministic simulator over many seeds; "
                         "exit 0 when the invariant checker's findings match the scenario's "
                         "expectation");
  cmd->add_option("--scenario", args->scenario, "Scenario JSON file")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--seeds", args->seeds,
                  "Number of seeded runs (default 100; 1 for a scenario that names its seed)")
      ->default_val(100)
      ->check(CLI::Range(1, 10'000'000));
  cmd->add_option("--first-seed", args->first_seed,
                  "Seed of the first run (default 1, or the scenario's own seed)")
      ->default_val(1);
  cmd->add_option("--shard", args->shard,
                  "Run only seeds i, i+N, ... of the range (i/N), for batch schedulers");
  cmd->add_flag("--json", args->json_output, "Print every run and the aggregate as JSON");
  cmd->add_flag("--quiet", args->quiet, "Only progress and the aggregate");
  cmd->add_option(
      "--out", args->out,
      "Also write the aggregate with the scenario and git revision to DIR/simulate.json");
  cmd->callback([&run, args, cmd] {
    args->seed_range_given = cmd->count("--seeds") > 0 || cmd->count("--first-seed") > 0;
    run = [args] { return simulate_command(*args); };
  });
}

}  // namespace bftgate::cli
