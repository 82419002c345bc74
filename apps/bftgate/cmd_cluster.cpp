// bftgate validator, submit and status: running a validator process and operating the cluster.
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <thread>

#include "bftgate/base/strict_json.hpp"
#include "bftgate/byzantine/byzantine.hpp"
#include "bftgate/config/key_file.hpp"
#include "bftgate/register/register.hpp"
#include "bftgate/runtime/client/cluster_client.hpp"
#include "bftgate/runtime/client/operator.hpp"
#include "bftgate/runtime/harness/twin_router.hpp"
#include "bftgate/runtime/net/register_json.hpp"
#include "bftgate/runtime/node/inference_node.hpp"
#include "bftgate/runtime/store/artifact_store.hpp"
#include "bftgate/runtime/validator/validator_daemon.hpp"
#include "cli_common.hpp"

namespace bftgate::cli {

namespace {
using nlohmann::json;
using std::chrono::milliseconds;

struct ValidatorArgs {
  runtime::ValidatorOptions options;
  double validate_timeout_s = 60;
  double suite_timeout_s = 600;
  double fetch_timeout_s = 30;
  double retry_max_s = 30;
  std::string log_level = "info";
};

struct SubmitArgs {
  std::filesystem::path config;
  std::filesystem::path operator_key;
  std::filesystem::path adapter;
  std::uint64_t version = 0;
  bool wait = false;
  double timeout_s = 60;
  bool json_output = false;
  bool no_store = false;
  bool no_check = false;
  bool insecure_plaintext = false;
};

struct StatusArgs {
  std::filesystem::path config;
  std::filesystem::path key;
  bool insecure_plaintext = false;
  bool json_output = false;
  bool all = false;
  double timeout_s = 2;
};

int run_validator(ValidatorArgs& args) {
  auto level = spdlog::level::from_str(args.log_level);
  spdlog::set_level(level);
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
  args.options.validate_timeout =
      milliseconds(static_cast<std::int64_t>(args.validate_timeout_s * 1000));
  args.options.fetch_timeout = milliseconds(static_cast<std::int64_t>(args.fetch_timeout_s * 1000));
  args.options.suite_timeout = milliseconds(static_cast<std::int64_t>(args.suite_timeout_s * 1000));
  args.options.retry_max = milliseconds(static_cast<std::int64_t>(args.retry_max_s * 1000));
  args.options.retry_initial = std::min(args.options.retry_initial, args.options.retry_max);
  auto daemon = runtime::make_validator(args.options);
  if (!daemon) {
    print_error(daemon.error().message);
    return kExitFailure;
  }
  return daemon.value()->run();
}

// Exit code of a proposal that the cluster has not decided in time: not a refusal, and safe to
// retry.
constexpr int kExitUndecided = 3;

int propose_error_exit(const runtime::ProposeError& error, bool json_output) {
  using Kind = runtime::ProposeError::Kind;
  if (json_output) {
    auto state = error.kind == Kind::kUndecided ? "UNDECIDED"
                 : error.kind == Kind::kRefused ? "REFUSED"
                                                : "FAILED";
    fmt::print("{}\n", dump_json(json({{"state", state}, {"error", error.message}})));
  }
  print_error(error.message);
  return error.kind == Kind::kUndecided ? kExitUndecided : kExitFailure;
}

int submit(const SubmitArgs& args) {
  auto config = ClusterConfig::load(args.config);
  if (!config) {
    print_error(config.error().message);
    return kExitFailure;
  }
  auto key = crypto::read_key_file(args.operator_key);
  if (!key) {
    print_error(key.error().message);
    return kExitFailure;
  }
  if (key->role != crypto::KeyRole::kOperator ||
      key->key.public_key() != config->operator_public_key) {
    print_error(fmt::format("{} is not the operator key of {}", args.operator_key.string(),
                            args.config.string()));
    return kExitFailure;
  }
  // A PEFT directory travels packed into one file: that file's digest is what gets certified.
  auto packed = runtime::artifact_file_for(
      args.adapter, std::filesystem::temp_directory_path() / "bftgate-packed", !args.no_check);
  if (!packed) {
    print_error(packed.error().message);
    return kExitFailure;
  }
  auto artifact = packed.value();
  auto timeout = milliseconds(static_cast<std::int64_t>(args.timeout_s * 1000));
  if (!args.json_output)
    fmt::print("submitting {}{}\n", artifact.string(),
               args.no_store ? " (by path)" : " via the artifact store");
  auto security = args.insecure_plaintext ? runtime::LinkSecurity::insecure_plaintext()
                                          : runtime::LinkSecurity::curve(key->key, *config);
  auto proposal = runtime::propose_adapter(*config, security, key->key, artifact, args.version,
                                           !args.no_store, timeout);
  if (!proposal) return propose_error_exit(proposal.error(), args.json_output);
  if (!args.json_output) {
    fmt::print("accepted: version {} (sha256 {}, {} bytes, {}); validators are validating it\n",
               proposal->version, proposal->digest.hex(), proposal->size, proposal->source);
  }
  if (!args.wait) {
    if (args.json_output)
      fmt::print("{}\n", json({{"version", proposal->version}, {"state", "BETA_TESTING"}}).dump());
    return kExitOk;
  }
  auto decided = runtime::wait_for_decision(*config, security, proposal->version, timeout,
                                            [&](const std::string& line) {
                                              if (!args.json_output) fmt::print("  {}\n", line);
                                            });
  if (!decided) return propose_error_exit(decided.error(), args.json_output);
  const auto& entry = decided->entry;
  if (args.json_output) {
    fmt::print("{}\n", dump_json(decided->to_json(), 2));
  } else {
    fmt::print("decided: version {} is {}{}\n", proposal->version, bft::to_string(entry.state),
               entry.reason.empty() ? "" : " (" + entry.reason + ")");
    // Who voted what, and why (the reason each validator kept with its metrics).
    for (const auto& voter : decided->voters) {
      fmt::print("  validator {} voted {}{}\n", voter.validator, bft::to_string(voter.verdict),
                 voter.reason ? ": " + *voter.reason : "");
    }
    if (entry.certificate)
      fmt::print("certificate:\n{}\n", dump_json(entry.certificate->to_json(), 2));
  }
  return entry.state == bft::EntryState::kReleaseCommit ? kExitOk : kExitFailure;
}

// "4 of 4 validators agree on head ... and log ...", or each group that differs.
void print_agreement(const runtime::Agreement& agreement, std::size_t answered) {
  if (agreement.groups.empty()) return;
  const auto& largest = agreement.groups[0];
  fmt::print("agreement: {} of {} validators agree on head {} and log {}\n",
             largest.validators.size(), answered, largest.head_hash.hex().substr(0, 16),
             largest.log_head_hash.hex().substr(0, 16));
  for (std::size_t i = 1; i < agreement.groups.size(); ++i) {
    const auto& group = agreement.groups[i];
    fmt::print("  DIFFERS: validator(s) {} (executed {}) hold head {} and log {}\n",
               fmt::join(group.validators, ","), fmt::join(group.last_executed, ","),
               group.head_hash.hex().substr(0, 16), group.log_head_hash.hex().substr(0, 16));
  }
}

// One register entry with every validator's vote, and the metrics the voter kept checked
// against the digest its signed vote carries.
void print_entry(const runtime::EntryReport& entry,
                 const std::map<bft::ReplicaId, runtime::StatusAnswer>& answers) {
  fmt::print("version {}: {}  digest {}  {} PASS / {} FAIL{}\n", entry.version,
             bft::to_string(entry.state), entry.artifact_digest.hex().substr(0, 16),
             entry.pass_votes(), entry.fail_votes(),
             entry.reason.empty() ? "" : "  (" + printable(entry.reason) + ")");
  for (const auto& vote : entry.votes) {
    std::string detail;
    if (auto it = answers.find(vote.validator); it != answers.end()) {
      if (const auto* kept = it->second.validation(entry.version)) {
        detail =
            fmt::format(": {} (metrics {})", printable(kept->reason),
                        kept->digest() == vote.metrics_digest ? "match the vote's digest"
                                                              : "DO NOT match the vote's digest");
      }
    }
    fmt::print("    validator {} voted {}{}\n", vote.validator, bft::to_string(vote.verdict),
               detail);
  }
  if (entry.certificate)
    fmt::print("    certificate signed by {}\n", entry.certificate->signatures().size());
}

int status(const StatusArgs& args) {
  auto config = ClusterConfig::load(args.config);
  if (!config) {
    print_error(config.error().message);
    return kExitFailure;
  }
  auto security = link_security(*config, args.key, args.insecure_plaintext);
  if (!security) {
    print_error(security.error().message);
    return kExitUsage;
  }
  runtime::ClusterClient client(*config, *security);
  const auto timeout = milliseconds(static_cast<std::int64_t>(args.timeout_s * 1000));
  auto statuses = client.status_all(timeout);
  if (args.all) {
    // Every entry, page by page, from each validator that answered the first page.
    for (auto& [id, answer] : statuses.answers) {
      if (auto full = client.full_status(id, timeout)) answer = std::move(*full);
    }
  }
  const auto& answers = statuses.answers;
  auto agreement = runtime::agreement_of(answers);
  auto enough = answers.size() >= std::size_t{config->f} + 1 ? kExitOk : kExitFailure;
  if (args.json_output) {
    json validators = json::object();
    for (const auto& [id, answer] : answers) validators[std::to_string(id)] = to_json(answer);
    json refused = json::object();
    for (const auto& [id, why] : statuses.refused) refused[std::to_string(id)] = why;
    fmt::print("{}\n", dump_json(json{{"validators", validators},
                                      {"malformed_answers", refused},
                                      {"agreement", agreement.to_json()}},
                                 2));
    return enough;
  }
  fmt::print("cluster '{}' epoch {}: {} of {} validators answered\n", config->cluster_id,
             config->epoch, answers.size(), config->n());
  for (const auto& v : config->validators) {
    if (auto refused = statuses.refused.find(v.id); refused != statuses.refused.end()) {
      fmt::print("  validator {:<3} {:<24} a malformed answer: {}\n", v.id, v.endpoint,
                 refused->second);
      continue;
    }
    auto it = answers.find(v.id);
    if (it == answers.end()) {
      fmt::print("  validator {:<3} {:<24} no answer\n", v.id, v.endpoint);
      continue;
    }
    const auto& a = it->second;
    fmt::print("  validator {:<3} {:<24} view {}{}, executed {}, stable checkpoint {}\n", v.id,
               v.endpoint, a.view,
               !a.view_active ? " (changing)"
               : !a.voting    ? " (following, not voting until the next view change)"
                              : "",
               a.last_executed, a.stable_seq);
    if (a.judging && a.judging->cannot_judge) {
      // No verdict: a fault of the store, the disk or that host; it abstains and tries again.
      fmt::print("      cannot judge version {} ({} attempts, no vote): {}\n", a.judging->version,
                 a.judging->attempts, printable(a.judging->reason, 300));
    } else if (a.judging) {
      fmt::print("      validating version {}\n", a.judging->version);
    }
  }
  print_agreement(agreement, answers.size());
  if (answers.empty()) return kExitFailure;
  // Entries as the validator with the longest register reports them.
  const runtime::StatusAnswer* fullest = nullptr;
  for (const auto& [id, answer] : answers) {
    if (fullest == nullptr || answer.entries.size() > fullest->entries.size()) fullest = &answer;
  }
  if (fullest->entries_omitted > 0) {
    fmt::print("({} older entries not shown: --all shows every one)\n", fullest->entries_omitted);
  }
  for (const auto& entry : fullest->entries) {
    if (entry.version != 0) print_entry(entry, answers);
  }
  return enough;
}
}  // namespace

void register_validator(CLI::App& app, Runner& run) {
  auto args = std::make_shared<ValidatorArgs>();
  auto* cmd = app.add_subcommand("validator",
                                 "Run a validator: the PBFT replica and the adapter register over "
                                 "ZeroMQ, with a write-ahead log in --data");
  cmd->add_option("--config", args->options.config, "Cluster config")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--id", args->options.id, "This validator's id")->required();
  cmd->add_option("--key", args->options.key, "This validator's secret-key file (0600)")
      ->required();
  cmd->add_option("--data", args->options.data_dir, "Directory for the write-ahead log")
      ->required();
  cmd->add_option("--suites", args->options.suites,
                  "Validation suites config (JSON: perplexity, qa, safety, external; default: "
                  "every suite with "
                  "default thresholds on the cached tiny model)")
      ->check(CLI::ExistingFile);
  cmd->add_option(
         "--validate-cmd", args->options.validate_command,
         "Validate with this command instead of the suites ({adapter_path} is replaced); it prints "
         "{\"pass\": bool, \"metrics\": {...}}")
      ->excludes("--suites");
  cmd->add_option("--validate-timeout", args->validate_timeout_s,
                  "Seconds before the command counts as FAIL")
      ->default_val(60);
  cmd->add_option("--suite-timeout", args->suite_timeout_s,
                  "Seconds the suites may take to judge one adapter; past them the judgement is "
                  "abandoned as no verdict (cannot judge: it abstains and tries again)")
      ->default_val(600)
      ->check(CLI::Range(0.1, 86400.0));
  cmd->add_option("--fetch-timeout", args->fetch_timeout_s,
                  "Seconds the artifact store may take to answer each request of a fetch; a fetch "
                  "that fails is no verdict: the validator abstains and tries again")
      ->default_val(30)
      ->check(CLI::Range(0.1, 3600.0));
  cmd->add_option("--retry-max", args->retry_max_s,
                  "Longest wait, in seconds, between attempts to judge a candidate that a fault "
                  "(store, disk, this host) stopped; the wait doubles from 0.5 s up to it")
      ->default_val(30)
      ->check(CLI::Range(0.1, 3600.0));
  cmd->add_option("--max-connections", args->options.max_connections,
                  "Connections its socket keeps at most; past it the one that never sent a "
                  "message, or idle longest, is closed (default 1024, or half the open-file "
                  "limit)")
      ->check(CLI::Range(std::size_t{4}, std::size_t{1} << 20));
  cmd->add_option("--max-connections-per-address", args->options.max_connections_per_address,
                  "The same, from one peer address (default 256)")
      ->check(CLI::Range(std::size_t{4}, std::size_t{1} << 20));
  cmd->add_flag("--allow-file-sources", args->options.allow_file_sources,
                "Local-test mode: proposals may name file:// paths on this host (regular files "
                "only); otherwise only store:// sources are read");
  cmd->add_option("--log-level", args->log_level, "trace, debug, info, warn, error")
      ->default_val("info");
  cmd->add_option("--byzantine", args->options.byzantine,
                  "Run as an adversary: " + bft::strategy_names(/*one_process_only=*/true));
  cmd->add_option(
      "--listen", args->options.listen,
      "ZeroMQ endpoint to bind instead of the config's (a twin behind `bftgate twin-router`)");
  cmd->add_option(
      "--faults", args->options.faults,
      "Inject link faults, e.g. 'loss=0.1,delay=5-50ms,peers=1+2' or 'cut=3,until=5' (a partition "
      "that heals after 5 s) or 'process=0-500us' (a straggler: every message it processes waits "
      "that long first)");
  cmd->add_option("--trace", args->options.trace,
                  "Write a line per protocol message processed to this file (time, type, sender, "
                  "view, sequence number, signatures checked): for experiments");
  cmd->add_flag(
      "--recover-from-peers", args->options.recover_from_peers,
      "Set the write-ahead log aside (renamed) and rejoin by state transfer: for a log that is "
      "corrupt or lost; the validator forgets the messages it signed before");
  cmd->add_option("--metrics-port", args->options.metrics_port,
                  "Serve GET /metrics (Prometheus text) on PORT (default: the config's "
                  "metrics_port for this validator, if any)")
      ->check(CLI::Range(1, 65535));
  cmd->add_option("--http-bind", args->options.http_bind,
                  "Address /metrics is served on: 127.0.0.1 (this host only), another address "
                  "of this host, or 0.0.0.0 for every interface")
      ->default_val("127.0.0.1");
  cmd->add_option("--wal-compact-bytes", args->options.wal_compact_bytes,
                  "Rewrite the write-ahead log with only the replica's live records once it "
                  "reaches this many bytes")
      ->default_val(64ull << 20)
      ->check(CLI::Range(std::uint64_t{1024}, std::uint64_t{1} << 40));
  add_insecure_plaintext_flag(cmd, args->options.insecure_plaintext);
  cmd->callback([&run, args] { run = [args] { return run_validator(*args); }; });
}

void register_twin_router(CLI::App& app, Runner& run) {
  auto options = std::make_shared<runtime::TwinRouterOptions>();
  auto log_level = std::make_shared<std::string>("info");
  auto* cmd = app.add_subcommand(
      "twin-router",
      "Twins: listen on a validator's endpoint and split its peers between two processes "
      "that run under its identity (validator --listen)");
  cmd->add_option("--config", options->config, "Cluster config")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--id", options->id, "The validator identity the twins share")->required();
  auto* key = cmd->add_option("--key", options->key,
                              "That validator's secret-key file: the router listens under it and "
                              "reaches the twins with it");
  add_insecure_plaintext_flag(cmd, options->insecure_plaintext)->excludes(key);
  cmd->add_option("--twin-a", options->twin_a,
                  "Endpoint of twin A (sees clients and the peers not in --side-b)")
      ->required();
  cmd->add_option("--twin-b", options->twin_b, "Endpoint of twin B")->required();
  cmd->add_option("--side-b", options->side_b, "Validator ids whose traffic goes to twin B")
      ->required()
      ->delimiter(',');
  cmd->add_option("--log-level", *log_level, "trace, debug, info, warn, error")
      ->default_val("info");
  cmd->callback([&run, options, log_level] {
    run = [options, log_level] {
      spdlog::set_level(spdlog::level::from_str(*log_level));
      return runtime::run_twin_router(*options);
    };
  });
}

void register_submit(CLI::App& app, Runner& run) {
  auto args = std::make_shared<SubmitArgs>();
  auto* cmd = app.add_subcommand(
      "submit", "Propose an adapter artifact to the cluster (signed by the operator key)");
  cmd->add_option("--config", args->config, "Cluster config")->required()->check(CLI::ExistingFile);
  cmd->add_option("--operator-key", args->operator_key, "Operator secret-key file")->required();
  cmd->add_option("--adapter", args->adapter, "Adapter file (or a PEFT directory)")
      ->required()
      ->check(CLI::ExistingPath);
  cmd->add_option(
         "--version", args->version,
         fmt::format("Version to propose, 1 to {} (default: one above the highest registered)",
                     bft::kMaxAdapterVersion))
      ->check(CLI::Range(std::uint64_t{1}, bft::kMaxAdapterVersion));
  cmd->add_flag("--wait", args->wait, "Wait for the verdict, with progress");
  cmd->add_option("--timeout", args->timeout_s,
                  "Seconds to wait; when they run out the command exits 3 (not decided yet: check "
                  "`status`, or submit "
                  "again, which is safe)")
      ->default_val(60)
      ->check(CLI::PositiveNumber);
  cmd->add_flag("--json", args->json_output, "Print the result as JSON");
  cmd->add_flag("--no-store", args->no_store,
                "Propose the local file path instead of uploading to the store");
  cmd->add_flag("--no-check", args->no_check,
                "Upload a .safetensors file without checking that it is a packed adapter (the "
                "validators judge it "
                "anyway)");
  add_insecure_plaintext_flag(cmd, args->insecure_plaintext);
  cmd->callback([&run, args] { run = [args] { return submit(*args); }; });
}

void register_store(CLI::App& app, Runner& run) {
  auto dir = std::make_shared<std::filesystem::path>();
  auto listen = std::make_shared<std::string>();
  auto config = std::make_shared<std::filesystem::path>();
  auto key = std::make_shared<std::filesystem::path>();
  auto insecure = std::make_shared<bool>(false);
  auto* cmd = app.add_subcommand(
      "store",
      "Run the content-addressed artifact store (put/get by SHA-256 over ZeroMQ); under CURVE it "
      "admits the config's members, and only the operator uploads");
  cmd->add_option("--dir", *dir, "Directory holding the artifacts")->required();
  cmd->add_option("--listen", *listen,
                  "ZeroMQ endpoint to bind (default: the config's artifact_store endpoint)");
  cmd->add_option("--config", *config,
                  "Cluster config: the default endpoint, the size limit and the members admitted");
  auto* key_option =
      cmd->add_option("--key", *key, "The store's secret-key file (keys/store.key, 0600)");
  add_insecure_plaintext_flag(cmd, *insecure)->excludes(key_option);
  cmd->callback([&run, dir, listen, config, key, insecure] {
    run = [dir, listen, config, key, insecure] {
      spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
      auto endpoint = *listen;
      runtime::StoreLimits limits;
      auto security = runtime::LinkSecurity::insecure_plaintext();
      if (!config->empty()) {
        auto loaded = ClusterConfig::load(*config);
        if (!loaded) {
          print_error(loaded.error().message);
          return kExitFailure;
        }
        if (endpoint.empty()) endpoint = loaded->artifact_store_endpoint;
        limits.max_artifact_bytes = loaded->max_artifact_bytes;
        limits.max_upload_bytes = 2 * loaded->max_artifact_bytes;
        auto secured = link_security(*loaded, *key, *insecure);
        if (!secured) {
          print_error(secured.error().message);
          return kExitUsage;
        }
        if (!*insecure && secured->member_name() != "store") {
          print_error(fmt::format("{} is the key of {}, not the store's", key->string(),
                                  secured->member_name()));
          return kExitUsage;
        }
        security = std::move(secured.value());
      } else if (!*insecure) {
        print_error("give --config and --key (the members admitted, and the store's key)");
        return kExitUsage;
      } else if (endpoint.empty()) {
        print_error("give --listen or --config");
        return kExitUsage;
      }
      return runtime::run_store(*dir, endpoint, security, limits);
    };
  });
}

void register_node(CLI::App& app, Runner& run) {
  auto options = std::make_shared<runtime::NodeOptions>();
  auto poll_s = std::make_shared<double>(1.0);
  auto* cmd = app.add_subcommand(
      "node",
      "Run an inference node: poll validators, verify certificates and digests, "
      "hot-swap certified adapters; HTTP /status and /metrics on its endpoint's port");
  cmd->add_option("--config", options->config, "Cluster config")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--id", options->id, "This node's id (inference_nodes in the config)")
      ->required();
  cmd->add_option("--cache", options->cache_dir, "Directory for downloaded adapters")->required();
  auto* key = cmd->add_option("--key", options->key,
                              "This node's secret-key file (keys/node-<id>.key, 0600): its links "
                              "to the validators and the store are CURVE under it");
  add_insecure_plaintext_flag(cmd, options->insecure_plaintext)->excludes(key);
  cmd->add_option("--poll-interval", *poll_s, "Seconds between register polls")->default_val(1.0);
  cmd->add_option("--backend", options->backend,
                  "Serving backend: auto (CUDA when a GPU is present, else CPU), cpu, cuda, or "
                  "opaque (verify and "
                  "hold the bytes, serve no model)")
      ->default_val("auto")
      ->check(CLI::IsMember({"auto", "cpu", "cuda", "opaque"}));
  cmd->add_option("--model", options->model,
                  "Base model (model.safetensors; default: the cached tiny model)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--http-bind", options->http_bind,
                  "Address /status and /metrics are served on: 127.0.0.1 (this host only), "
                  "another address of this host, or 0.0.0.0 for every interface")
      ->default_val("127.0.0.1");
  cmd->callback([&run, options, poll_s] {
    run = [options, poll_s] {
      spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
      options->poll_interval = milliseconds(static_cast<std::int64_t>(*poll_s * 1000));
      auto node = runtime::make_inference_node(*options);
      if (!node) {
        print_error(node.error().message);
        return kExitFailure;
      }
      return node.value()->run();
    };
  });
}

void register_status(CLI::App& app, Runner& run) {
  auto args = std::make_shared<StatusArgs>();
  auto* cmd = app.add_subcommand(
      "status", "Show every validator's view of the register: entries, votes, certificates");
  cmd->add_option("--config", args->config, "Cluster config")->required()->check(CLI::ExistingFile);
  cmd->add_flag("--json", args->json_output, "Print every validator's answer as JSON");
  cmd->add_flag("--all", args->all,
                "Every register entry, asked for page by page (otherwise the newest 32)");
  cmd->add_option("--timeout", args->timeout_s, "Seconds to wait for answers")->default_val(2);
  auto* key =
      cmd->add_option("--key", args->key,
                      "A member's secret-key file (the operator's, say): links are CURVE under it, "
                      "and validators answer queries from any member of the config");
  add_insecure_plaintext_flag(cmd, args->insecure_plaintext)->excludes(key);
  cmd->callback([&run, args] { run = [args] { return status(*args); }; });
}

}  // namespace bftgate::cli
