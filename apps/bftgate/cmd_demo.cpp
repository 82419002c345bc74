// bftgate demo (make run): a whole local cluster of real processes on loopback — artifact
// store, validators, inference nodes — a passing adapter released and served by every node, a
// regressed one rejected, the measured convergence time next to the seed-000 bound, and every
// process stopped cleanly at the end. Everything lands in a run folder.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "bftgate/crypto/cluster_setup.hpp"
#include "bftgate/crypto/file_io.hpp"
#include "bftgate/crypto/key_file.hpp"
#include "bftgate/runtime/cluster_client.hpp"
#include "bftgate/runtime/local_processes.hpp"
#include "bftgate/runtime/operator.hpp"
#include "build_info.hpp"
#include "cli_common.hpp"

namespace bftgate::cli {

namespace {
using json = nlohmann::json;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

struct DemoArgs {
  std::size_t validators = 4;
  std::size_t nodes = 2;
  std::size_t artifact_mib = 8;
  double poll_s = 0.5;
  std::uint64_t seed = 1;
  std::filesystem::path out;
};

Bytes sample_adapter(std::size_t size, std::uint64_t seed, bool regressed) {
  Bytes bytes(size);
  std::mt19937_64 rng(seed);
  for (auto& b : bytes) b = static_cast<std::uint8_t>(rng());
  if (regressed) {
    const std::string marker = "REGRESSED";
    std::copy(marker.begin(), marker.end(), bytes.begin() + static_cast<std::ptrdiff_t>(size / 2));
  }
  return bytes;
}

json node_status(std::uint16_t port) {
  auto body = runtime::http_get(port, "/status");
  if (!body) return json();
  return json::parse(*body, nullptr, false);
}

int run_demo(DemoArgs args) {
  auto started = Clock::now();
  auto step = [&](const std::string& text) {
    fmt::print("[{:6.2f}s] {}\n", std::chrono::duration<double>(Clock::now() - started).count(), text);
    std::fflush(stdout);
  };
  auto failed = [&](const std::string& text) {
    print_error(text);
    return kExitFailure;
  };
  if (args.out.empty()) args.out = std::filesystem::path("runs") / fmt::format("demo-{}", utc_timestamp());
  std::error_code ec;
  std::filesystem::create_directories(args.out / "logs", ec);
  if (ec) return failed(fmt::format("cannot create {}: {}", args.out.string(), ec.message()));
  args.out = std::filesystem::absolute(args.out);
  fmt::print("bftgate demo: a local cluster of real processes on 127.0.0.1 (run folder {})\n", args.out.string());

  auto ports = static_cast<int>(args.validators + args.nodes + 1);
  auto base = runtime::free_port_range(ports);
  if (!base) return failed("no free range of ports on 127.0.0.1");
  auto cluster = generate_cluster({.validators = args.validators,
                                   .inference_nodes = args.nodes,
                                   .fault_model = FaultModel::kBft,
                                   .cluster_id = "bftgate-demo",
                                   .epoch = 1,
                                   .host = "127.0.0.1",
                                   .base_port = *base});
  if (!cluster) return failed(cluster.error().message);
  auto files = write_cluster(*cluster, args.out, /*overwrite=*/true);
  if (!files) return failed(files.error().message);
  const auto& config = cluster->config;
  step(fmt::format("cluster: {} validators (f={}, quorum {}), {} inference nodes, store at {}", config.n(), config.f,
                   config.quorum(), args.nodes, config.artifact_store_endpoint));

  runtime::ChildProcesses processes;
  auto self = std::filesystem::read_symlink("/proc/self/exe").string();
  auto config_path = files->config.string();
  if (auto s = processes.spawn("store", {self, "store", "--config", config_path, "--dir", (args.out / "store").string()},
                               args.out / "logs" / "store.log");
      !s) {
    return failed(s.error().message);
  }
  // The external-command suite, a stand-in until the model-based suites land: it fails an
  // artifact that carries a regression marker, and takes a validator-specific time.
  for (std::size_t i = 0; i < args.validators; ++i) {
    auto command = fmt::format(
        "sleep 0.{}; if grep -q REGRESSED {{adapter_path}}; then "
        "echo '{{\"pass\": false, \"metrics\": {{\"regression_marker\": true}}}}'; else "
        "echo '{{\"pass\": true, \"metrics\": {{\"regression_marker\": false}}}}'; fi",
        2 + i % 6);
    if (auto s = processes.spawn(fmt::format("validator {}", i),
                                 {self, "validator", "--config", config_path, "--id", std::to_string(i), "--key",
                                  files->validator_keys[i].string(), "--data",
                                  (args.out / fmt::format("validator-{}", i)).string(), "--validate-cmd", command},
                                 args.out / "logs" / fmt::format("validator-{}.log", i));
        !s) {
      return failed(s.error().message);
    }
  }
  for (std::size_t j = 0; j < args.nodes; ++j) {
    if (auto s = processes.spawn(fmt::format("node {}", j),
                                 {self, "node", "--config", config_path, "--id", std::to_string(j), "--cache",
                                  (args.out / fmt::format("node-{}", j)).string(), "--poll-interval",
                                  fmt::format("{}", args.poll_s)},
                                 args.out / "logs" / fmt::format("node-{}.log", j));
        !s) {
      return failed(s.error().message);
    }
  }
  step(fmt::format("started {} processes (logs in {}/logs)", processes.size(), args.out.string()));

  runtime::ClusterClient client(config);
  auto deadline = Clock::now() + std::chrono::seconds(20);
  while (client.query_all({{"query", "status"}}, milliseconds(300)).size() < config.n()) {
    if (Clock::now() > deadline) return failed("the validators did not all come up within 20 s");
  }
  auto node_port = [&](std::size_t j) { return static_cast<std::uint16_t>(*base + args.validators + 1 + j); };
  for (std::size_t j = 0; j < args.nodes; ++j) {
    while (node_status(node_port(j)).is_null()) {
      if (Clock::now() > deadline) return failed(fmt::format("inference node {} did not come up", j));
      std::this_thread::sleep_for(milliseconds(50));
    }
  }
  step("all validators and inference nodes are up; the fleet serves the base model (version 0)");

  std::string operator_key_path = files->operator_key.string();
  auto operator_key = crypto::read_key_file(operator_key_path);
  if (!operator_key) return failed(operator_key.error().message);
  auto good_path = args.out / "adapter-good.bin";
  auto regressed_path = args.out / "adapter-regressed.bin";
  auto size = args.artifact_mib << 20;
  if (auto s = write_file_atomic(good_path, sample_adapter(size, args.seed, false), {.mode = 0644, .overwrite = true}); !s) {
    return failed(s.error().message);
  }
  if (auto s = write_file_atomic(regressed_path, sample_adapter(size, args.seed + 1, true), {.mode = 0644, .overwrite = true});
      !s) {
    return failed(s.error().message);
  }

  // 1. The good adapter: released, then served by the whole fleet.
  auto submitted = Clock::now();
  auto submitted_wall = std::chrono::system_clock::now();
  auto good = runtime::propose_adapter(config, operator_key->key, good_path, 0, true, milliseconds(30'000));
  if (!good) return failed(good.error().message);
  step(fmt::format("submitted {} ({} MiB, sha256 {}...) as version {}", good_path.filename().string(), args.artifact_mib,
                   good->digest.hex().substr(0, 16), good->version));
  auto decided = runtime::wait_for_decision(config, good->version, milliseconds(60'000),
                                            [&](const std::string& line) { step("  " + line); });
  if (!decided) return failed(decided.error().message);
  if ((*decided)["state"] != "RELEASE_COMMIT") return failed(fmt::format("version {} was {}", good->version, (*decided)["state"].dump()));
  auto certificate = crypto::ReleaseCertificate::from_json((*decided)["certificate"]);
  if (!certificate) return failed(certificate.error().reason);
  auto verdict = crypto::verify_with_artifact(*certificate, config, good_path);
  step(fmt::format("version {} is RELEASE_COMMIT after {:.2f} s; certificate {} offline against the config and the "
                   "artifact",
                   good->version, std::chrono::duration<double>(Clock::now() - submitted).count(),
                   verdict.ok() ? "VERIFIES" : "FAILS: " + verdict.reason));
  if (!verdict.ok()) return failed(verdict.reason);
  auto cert_path = args.out / "certificate.json";
  (void)write_file_atomic(cert_path, as_bytes(certificate->to_json().dump(2) + "\n"), {.mode = 0644, .overwrite = true});

  std::vector<json> statuses(args.nodes);
  deadline = Clock::now() + std::chrono::seconds(60);
  for (std::size_t j = 0; j < args.nodes; ++j) {
    for (;;) {
      statuses[j] = node_status(node_port(j));
      if (statuses[j].is_object() && statuses[j]["version"] == good->version) break;
      if (Clock::now() > deadline) return failed(fmt::format("node {} did not converge on version {}", j, good->version));
      std::this_thread::sleep_for(milliseconds(50));
    }
  }
  double convergence_s = 0;
  double transfer_s = 0;
  for (const auto& status : statuses) {
    auto swapped = status["swapped_at_unix_s"][std::to_string(good->version)].get<double>();
    convergence_s = std::max(convergence_s, swapped - std::chrono::duration<double>(submitted_wall.time_since_epoch()).count());
    transfer_s = std::max(transfer_s, status["fetch_and_verify_ms"][std::to_string(good->version)].get<double>() / 1000);
  }
  double slowest_validation_s = 0;
  for (const auto& [id, answer] : client.query_all({{"query", "status"}}, milliseconds(1000))) {
    auto key = std::to_string(good->version);
    if (answer["validations"].contains(key)) {
      slowest_validation_s = std::max(slowest_validation_s, answer["validations"][key]["validation_s"].get<double>());
    }
  }
  double bound_s = slowest_validation_s + args.poll_s + transfer_s;
  step(fmt::format("every inference node serves version {}: convergence {:.2f} s after submission; seed-000 bound "
                   "(slowest validation {:.2f} s + poll interval {:.2f} s + transfer {:.2f} s) = {:.2f} s, plus "
                   "consensus latency",
                   good->version, convergence_s, slowest_validation_s, args.poll_s, transfer_s, bound_s));

  // 2. The regressed adapter: rejected, and never served.
  auto regressed = runtime::propose_adapter(config, operator_key->key, regressed_path, 0, true, milliseconds(30'000));
  if (!regressed) return failed(regressed.error().message);
  step(fmt::format("submitted {} as version {}", regressed_path.filename().string(), regressed->version));
  auto rejected = runtime::wait_for_decision(config, regressed->version, milliseconds(60'000),
                                             [&](const std::string& line) { step("  " + line); });
  if (!rejected) return failed(rejected.error().message);
  std::this_thread::sleep_for(milliseconds(static_cast<std::int64_t>(args.poll_s * 3000)));
  bool fleet_unchanged = true;
  for (std::size_t j = 0; j < args.nodes; ++j) {
    statuses[j] = node_status(node_port(j));
    fleet_unchanged &= statuses[j]["version"] == good->version;
  }
  step(fmt::format("version {} is {} ({}); the fleet still serves version {}: {}", regressed->version,
                   (*rejected)["state"].get<std::string>(), (*rejected)["reason"].get<std::string>(), good->version,
                   fleet_unchanged ? "yes" : "NO"));

  auto unclean = processes.stop_all();
  step(unclean.empty() ? "all processes stopped cleanly" : fmt::format("processes that did not stop cleanly: {}", unclean.size()));

  bool ok = (*rejected)["state"] == "REJECTED" && fleet_unchanged && unclean.empty();
  json report = {{"git_revision", build_info::kGitRevision},
                 {"seed", args.seed},
                 {"args", {{"validators", args.validators}, {"nodes", args.nodes}, {"artifact_mib", args.artifact_mib},
                           {"poll_interval_s", args.poll_s}}},
                 {"cluster", {{"n", config.n()}, {"f", config.f}, {"quorum", config.quorum()}}},
                 {"good", {{"version", good->version}, {"digest", good->digest.hex()}, {"state", (*decided)["state"]},
                           {"certificate", cert_path.string()}}},
                 {"convergence", {{"measured_s", convergence_s}, {"slowest_validation_s", slowest_validation_s},
                                  {"poll_interval_s", args.poll_s}, {"transfer_s", transfer_s}, {"seed000_bound_s", bound_s}}},
                 {"regressed", {{"version", regressed->version}, {"state", (*rejected)["state"]},
                                {"reason", (*rejected)["reason"]}, {"fleet_unchanged", fleet_unchanged}}},
                 {"nodes", statuses},
                 {"processes_stopped_cleanly", unclean.empty()},
                 {"ok", ok}};
  (void)write_file_atomic(args.out / "report.json", as_bytes(report.dump(2) + "\n"), {.mode = 0644, .overwrite = true});
  fmt::print("\nreport: {}\n  certificate  {} (signed by validators {})\n  convergence  {:.2f} s measured, seed-000 bound "
             "{:.2f} s + consensus\n  regressed    version {} {}\n  result       {}\n",
             (args.out / "report.json").string(), cert_path.string(),
             fmt::join(certificate->signers().ids(), ", "), convergence_s, bound_s, regressed->version,
             (*rejected)["state"].get<std::string>(), ok ? "OK" : "FAILED");
  return ok ? kExitOk : kExitFailure;
}
}  // namespace

void register_demo(CLI::App& app, Runner& run) {
  auto args = std::make_shared<DemoArgs>();
  auto* cmd = app.add_subcommand("demo", "The make run demo: a local cluster of real processes releases a good adapter "
                                         "to every inference node and rejects a regressed one");
  cmd->add_option("--validators", args->validators, "Number of validators")->default_val(4)->check(CLI::Range(1, 64));
  cmd->add_option("--nodes", args->nodes, "Number of inference nodes")->default_val(2)->check(CLI::Range(1, 64));
  cmd->add_option("--artifact-mib", args->artifact_mib, "Size of the sample adapters in MiB")
      ->default_val(8)
      ->check(CLI::Range(1, 1024));
  cmd->add_option("--poll-interval", args->poll_s, "Inference nodes' poll interval in seconds")->default_val(0.5);
  cmd->add_option("--seed", args->seed, "Seed of the sample adapters' bytes")->default_val(1);
  cmd->add_option("--out", args->out, "Run folder (default runs/demo-<UTC time>)");
  cmd->callback([&run, args] { run = [args] { return run_demo(*args); }; });
}

}  // namespace bftgate::cli
