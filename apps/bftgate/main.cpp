// bftgate: one binary, one subcommand per job.
#include <fmt/format.h>

#include "bftgate/base/seeded_bug_name.hpp"
#include "build_info.hpp"
#include "cli_common.hpp"

namespace bftgate::cli {
// cmd_model.cpp: bftgate model train|eval, bftgate adapter train|eval|make-suite.
void register_model(CLI::App& app, Runner& run);
void register_adapter(CLI::App& app, Runner& run);
// cmd_validate.cpp: bftgate validate.
void register_validate(CLI::App& app, Runner& run);
}  // namespace bftgate::cli

int main(int argc, char** argv) {
  using namespace bftgate::cli;
  if (!bftgate::seeded_bug_name().empty()) {
    fmt::print(stderr, "bftgate: THIS BUILD CONTAINS THE SEEDED BUG '{}' (mutation testing only)\n",
               bftgate::seeded_bug_name());
  }
  CLI::App app{"bftgate: Byzantine-tolerant release of LLM adapters"};
  app.require_subcommand(1);
  app.set_version_flag("--version", fmt::format("bftgate {} ({})", bftgate::build_info::kVersion,
                                                bftgate::build_info::kGitRevision));
  Runner run;
  register_init(app, run);
  register_cluster(app, run);
  register_keygen(app, run);
  register_sign_cert(app, run);
  register_verify_cert(app, run);
  register_digest(app, run);
  register_demo(app, run);
  register_cert_demo(app, run);
  register_simulate(app, run);
  register_search(app, run);
  register_chaos(app, run);
  register_experiment(app, run);
  register_validator(app, run);
  register_submit(app, run);
  register_status(app, run);
  register_reconfigure(app, run);
  register_store(app, run);
  register_node(app, run);
  register_twin_router(app, run);
  register_model(app, run);
  register_adapter(app, run);
  register_validate(app, run);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return kExitUsage;
  }
  try {
    return run();
  } catch (const std::exception& e) {
    print_error(e.what());
    return kExitFailure;
  }
}
