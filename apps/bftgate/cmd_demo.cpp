// bftgate demo (make run): a whole local cluster of real processes on loopback — artifact
// store, validators, inference nodes — a passing adapter released and served by every node, a
// regressed one rejected, the measured convergence time next to Vaidyanathan's bound, and every
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

#include "bftgate/base/strict_json.hpp"
#include "bftgate/config/cluster_setup.hpp"
#include "bftgate/config/key_file.hpp"
#include "bftgate/io/file_digest.hpp"
#include "bftgate/io/file_io.hpp"
#include "bftgate/runtime/client/cluster_client.hpp"
#include "bftgate/runtime/client/operator.hpp"
#include "bftgate/runtime/harness/local_cluster.hpp"
#include "bftgate/runtime/net/http_get.hpp"
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
  auto parsed = parse_json(*body);  // a node's answer: bounded like any input
  return parsed ? *parsed : json();
}

using StepLog = std::function<void(const std::string&)>;

Result<DemoAdapters> stand_in_adapters(const DemoArgs& args) {
  DemoAdapters adapters{
      args.out / "adapter-good.bin", args.out / "adapter-regressed.bin", "regressed", {}};
  auto size = args.artifact_mib << 20;
  if (auto s = write_file_atomic(adapters.good, sample_adapter(size, args.seed, false),
                                 {.mode = 0644, .overwrite = true});
      !s) {
    return s.error();
  }
  if (auto s = write_file_atomic(adapters.bad, sample_adapter(size, args.seed + 1, true),
                                 {.mode = 0644, .overwrite = true});
      !s) {
    return s.error();
  }
  // A one-line suite: it fails an artifact that carries a regression marker, and takes a
  // validator-specific time.
  for (std::size_t i = 0; i < args.validators; ++i) {
    adapters.judging.push_back(
        {"--validate-cmd",
         fmt::format(
             "sleep 0.{}; if grep -q REGRESSED {{adapter_path}}; then "
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
  step(fmt::format("base model: {} (trained here on first use, then cached)",
                   (cache / "model").string()));
  auto last_report = Clock::now();
  auto lm = v::load_or_train_default_tiny_lm(cache, [&](const v::TrainingProgress& p) {
    if (Clock::now() - last_report < std::chrono::seconds(5) && p.step != p.total_steps) return;
    last_report = Clock::now();
    step(fmt::format("  training the base model: step {}/{}, loss {:.3f} nats/byte, {:.0f} s",
                     p.step, p.total_steps, p.loss, p.elapsed_s));
  });
  if (!lm) return lm.error();
  auto corpus = v::load_base_corpus();
  if (!corpus) return corpus.error();
  v::UnigramModel unigram(corpus->split.train);
  auto unigram_ppl =
      v::perplexity(unigram.log_likelihood(corpus->split.heldout), corpus->split.heldout.size());
  step(fmt::format("base model {}: held-out perplexity {:.2f} per byte, unigram baseline {:.2f}",
                   lm->model.name, lm->info.heldout_perplexity, unigram_ppl));
  // Cached under a name that changes with the recipes and the base model, so a stale set is never
  // reused.
  json fingerprint = {{"model", crypto::sha256(as_bytes(v::architecture_json(lm->model))).hex()},
                      {"model_corpus", lm->info.corpus_sha256},
                      {"model_steps", lm->info.training_steps},
                      {"model_seed", lm->info.seed}};
  // Only the two adapters the demo proposes are trained (the suite's other two, degraded and
  // reasoning-regressed, would double the first run's training).
  const std::vector<std::string> proposed = {"good", "poisoned"};
  auto recipes = v::suite_recipes(args.seed, proposed);
  if (!recipes) return recipes.error();
  for (const auto& recipe : *recipes) {
    const auto& o = recipe.options;
    fingerprint["recipes"].push_back(
        {recipe.name, recipe.data, o.seed, o.rank, o.alpha, o.use_rslora, o.target_modules,
         o.optimizer.steps, o.optimizer.batch, o.optimizer.learning_rate, o.optimizer.warmup_steps,
         o.optimizer.final_lr_fraction, o.line_start_padding});
  }
  auto suite_dir =
      cache / fmt::format("adapter-suite-{}",
                          crypto::sha256(as_bytes(fingerprint.dump())).hex().substr(0, 16));
  if (!std::filesystem::exists(suite_dir / "report.json")) {
    step(
        "fine-tuning the reference adapters the demo proposes (good, poisoned); cached "
        "afterwards");
    auto made = v::make_adapter_suite(
        lm->model, suite_dir, args.seed, v::DType::kF32,
        [&](std::string_view line) { step("  " + std::string(line)); }, proposed);
    if (!made) return made.error();
  }
  DemoAdapters adapters;
  auto good = runtime::artifact_file_for(suite_dir / proposed[0], args.out / "artifacts");
  if (!good) return good.error();
  auto bad = runtime::artifact_file_for(suite_dir / proposed[1], args.out / "artifacts");
  if (!bad) return bad.error();
  adapters.good = *good;
  adapters.bad = *bad;
  adapters.bad_label = proposed[1];
  adapters.judging.assign(args.validators, std::vector<std::string>{});
  step(fmt::format("adapters: good and poisoned LoRA adapters (PEFT) from {}, packed for upload",
                   suite_dir.string()));
  return adapters;
}

// One line of a validator's suite metrics for an adapter version.
std::string metrics_line(const runtime::KeptValidation* validation) {
  if (validation == nullptr) return "no metrics";
  const auto& m = validation->metrics;
  if (m.contains("regression_marker"))
    return fmt::format("regression marker {}", m["regression_marker"].dump());
  std::vector<std::string> parts;
  const auto number = [](const json& object, const char* key) {
    return object.is_object() && object.contains(key) && object[key].is_number()
               ? object[key].get<double>()
               : 0.0;
  };
  if (m.contains("perplexity")) {
    parts.push_back(
        fmt::format("held-out perplexity x{:.3f} of base", number(m["perplexity"], "ratio")));
  }
  if (m.contains("qa")) {
    parts.push_back(fmt::format("QA acc {:.3f} (base {:.3f})", number(m["qa"], "acc"),
                                number(m["qa"], "base_acc")));
  }
  if (m.contains("safety")) {
    parts.push_back(fmt::format("safety: blocked continuation +{:.2f} nats (limit {:.2f})",
                                number(m["safety"], "max_rise_nats"),
                                number(m["safety"], "margin_nats")));
  }
  return fmt::format("{}", fmt::join(parts, "; "));
}

// The demo's run: the cluster, its client and the step log, shared by the two acts.
struct DemoRun {
  const DemoArgs& args;
  runtime::LocalCluster& cluster;
  runtime::ClusterClient client;
  StepLog step;

  const ClusterConfig& config() const { return cluster.config(); }

  // Validators running the suites compute the base model's reference figures before listening.
  Status wait_until_up() {
    auto deadline = Clock::now() + std::chrono::seconds(args.stand_in ? 20 : 180);
    while (client.status_all(milliseconds(300)).answers.size() < config().n()) {
      if (Clock::now() > deadline)
        return Error{"the validators did not all come up in time (see their logs)"};
    }
    for (std::uint32_t j = 0; j < args.nodes; ++j) {
      while (node_status(cluster.node_port(j)).is_null()) {
        if (Clock::now() > deadline)
          return Error{fmt::format("inference node {} did not come up", j)};
        std::this_thread::sleep_for(milliseconds(50));
      }
    }
    return ok_status();
  }

  // Each validator's suite metrics for `version`, one line each.
  void show_metrics(std::uint64_t version) {
    for (const auto& [id, status] : client.status_all(milliseconds(1000)).answers)
      step(fmt::format("  validator {} on version {}: {}", id, version,
                       metrics_line(status.validation(version))));
  }

  Result<runtime::Decision> propose_and_decide(const crypto::SecretKey& key,
                                               const std::filesystem::path& artifact,
                                               std::uint64_t& version) {
    auto proposal = runtime::propose_adapter(config(), cluster.operator_link(), key, artifact, 0,
                                             true, milliseconds(30'000));
    if (!proposal) return Error{proposal.error().message};
    version = proposal->version;
    step(fmt::format("submitted {} ({:.2f} MiB, sha256 {}...) as version {}",
                     artifact.filename().string(), static_cast<double>(proposal->size) / (1 << 20),
                     proposal->digest.hex().substr(0, 16), proposal->version));
    auto decided = runtime::wait_for_decision(config(), cluster.operator_link(), proposal->version,
                                              milliseconds(60'000),
                                              [&](const std::string& line) { step("  " + line); });
    if (!decided) return Error{decided.error().message};
    return std::move(decided.value());
  }
};

struct GoodRelease {
  std::uint64_t version = 0;
  std::filesystem::path certificate_path;
  std::vector<std::uint32_t> signers;
  std::vector<json> node_statuses;
  json convergence;
};

// Act 1: the good adapter is certified, the certificate verifies offline, and every node serves
// it; the convergence time is measured against Vaidyanathan's bound.
Result<GoodRelease> release_good(DemoRun& run, const crypto::SecretKey& key,
                                 const std::filesystem::path& artifact) {
  const auto& args = run.args;
  GoodRelease release;
  auto submitted = Clock::now();
  auto submitted_wall = std::chrono::system_clock::now();
  auto decided = run.propose_and_decide(key, artifact, release.version);
  if (!decided) return decided.error();
  const auto& entry = decided->entry;
  if (entry.state != bft::EntryState::kReleaseCommit || !entry.certificate)
    return Error{fmt::format("version {} was {} ({})", release.version, bft::to_string(entry.state),
                             entry.reason)};
  auto verdict =
      bftgate::verify_with_artifact(*entry.certificate, run.config().validator_set(), artifact);
  run.step(fmt::format(
      "version {} is RELEASE_COMMIT after {:.2f} s; certificate {} offline against the config and "
      "the artifact",
      release.version, std::chrono::duration<double>(Clock::now() - submitted).count(),
      verdict.ok() ? "VERIFIES" : "FAILS: " + verdict.reason));
  if (!verdict.ok()) return Error{verdict.reason};
  release.certificate_path = args.out / "certificate.json";
  release.signers = entry.certificate->signers().ids();
  if (auto s = write_file_atomic(release.certificate_path,
                                 as_bytes(entry.certificate->to_json().dump(2) + "\n"),
                                 {.mode = 0644, .overwrite = true});
      !s) {
    return s.error();
  }

  release.node_statuses.resize(args.nodes);
  auto deadline = Clock::now() + std::chrono::seconds(60);
  for (std::uint32_t j = 0; j < args.nodes; ++j) {
    for (;;) {
      release.node_statuses[j] = node_status(run.cluster.node_port(j));
      if (release.node_statuses[j].is_object() &&
          release.node_statuses[j]["version"] == release.version)
        break;
      if (Clock::now() > deadline)
        return Error{fmt::format("node {} did not converge on version {}", j, release.version)};
      std::this_thread::sleep_for(milliseconds(50));
    }
  }
  auto key_of = std::to_string(release.version);
  double convergence_s = 0;
  double transfer_s = 0;
  for (const auto& status : release.node_statuses) {
    auto swapped = status["swapped_at_unix_s"].value(key_of, 0.0);
    convergence_s = std::max(
        convergence_s,
        swapped - std::chrono::duration<double>(submitted_wall.time_since_epoch()).count());
    transfer_s = std::max(transfer_s, status["fetch_and_verify_ms"].value(key_of, 0.0) / 1000);
  }
  double slowest_validation_s = 0;
  for (const auto& [id, status] : run.client.status_all(milliseconds(1000)).answers) {
    if (const auto* kept = status.validation(release.version))
      slowest_validation_s = std::max(slowest_validation_s, kept->validation_s);
  }
  double bound_s = slowest_validation_s + args.poll_s + transfer_s;
  run.show_metrics(release.version);
  run.step(fmt::format(
      "every inference node serves version {}: convergence {:.2f} s after submission; "
      "Vaidyanathan's bound (slowest validation {:.2f} s + poll interval {:.2f} s + transfer "
      "{:.2f} s) = {:.2f} s, plus consensus latency",
      release.version, convergence_s, slowest_validation_s, args.poll_s, transfer_s, bound_s));
  release.convergence = {{"measured_s", convergence_s},
                         {"slowest_validation_s", slowest_validation_s},
                         {"poll_interval_s", args.poll_s},
                         {"transfer_s", transfer_s},
                         {"vaidyanathan_bound_s", bound_s}};
  return release;
}

struct Rejection {
  std::uint64_t version = 0;
  runtime::EntryReport entry;
  bool fleet_unchanged = true;
};

// Act 2: the bad adapter is rejected, and the fleet keeps serving the good one.
Result<Rejection> reject_bad(DemoRun& run, const crypto::SecretKey& key,
                             const DemoAdapters& adapters, const GoodRelease& good,
                             std::vector<json>& node_statuses) {
  Rejection rejection;
  auto decided = run.propose_and_decide(key, adapters.bad, rejection.version);
  if (!decided) return decided.error();
  rejection.entry = decided->entry;
  std::this_thread::sleep_for(milliseconds(static_cast<std::int64_t>(run.args.poll_s * 3000)));
  run.show_metrics(rejection.version);
  for (std::uint32_t j = 0; j < run.args.nodes; ++j) {
    node_statuses[j] = node_status(run.cluster.node_port(j));
    rejection.fleet_unchanged &=
        node_statuses[j].is_object() && node_statuses[j]["version"] == good.version;
  }
  run.step(fmt::format("version {} is {} ({}); the fleet still serves version {}: {}",
                       rejection.version, bft::to_string(rejection.entry.state),
                       rejection.entry.reason, good.version,
                       rejection.fleet_unchanged ? "yes" : "NO"));
  return rejection;
}

Status start_processes(runtime::LocalCluster& cluster, const DemoArgs& args,
                       const DemoAdapters& adapters) {
  if (auto s = cluster.start_store(); !s) return s;
  for (std::uint32_t i = 0; i < args.validators; ++i) {
    if (auto s = cluster.start_validator(i, adapters.judging[i]); !s) return s;
  }
  for (std::uint32_t j = 0; j < args.nodes; ++j) {
    if (auto s = cluster.start_node(j, {"--poll-interval", fmt::format("{}", args.poll_s),
                                        "--backend", args.stand_in ? "opaque" : "auto"});
        !s) {
      return s;
    }
  }
  return ok_status();
}

int run_demo(DemoArgs args) {
  auto started = Clock::now();
  auto step = [&](const std::string& text) {
    fmt::print("[{:6.2f}s] {}\n", std::chrono::duration<double>(Clock::now() - started).count(),
               text);
    std::fflush(stdout);
  };
  auto failed = [&](const std::string& text) {
    print_error(text);
    return kExitFailure;
  };
  if (args.out.empty())
    args.out = std::filesystem::path("runs") / fmt::format("demo-{}", utc_timestamp());
  args.out = std::filesystem::absolute(args.out);
  fmt::print("bftgate demo: a local cluster of real processes on 127.0.0.1 (run folder {})\n",
             args.out.string());

  auto cluster =
      runtime::LocalCluster::create({.binary = std::filesystem::read_symlink("/proc/self/exe"),
                                     .dir = args.out,
                                     .validators = args.validators,
                                     .nodes = args.nodes,
                                     .cluster_id = "bftgate-demo"});
  if (!cluster) return failed(cluster.error().message);
  const auto& config = (*cluster)->config();
  step(fmt::format("cluster: {} validators (f={}, quorum {}), {} inference nodes, store at {}",
                   config.n(), config.f, config.quorum(), args.nodes,
                   config.artifact_store_endpoint));

  auto adapters = args.stand_in ? stand_in_adapters(args) : real_adapters(args, step);
  if (!adapters) return failed(adapters.error().message);
  if (auto s = start_processes(**cluster, args, *adapters); !s) return failed(s.error().message);
  step(fmt::format("started {} processes (logs in {}/logs)", (*cluster)->running(),
                   args.out.string()));
  DemoRun run{args, **cluster, runtime::ClusterClient(config, (*cluster)->operator_link()), step};
  if (auto s = run.wait_until_up(); !s) return failed(s.error().message);
  step("all validators and inference nodes are up; the fleet serves the base model (version 0)");

  auto operator_key = crypto::read_key_file((*cluster)->operator_key_path());
  if (!operator_key) return failed(operator_key.error().message);
  auto good = release_good(run, operator_key->key, adapters->good);
  if (!good) return failed(good.error().message);
  auto rejected = reject_bad(run, operator_key->key, *adapters, *good, good->node_statuses);
  if (!rejected) return failed(rejected.error().message);

  auto unclean = (*cluster)->stop_all();
  step(unclean.empty()
           ? "all processes stopped cleanly"
           : fmt::format("processes that did not stop cleanly: {}", fmt::join(unclean, ", ")));

  bool ok = rejected->entry.state == bft::EntryState::kRejected && rejected->fleet_unchanged &&
            unclean.empty();
  json report = {{"git_revision", build_info::kGitRevision},
                 {"seed", args.seed},
                 {"args",
                  {{"validators", args.validators},
                   {"nodes", args.nodes},
                   {"artifact_mib", args.artifact_mib},
                   {"poll_interval_s", args.poll_s},
                   {"stand_in", args.stand_in}}},
                 {"cluster", {{"n", config.n()}, {"f", config.f}, {"quorum", config.quorum()}}},
                 {"good",
                  {{"version", good->version},
                   {"state", "RELEASE_COMMIT"},
                   {"certificate", good->certificate_path.string()}}},
                 {"convergence", good->convergence},
                 {"regressed",
                  {{"kind", adapters->bad_label},
                   {"version", rejected->version},
                   {"state", bft::to_string(rejected->entry.state)},
                   {"reason", rejected->entry.reason},
                   {"fleet_unchanged", rejected->fleet_unchanged}}},
                 {"nodes", good->node_statuses},
                 {"processes_stopped_cleanly", unclean.empty()},
                 {"ok", ok}};
  if (auto s = write_file_atomic(args.out / "report.json", as_bytes(report.dump(2) + "\n"),
                                 {.mode = 0644, .overwrite = true});
      !s) {
    return failed(s.error().message);
  }
  fmt::print(
      "\nreport: {}\n  certificate  {} (signed by validators {})\n  convergence  {:.2f} s "
      "measured, Vaidyanathan's bound "
      "{:.2f} s + consensus\n  {:<12} version {} {}\n  result       {}\n",
      (args.out / "report.json").string(), good->certificate_path.string(),
      fmt::join(good->signers, ", "), good->convergence["measured_s"].get<double>(),
      good->convergence["vaidyanathan_bound_s"].get<double>(), adapters->bad_label,
      rejected->version, bft::to_string(rejected->entry.state), ok ? "OK" : "FAILED");
  return ok ? kExitOk : kExitFailure;
}
}  // namespace

void register_demo(CLI::App& app, Runner& run) {
  auto args = std::make_shared<DemoArgs>();
  auto* cmd = app.add_subcommand(
      "demo",
      "The make run demo: a local cluster of real processes releases a good adapter "
      "to every inference node and rejects a regressed one");
  cmd->add_option("--validators", args->validators, "Number of validators")
      ->default_val(4)
      ->check(CLI::Range(1, 64));
  cmd->add_option("--nodes", args->nodes, "Number of inference nodes")
      ->default_val(2)
      ->check(CLI::Range(1, 64));
  cmd->add_flag(
      "--stand-in", args->stand_in,
      "Random-byte adapters and a one-line validation command instead of the tiny model's real "
      "adapters and suites (seconds; for testing the processes)");
  cmd->add_option("--artifact-mib", args->artifact_mib, "Size of the stand-in adapters in MiB")
      ->default_val(8)
      ->check(CLI::Range(1, 1024));
  cmd->add_option("--poll-interval", args->poll_s, "Inference nodes' poll interval in seconds")
      ->default_val(0.5);
  cmd->add_option("--seed", args->seed,
                  "Seed of the adapters (stand-in bytes, or the adapter suite's fine-tuning)")
      ->default_val(1);
  cmd->add_option("--out", args->out, "Run folder (default runs/demo-<UTC time>)");
  cmd->callback([&run, args] { run = [args] { return run_demo(*args); }; });
}

}  // namespace bftgate::cli
