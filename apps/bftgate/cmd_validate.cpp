// bftgate validate: run the validation suites on one adapter, as a validator would, and print
// the verdict with its metrics (JSON with --json). Exit 0 only for PASS.
#include <fmt/format.h>

#include "bftgate/base/strict_json.hpp"
#include "bftgate/validation/suites.hpp"
#include "cli_common.hpp"

namespace bftgate::cli {

namespace {

struct ValidateArgs {
  std::filesystem::path adapter;
  std::filesystem::path suites;
  bool json_output = false;
};

int validate(const ValidateArgs& args) {
  auto config = args.suites.empty()
                    ? Result<validation::SuiteConfig>(validation::SuiteConfig::defaults())
                    : validation::SuiteConfig::load(args.suites);
  if (!config) {
    print_error(config.error().message);
    return kExitFailure;
  }
  auto runner = validation::SuiteRunner::create(*config);
  if (!runner) {
    print_error(runner.error().message);
    return kExitFailure;
  }
  auto report = runner->validate(args.adapter);
  if (args.json_output) {
    auto j = report.to_json();
    j["base"] = runner->base_metrics();
    j["seconds"] = report.seconds;
    fmt::print("{}\n", dump_json(j, 2));
  } else {
    fmt::print("{}: {} ({:.2f} s)\n", args.adapter.string(), report.pass ? "PASS" : "FAIL",
               report.seconds);
    for (const auto& suite : report.suites) {
      fmt::print("  {:<11} {}  {}\n", suite.suite, suite.pass ? "pass" : "FAIL", suite.reason);
    }
  }
  return report.pass ? kExitOk : kExitFailure;
}

}  // namespace

void register_validate(CLI::App& app, Runner& run) {
  auto args = std::make_shared<ValidateArgs>();
  auto* cmd =
      app.add_subcommand("validate",
                         "Run the validation suites on an adapter (a PEFT directory or a packed "
                         "file) as a validator does; exit 0 only for PASS");
  cmd->add_option("--adapter", args->adapter, "PEFT directory or packed adapter file")
      ->required()
      ->check(CLI::ExistingPath);
  cmd->add_option("--suites", args->suites,
                  "Suites config (JSON; default: every suite with default thresholds)")
      ->check(CLI::ExistingFile);
  cmd->add_flag("--json", args->json_output, "Print the verdict and every metric as JSON");
  cmd->callback([&run, args] { run = [args] { return validate(*args); }; });
}

}  // namespace bftgate::cli
