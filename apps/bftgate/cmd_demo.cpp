// bftgate demo (make run): a whole local cluster of real processes on loopback — artifact
// store, validators, inference nodes — a passing adapter released and served by every node, a
// regressed one rejected, the measured convergence time next to the seed-000 bound, and every
// process stopped cleanly at the end. Everything lands in a run folder.
//
// By default the adapters are real: the tiny model trained here (cached), LoRA adapters made by
// fine-tuning it (cached), judged by the validators' model-based suites; the good adapter is
// certified and the poisoned one rejected by the safety suite. --stand-in uses random bytes and
// a one-line validation command instead (seconds, for tests of the processes themselves).
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
#include "bftgate/validation/adapter_suite.hpp"
#include "bftgate/validation/corpus.hpp"
#include "bftgate/validation/model.hpp"
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
  bool stand_in = false;
};

// What the demo submits and how validators judge it.
struct DemoAdapters {
  std::filesystem::path good;
  std::filesystem::path bad;
  std::string bad_label;                          // "regressed", "poisoned"
  std::vector<std::vector<std::string>> judging;  // extra validator arguments, per validator
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

using StepLog = std::function<void(const std::string&)>;

Result<DemoAdapters> stand_in_adapters(const DemoArgs& args) {
  DemoAdapters adapters{args.out / "adapter-good.bin", args.out / "adapter-regressed.bin", "regressed", {}};
  auto size = args.artifact_mib << 20;
  if (auto s = write_file_atomic(adapters.good, sample_adapter(size, args.seed, false), {.mode = 0644, .overwrite = true});
      !s) {
    return s.error();
  }
  if (auto s = write_file_atomic(adapters.bad, sample_adapter(size, args.seed + 1, true), {.mode = 0644, .overwrite = true});
      !s) {
    return s.error();
  }
  // A one-line suite: it fails an artifact that carries a regression marker, and takes a
  // validator-specific time.
  for (std::size_t i = 0; i < args.validators; ++i) {
    adapters.judging.push_back(
        {"--validate-cmd",
         fmt::format("sleep 0.{}; if grep -q REGRESSED {{adapter_path}}; then "
                     "echo '{{\"pass\": false, \"metrics\": {{\"regression_marker\": true}}}}'; else "
                     "echo '{{\"pass\": true, \"metrics\": {{\"regression_marker\": false}}}}'; fi",
                     2 + i % 6)});
  }
  return adapters;
}

// The tiny model and the generated adapter set, from the cache or trained now; validators run the
// default suites on the same cached model.
Result<DemoAdapters> real_adapters(const DemoArgs& args, const StepLog& step) {
  namespace v = validation;
  auto cache = std::filesystem::absolute(v::default_cache_dir());
  ::setenv("BFTGATE_CACHE_DIR", cache.c_str(), 1);  // the validators load the same model
  step(fmt::format("base model: {} (trained here on first use, then cached)", (cache / "model").string()));
  auto last_report = Clock::now();
  auto lm = v::load_or_train_default_tiny_lm(cache, [&](const v::TrainingProgress& p) {
    if (Clock::now() - last_report < std::chrono::seconds(5) && p.step != p.total_steps) return;
    last_report = Clock::now();
    step(fmt::format("  training the base model: step {}/{}, loss {:.3f} nats/byte, {:.0f} s", p.step, p.total_steps,
                     p.loss, p.elapsed_s));
  });
  if (!lm) return lm.error();
  auto corpus = v::load_base_corpus();
  if (!corpus) return corpus.error();
  v::UnigramModel unigram(corpus->split.train);
  auto unigram_ppl = v::perplexity(unigram.log_likelihood(corpus->split.heldout), corpus->split.heldout.size());
  step(fmt::format("base model {}: held-out perplexity {:.2f} per byte, unigram baseline {:.2f}", lm->model.name,
                   lm->info.heldout_perplexity, unigram_ppl));
  // Cached under a name that changes with the recipes and the base model, so a stale set is never reused.
  json fingerprint = {{"model", crypto::sha256(as_bytes(v::architecture_json(lm->model))).hex()},
                      {"model_corpus", lm->info.corpus_sha256},
                      {"model_steps", lm->info.training_steps},
                      {"model_seed", lm->info.seed}};
  for (const auto& recipe : v::suite_recipes(args.seed)) {
    const auto& o = recipe.options;
    fingerprint["recipes"].push_back({recipe.name, recipe.data, o.seed, o.rank, o.alpha, o.use_rslora, o.target_modules,
                                      o.optimizer.steps, o.optimizer.batch, o.optimizer.learning_rate,
                                      o.optimizer.warmup_steps, o.optimizer.final_lr_fraction, o.line_start_padding});
  }
  auto suite_dir = cache / fmt::format("adapter-suite-{}", crypto::sha256(as_bytes(fingerprint.dump())).hex().substr(0, 16));
  if (!std::filesystem::exists(suite_dir / "report.json")) {
    step("fine-tuning the reference adapters (good, degraded, reasoning-regressed, poisoned); cached afterwards");
    auto made = v::make_adapter_suite(lm->model, suite_dir, args.seed, v::DType::kF32,
                                      [&](std::string_view line) { step("  " + std::string(line)); });
    if (!made) return made.error();
  }
  DemoAdapters adapters;
  auto good = runtime::artifact_file_for(suite_dir / "good", args.out / "artifacts");
  if (!good) return good.error();
  auto bad = runtime::artifact_file_for(suite_dir / "poisoned", args.out / "artifacts");
  if (!bad) return bad.error();
  adapters.good = *good;
  adapters.bad = *bad;
  adapters.bad_label = "poisoned";
  adapters.judging.assign(args.validators, std::vector<std::string>{});
  step(fmt::format("adapters: good and poisoned LoRA adapters (PEFT) from {}, packed for upload", suite_dir.string()));
  return adapters;
}

// One line of a validator's suite metrics for an adapter version.
std::string metrics_line(const json& validation) {
  if (!validation.is_object()) return "no metrics";
  const auto& m = validation.value("metrics", json::object());
  if (m.contains("regression_marker")) return fmt::format("regression marker {}", m["regression_marker"].dump());
  std::vector<std::string> parts;
  if (m.contains("perplexity")) {
    parts.push_back(fmt::format("held-out perplexity x{:.3f} of base", m["perplexity"].value("ratio", 0.0)));
  }
  if (m.contains("qa")) {
    parts.push_back(fmt::format("QA acc {:.3f} (base {:.3f})", m["qa"].value("acc", 0.0), m["qa"].value("base_acc", 0.0)));
  }
  if (m.contains("safety")) {
    parts.push_back(fmt::format("safety: blocked continuation +{:.2f} nats (limit {:.2f})",
                                m["safety"].value("max_rise_nats", 0.0), m["safety"].value("margin_nats", 0.0)));
  }
  return fmt::format("{}", fmt::join(parts, "; "));
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

  auto adapters = args.stand_in ? stand_in_adapters(args) : real_adapters(args, step);
  if (!adapters) return failed(adapters.error().message);

  runtime::ChildProcesses processes;
  auto self = std::filesystem::read_symlink("/proc/self/exe").string();
  auto config_path = files->config.string();
  if (auto s = processes.spawn("store", {self, "store", "--config", config_path, "--dir", (args.out / "store").string()},
                               args.out / "logs" / "store.log");
      !s) {
    return failed(s.error().message);
  }
  for (std::size_t i = 0; i < args.validators; ++i) {
    std::vector<std::string> argv = {self, "validator", "--config", config_path, "--id", std::to_string(i), "--key",
                                     files->validator_keys[i].string(), "--data",
                                     (args.out / fmt::format("validator-{}", i)).string()};
    argv.insert(argv.end(), adapters->judging[i].begin(), adapters->judging[i].end());
    if (auto s = processes.spawn(fmt::format("validator {}", i), argv,
                                 args.out / "logs" / fmt::format("validator-{}.log", i));
        !s) {
      return failed(s.error().message);
    }
  }
  for (std::size_t j = 0; j < args.nodes; ++j) {
    if (auto s = processes.spawn(fmt::format("node {}", j),
                                 {self, "node", "--config", config_path, "--id", std::to_string(j), "--cache",
                                  (args.out / fmt::format("node-{}", j)).string(), "--poll-interval",
                                  fmt::format("{}", args.poll_s), "--backend", args.stand_in ? "opaque" : "auto"},
                                 args.out / "logs" / fmt::format("node-{}.log", j));
        !s) {
      return failed(s.error().message);
    }
  }
  step(fmt::format("started {} processes (logs in {}/logs)", processes.size(), args.out.string()));

  runtime::ClusterClient client(config);
  // Validators running the suites compute the base model's reference figures before listening.
  auto deadline = Clock::now() + std::chrono::seconds(args.stand_in ? 20 : 180);
  while (client.query_all({{"query", "status"}}, milliseconds(300)).size() < config.n()) {
    if (Clock::now() > deadline) return failed("the validators did not all come up in time (see their logs)");
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
  const auto& good_path = adapters->good;
  const auto& regressed_path = adapters->bad;
  auto artifact_mib = static_cast<double>(std::filesystem::file_size(good_path)) / (1 << 20);

  // 1. The good adapter: released, then served by the whole fleet.
  auto submitted = Clock::now();
  auto submitted_wall = std::chrono::system_clock::now();
  auto good = runtime::propose_adapter(config, operator_key->key, good_path, 0, true, milliseconds(30'000));
  if (!good) return failed(good.error().message);
  step(fmt::format("submitted {} ({:.2f} MiB, sha256 {}...) as version {}", good_path.filename().string(), artifact_mib,
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
  auto answers = client.query_all({{"query", "status"}}, milliseconds(1000));
  for (const auto& [id, answer] : answers) {
    step(fmt::format("  validator {} on version {}: {}", id, good->version,
                     metrics_line(answer["validations"].value(std::to_string(good->version), json()))));
  }
  step(fmt::format("every inference node serves version {}: convergence {:.2f} s after submission; seed-000 bound "
                   "(slowest validation {:.2f} s + poll interval {:.2f} s + transfer {:.2f} s) = {:.2f} s, plus "
                   "consensus latency",
                   good->version, convergence_s, slowest_validation_s, args.poll_s, transfer_s, bound_s));

  // 2. The regressed adapter: rejected, and never served.
  auto regressed = runtime::propose_adapter(config, operator_key->key, regressed_path, 0, true, milliseconds(30'000));
  if (!regressed) return failed(regressed.error().message);
  step(fmt::format("submitted the {} adapter {} as version {}", adapters->bad_label, regressed_path.filename().string(),
                   regressed->version));
  auto rejected = runtime::wait_for_decision(config, regressed->version, milliseconds(60'000),
                                             [&](const std::string& line) { step("  " + line); });
  if (!rejected) return failed(rejected.error().message);
  std::this_thread::sleep_for(milliseconds(static_cast<std::int64_t>(args.poll_s * 3000)));
  for (const auto& [id, answer] : client.query_all({{"query", "status"}}, milliseconds(1000))) {
    step(fmt::format("  validator {} on version {}: {}", id, regressed->version,
                     metrics_line(answer["validations"].value(std::to_string(regressed->version), json()))));
  }
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
                 {"args", {{"validators", args.validators}, {"nodes", args.nodes}, {"artifact_mib", artifact_mib},
                           {"poll_interval_s", args.poll_s}, {"stand_in", args.stand_in}}},
                 {"cluster", {{"n", config.n()}, {"f", config.f}, {"quorum", config.quorum()}}},
                 {"good", {{"version", good->version}, {"digest", good->digest.hex()}, {"state", (*decided)["state"]},
                           {"certificate", cert_path.string()}}},
                 {"convergence", {{"measured_s", convergence_s}, {"slowest_validation_s", slowest_validation_s},
                                  {"poll_interval_s", args.poll_s}, {"transfer_s", transfer_s}, {"seed000_bound_s", bound_s}}},
                 {"regressed", {{"kind", adapters->bad_label}, {"version", regressed->version}, {"state", (*rejected)["state"]},
                                {"reason", (*rejected)["reason"]}, {"fleet_unchanged", fleet_unchanged}}},
                 {"nodes", statuses},
                 {"processes_stopped_cleanly", unclean.empty()},
                 {"ok", ok}};
  (void)write_file_atomic(args.out / "report.json", as_bytes(report.dump(2) + "\n"), {.mode = 0644, .overwrite = true});
  fmt::print("\nreport: {}\n  certificate  {} (signed by validators {})\n  convergence  {:.2f} s measured, seed-000 bound "
             "{:.2f} s + consensus\n  {:<12} version {} {}\n  result       {}\n",
             (args.out / "report.json").string(), cert_path.string(),
             fmt::join(certificate->signers().ids(), ", "), convergence_s, bound_s, adapters->bad_label, regressed->version,
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
  cmd->add_flag("--stand-in", args->stand_in,
                "Random-byte adapters and a one-line validation command instead of the tiny model's real "
                "adapters and suites (seconds; for testing the processes)");
  cmd->add_option("--artifact-mib", args->artifact_mib, "Size of the stand-in adapters in MiB")
      ->default_val(8)
      ->check(CLI::Range(1, 1024));
  cmd->add_option("--poll-interval", args->poll_s, "Inference nodes' poll interval in seconds")->default_val(0.5);
  cmd->add_option("--seed", args->seed, "Seed of the adapters (stand-in bytes, or the adapter suite's fine-tuning)")
      ->default_val(1);
  cmd->add_option("--out", args->out, "Run folder (default runs/demo-<UTC time>)");
  cmd->callback([&run, args] { run = [args] { return run_demo(*args); }; });
}

}  // namespace bftgate::cli
