// bftgate experiment list|run|merge: the experiment drivers (experiments/lib) and their run
// folders.
#include <fmt/format.h>

#include <thread>

#include "bftgate/experiments/experiment.hpp"
#include "bftgate/experiments/runner.hpp"
#include "bftgate/sim/aggregate.hpp"
#include "build_info.hpp"
#include "cli_common.hpp"

namespace bftgate::cli {

namespace {

struct RunArgs {
  std::string name;
  std::string size = "smoke";
  unsigned jobs = 0;
  std::string shard;
  std::filesystem::path out;
  bool no_plots = false;
};

struct MergeArgs {
  std::vector<std::filesystem::path> dirs;
  std::filesystem::path out;
  bool no_plots = false;
};

void print_folder(const experiments::RunFolder& folder) {
  fmt::print("run folder: {} ({} runs{})\n", folder.dir.string(), folder.runs,
             folder.complete ? "" : ", one shard: merge the shards for the summary and plots");
  if (!folder.complete) return;
  fmt::print("\n{}\n", folder.summary.markdown);
  for (const auto& plot : folder.plots) fmt::print("plot: {}\n", plot);
  if (!folder.summary.ok) print_error("the experiment's checks did not hold (see summary.md)");
}

int list_command() {
  for (const auto& experiment : experiments::experiments()) {
    auto smoke = experiment->sweep(experiment->config(experiments::Size::kSmoke)).size();
    auto full = experiment->sweep(experiment->config(experiments::Size::kFull)).size();
    fmt::print("{:<16} {} ({} runs smoke, {} full)\n", experiment->name(),
               experiment->description(), smoke, full);
  }
  return kExitOk;
}

int run_command(const RunArgs& args) {
  const auto* experiment = experiments::find_experiment(args.name);
  if (experiment == nullptr) {
    print_error(fmt::format("unknown experiment '{}' (bftgate experiment list)", args.name));
    return kExitUsage;
  }
  auto size = experiments::parse_size(args.size);
  if (!size) {
    print_error(size.error().message);
    return kExitUsage;
  }
  experiments::RunOptions options;
  options.size = *size;
  options.jobs = args.jobs > 0 ? args.jobs : std::max(1u, std::thread::hardware_concurrency());
  if (!args.shard.empty()) {
    auto shard = sim::parse_shard(args.shard);
    if (!shard) {
      print_error(shard.error().message);
      return kExitUsage;
    }
    options.shard = *shard;
  }
  options.out = args.out.empty() ? std::filesystem::path("runs") /
                                       fmt::format("exp-{}-{}", args.name, utc_timestamp())
                                 : args.out;
  options.git_revision = build_info::kGitRevision;
  options.plots = !args.no_plots;
  options.progress = [](const std::string& line) { fmt::print(stderr, "{}\n", line); };
  auto folder = experiments::run_experiment(*experiment, options);
  if (!folder) {
    print_error(folder.error().message);
    return kExitFailure;
  }
  print_folder(*folder);
  return folder->complete && !folder->summary.ok ? kExitFailure : kExitOk;
}

int merge_command(const MergeArgs& args) {
  auto folder = experiments::merge_runs(args.dirs, args.out, !args.no_plots);
  if (!folder) {
    print_error(folder.error().message);
    return kExitFailure;
  }
  print_folder(*folder);
  return folder->summary.ok ? kExitOk : kExitFailure;
}

}  // namespace

void register_experiment(CLI::App& app, Runner& run) {
  auto* cmd = app.add_subcommand(
      "experiment", "Experiment drivers: sweeps of seeded runs into run folders with plots");
  cmd->require_subcommand(1);
  cmd->add_subcommand("list", "The experiments, with their sweep sizes")->callback([&run] {
    run = [] { return list_command(); };
  });

  auto run_args = std::make_shared<RunArgs>();
  auto* run_cmd = cmd->add_subcommand("run", "Run an experiment's sweep into a run folder");
  run_cmd->add_option("name", run_args->name, "Experiment (bftgate experiment list)")->required();
  run_cmd->add_option("--size", run_args->size, "smoke (CI size) or full")
      ->check(CLI::IsMember({"smoke", "full"}))
      ->default_val("smoke");
  run_cmd->add_option("--jobs", run_args->jobs, "Worker threads (default: every core)")
      ->check(CLI::Range(1u, 1024u));
  run_cmd->add_option("--shard", run_args->shard,
                      "i/N: only the runs whose index is i modulo N (merge the N folders)");
  run_cmd->add_option("--out", run_args->out, "Run folder (default runs/exp-NAME-<UTC time>)");
  run_cmd->add_flag("--no-plots", run_args->no_plots, "Skip the plots (no matplotlib needed)");
  run_cmd->callback([&run, run_args] { run = [run_args] { return run_command(*run_args); }; });

  auto merge_args = std::make_shared<MergeArgs>();
  auto* merge_cmd = cmd->add_subcommand(
      "merge", "Merge the run folders of one sweep's shards: refuses gaps and duplicates");
  merge_cmd->add_option("dirs", merge_args->dirs, "The shards' run folders")
      ->required()
      ->check(CLI::ExistingDirectory);
  merge_cmd->add_option("--out", merge_args->out, "The merged run folder")->required();
  merge_cmd->add_flag("--no-plots", merge_args->no_plots, "Skip the plots");
  merge_cmd->callback(
      [&run, merge_args] { run = [merge_args] { return merge_command(*merge_args); }; });
}

}  // namespace bftgate::cli
