// bftgate chaos: a real local cluster under a random nemesis (bftgate/experiments/chaos.hpp),
// with progress and a run folder; exit 0 when no round broke an invariant.
#include <fmt/format.h>

#include "bftgate/experiments/chaos.hpp"
#include "build_info.hpp"
#include "cli_common.hpp"

namespace bftgate::cli {

namespace {

int chaos_command(experiments::ChaosOptions options) {
  if (options.out.empty()) {
    options.out = std::filesystem::path("runs") / fmt::format("chaos-{}", utc_timestamp());
  }
  options.git_revision = build_info::kGitRevision;
  fmt::print("chaos: {} rounds (seed {}), each fault held {} s; run folder {}\n", options.rounds,
             options.seed, options.fault_s, options.out.string());
  auto report = experiments::run_chaos(options, [](const experiments::ChaosProgress& p) {
    auto per_round = p.elapsed_s / static_cast<double>(p.round);
    fmt::print(stderr, "  ... round {}/{}, {:.1f} s a round, {} violations, ETA {:.0f} s\n",
               p.round, p.rounds, per_round, p.violations,
               per_round * static_cast<double>(p.rounds - p.round));
  });
  if (!report) {
    print_error(report.error().message);
    return kExitFailure;
  }
  fmt::print("{} rounds in {:.0f} s; faults {}; partitions by {}\n", report->rounds, report->wall_s,
             nlohmann::json(report->faults).dump(), report->partitions);
  fmt::print("adapters submitted {}, certified and served {}; violations: {}\n", report->submitted,
             report->certified, report->violations.size());
  for (const auto& v : report->violations) fmt::print("  {}\n", v);
  return report->violations.empty() ? kExitOk : kExitFailure;
}

}  // namespace

void register_chaos(CLI::App& app, Runner& run) {
  auto options = std::make_shared<experiments::ChaosOptions>();
  auto* cmd = app.add_subcommand(
      "chaos",
      "Run a real local cluster (4 validators, 2 nodes, the store) under a random nemesis: "
      "validators killed, cut off (nftables, or in-process faults), restarted Byzantine; nodes "
      "restarted; an adapter submitted each round; agreement, serving safety and liveness "
      "checked after each round. Exit 0 when no round broke one");
  cmd->add_option("--rounds", options->rounds, "Rounds")
      ->default_val(20)
      ->check(CLI::Range(1, 1'000'000));
  cmd->add_option("--time", options->time_s, "Stop after this many seconds (0: run every round)")
      ->default_val(0)
      ->check(CLI::Range(0.0, 1e7));
  cmd->add_option("--fault-seconds", options->fault_s, "How long each round's fault holds")
      ->default_val(1.0)
      ->check(CLI::Range(0.0, 600.0));
  cmd->add_option("--settle-seconds", options->settle_s,
                  "How long a healed round may take to certify and serve its adapter")
      ->default_val(30)
      ->check(CLI::Range(1.0, 3600.0));
  cmd->add_option("--seed", options->seed, "Seed of the nemesis")->default_val(1);
  cmd->add_option("--out", options->out, "Run folder (default runs/chaos-<UTC time>)");
  cmd->callback([&run, options] { run = [options] { return chaos_command(*options); }; });
}

}  // namespace bftgate::cli
