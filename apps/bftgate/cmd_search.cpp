// bftgate search: the randomized Byzantine schedule search (bftgate/sim/search.hpp), with
// progress, shrunk findings written as replayable scenarios, and a summary.
#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "bftgate/experiments/experiment.hpp"
#include "bftgate/io/file_io.hpp"
#include "bftgate/sim/search.hpp"
#include "build_info.hpp"
#include "cli_common.hpp"

namespace bftgate::cli {

namespace {
using nlohmann::json;

struct SearchArgs {
  sim::SearchOptions options;
  sim::SearchBudget budget;
  std::size_t byzantine = 0;  // 0: f
  std::string scope = "small";
  std::filesystem::path scenario;
  std::filesystem::path out;
  bool json_output = false;
};

json finding_json(const sim::Finding& f) {
  return {{"seed", f.seed},
          {"invariant", f.invariant},
          {"violation", f.violation},
          {"faults_drawn", f.faults_drawn},
          {"faults_shrunk", sim::fault_count(f.shrunk)},
          {"byzantine", f.shrunk.byzantine.size()},
          {"shrink_runs", f.shrink_runs},
          {"shrink_s", f.shrink_s},
          {"scenario", f.shrunk.to_json()},
          {"replay", f.replay.to_json()}};
}

json report_json(const SearchArgs& args, const sim::SearchReport& report) {
  json findings = json::array();
  for (const auto& f : report.findings) findings.push_back(finding_json(f));
  const auto& o = args.options;
  return {{"git_revision", build_info::kGitRevision},
          {"options",
           {{"validators", o.validators},
            {"byzantine", o.byzantine ? json(*o.byzantine) : json("f")},
            {"rounds", o.rounds},
            {"seqs", o.seqs},
            {"network_faults", o.network_faults},
            {"process_faults", o.process_faults},
            {"epoch_changes", o.epoch_changes},
            {"scope", args.scope},
            {"liveness", o.liveness},
            {"scenario", args.scenario.string()},
            {"first_seed", args.budget.first_seed},
            {"seeds", args.budget.seeds},
            {"time_s", args.budget.time_s},
            {"jobs", report.jobs},
            {"max_findings", args.budget.max_findings}}},
          {"schedules", report.schedules},
          {"violating", report.violating},
          {"deliveries", report.deliveries},
          {"faults_drawn", report.faults_drawn},
          {"by_invariant", report.by_invariant},
          {"mutations_by_kind", report.mutations_by_kind},
          {"search_s", report.search_s},
          {"schedules_per_s",
           report.search_s > 0 ? static_cast<double>(report.schedules) / report.search_s : 0.0},
          {"schedules_per_s_per_core", report.schedules_per_s_per_core()},
          {"findings", findings}};
}

int search_command(SearchArgs args) {
  if (args.scope != "small" && args.scope != "any") {
    print_error(fmt::format("--scope: expected small or any, not '{}'", args.scope));
    return kExitUsage;
  }
  args.options.any_scope = args.scope == "any";
  if (args.byzantine > 0) args.options.byzantine = args.byzantine;
  if (!args.scenario.empty()) {
    auto base = sim::Scenario::load(args.scenario);
    if (!base) {
      print_error(base.error().message);
      return kExitFailure;
    }
    if (!base->mutations.empty() || !base->round_partitions.empty() || !base->byzantine.empty()) {
      print_error(
          fmt::format("{}: a search's base scenario has no Byzantine validators or "
                      "round faults of its own (the search draws them)",
                      args.scenario.string()));
      return kExitUsage;
    }
    args.options.base = *base;
    args.options.validators = base->validators;
  }
  const auto base =
      args.options.base ? *args.options.base : sim::search_base_scenario(args.options.validators);
  const auto byzantine = args.options.byzantine.value_or(base.f());
  if (byzantine >= base.validators) {
    print_error(fmt::format("--byzantine {}: at most {} of {} validators", byzantine,
                            base.validators - 1, base.validators));
    return kExitUsage;
  }
  if (!args.json_output) {
    fmt::print(
        "search: n={} (f={}), {} Byzantine, {} network and {} process faults a schedule in views "
        "0..{}, {} scope; {}, {} job(s)\n",
        base.validators, base.f(), byzantine, args.options.network_faults,
        args.options.process_faults, args.options.rounds - 1, args.scope,
        args.budget.time_s > 0 ? fmt::format("{} s", args.budget.time_s)
                               : fmt::format("seeds {}..{}", args.budget.first_seed,
                                             args.budget.first_seed + args.budget.seeds - 1),
        args.budget.jobs);
  }
  auto progress = [&](const sim::SearchProgress& p) {
    auto rate = static_cast<double>(p.schedules) / p.elapsed_s;
    double left =
        args.budget.time_s > 0
            ? args.budget.time_s - p.elapsed_s
            : static_cast<double>(args.budget.seeds - std::min(args.budget.seeds, p.schedules)) /
                  rate;
    fmt::print(stderr, "  ... {} schedules, {:.0f}/s, {} broke an invariant, ETA {:.0f} s\n",
               p.schedules, rate, p.violating, std::max(left, 0.0));
  };
  const auto started = experiments::utc_now();
  auto report = sim::search(args.options, args.budget, progress);
  auto record = report_json(args, report);

  if (!args.out.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(args.out / "findings", ec);
    for (const auto& f : report.findings) {
      auto path = args.out / "findings" / fmt::format("{}-{}.json", f.invariant, f.seed);
      if (auto s = write_file_atomic(path, as_bytes(f.shrunk.to_json().dump(2) + "\n"),
                                     {.mode = 0644, .overwrite = true});
          !s) {
        print_error(s.error().message);
        return kExitFailure;
      }
    }
    // A run folder like the experiments' (paper/tools/runs.py): the manifest with its end
    // time, and the report as summary.json (search.json too, its older name).
    // Named for what the paper reads from it: f Byzantine (small or any scope) or f+1 colluders.
    const char* experiment = byzantine > base.f()     ? "search-colluders"
                             : args.options.any_scope ? "search-any"
                                                      : "search";
    json manifest = {{"experiment", experiment},
                     {"config", record["options"]},
                     {"seeds", {args.budget.first_seed}},
                     {"runs", report.schedules},
                     {"git_revision", build_info::kGitRevision},
                     {"host", experiments::host_info()},
                     {"started", started},
                     {"ended", experiments::utc_now()},
                     {"wall_s", report.search_s}};
    for (const auto& [file, content] : {std::pair{"search.json", record},
                                        {"summary.json", record},
                                        {"manifest.json", manifest}}) {
      if (auto s = write_file_atomic(args.out / file, as_bytes(content.dump(2) + "\n"),
                                     {.mode = 0644, .overwrite = true});
          !s) {
        print_error(s.error().message);
        return kExitFailure;
      }
    }
  }
  if (args.json_output) {
    fmt::print("{}\n", record.dump(2));
  } else {
    fmt::print("{} schedules in {:.1f} s: {:.0f} a second per core ({} job(s)), {} deliveries\n",
               report.schedules, report.search_s, report.schedules_per_s_per_core(), report.jobs,
               report.deliveries);
    fmt::print("schedules that broke an invariant: {} {}\n", report.violating,
               json(report.by_invariant).dump());
    for (const auto& f : report.findings) {
      fmt::print("  seed {}: {} -- shrunk from {} faults to {} ({} runs, {:.1f} s)\n", f.seed,
                 f.invariant, f.faults_drawn, sim::fault_count(f.shrunk), f.shrink_runs,
                 f.shrink_s);
      fmt::print("    {}\n", f.violation);
      if (!args.out.empty()) {
        fmt::print(
            "    replay: bftgate simulate --scenario {}\n",
            (args.out / "findings" / fmt::format("{}-{}.json", f.invariant, f.seed)).string());
      }
    }
  }
  return report.violating == 0 ? kExitOk : kExitFailure;
}

}  // namespace

void register_search(CLI::App& app, Runner& run) {
  auto args = std::make_shared<SearchArgs>();
  auto* cmd = app.add_subcommand(
      "search",
      "Search Byzantine schedules in the simulator: each seed draws round-bound partitions and "
      "mutations of the Byzantine validators' messages; a schedule that breaks an invariant is "
      "shrunk to a minimal one and written as a replayable scenario. Exit 0 when none broke one, "
      "1 when one did");
  auto& o = args->options;
  auto& b = args->budget;
  cmd->add_option("--n", o.validators, "Validators (without --scenario)")
      ->default_val(4)
      ->check(CLI::Range(4, 31));
  cmd->add_option("--byzantine", args->byzantine,
                  "Byzantine validators a schedule (default f; f+1 colluders break safety)")
      ->check(CLI::Range(1, 30));
  cmd->add_option("--rounds", o.rounds, "Faults land in views 0..R-1")
      ->default_val(3)
      ->check(CLI::Range(1, 1000));
  cmd->add_option("--seqs", o.seqs, "A fault bound to a sequence number picks one in 1..S")
      ->default_val(6)
      ->check(CLI::Range(1, 1000));
  cmd->add_option("--network-faults", o.network_faults, "d: round partitions a schedule")
      ->default_val(2)
      ->check(CLI::Range(0, 100));
  cmd->add_option("--process-faults", o.process_faults, "c: mutations a schedule")
      ->default_val(4)
      ->check(CLI::Range(0, 100));
  cmd->add_option("--epoch-changes", o.epoch_changes,
                  "Epoch changes a schedule (replace, rotate, grow by 3, shrink back) in the "
                  "first half of the run")
      ->default_val(0)
      ->check(CLI::Range(0, 8));
  cmd->add_option("--scope", args->scope,
                  "small: view/seq +-1, digest, signature, drop, duplicate, vote flips; any: also "
                  "wide values and corrupted bytes")
      ->default_val("small");
  cmd->add_flag("--liveness", o.liveness, "Count liveness violations as findings too");
  cmd->add_option("--seeds", b.seeds, "Schedules to try")
      ->default_val(1000)
      ->check(CLI::Range(1, 1'000'000'000));
  cmd->add_option("--time", b.time_s, "Search for this many seconds instead of --seeds")
      ->check(CLI::Range(0.1, 1e7));
  cmd->add_option("--first-seed", b.first_seed, "Seed of the first schedule")->default_val(1);
  cmd->add_option("--jobs", b.jobs, "Threads")->default_val(1)->check(CLI::Range(1, 256));
  cmd->add_option("--max-findings", b.max_findings,
                  "Stop after this many schedules broke an invariant, and shrink them (0: never "
                  "stop, shrink all)")
      ->default_val(3)
      ->check(CLI::Range(0, 1000));
  cmd->add_option("--scenario", args->scenario,
                  "Base scenario (no Byzantine validators of its own); default: a short run of "
                  "a passing and a split adapter")
      ->check(CLI::ExistingFile);
  cmd->add_option(
      "--out", args->out,
      "Write a run folder: DIR/manifest.json, DIR/summary.json (also as search.json) and each "
      "shrunk finding as DIR/findings/INVARIANT-SEED.json");
  cmd->add_flag("--json", args->json_output, "Print the report as JSON");
  cmd->callback([&run, args] { run = [args] { return search_command(*args); }; });
}

}  // namespace bftgate::cli
