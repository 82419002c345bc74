// bftgate validator, twin-router, store and node: the cluster's long-running processes.
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <thread>

#include "bftgate/base/strict_json.hpp"
#include "bftgate/byzantine/byzantine.hpp"
#include "bftgate/config/key_file.hpp"
#include "bftgate/register/register.hpp"
#include "bftgate/runtime/client/cluster_client.hpp"
#include "bftgate/runtime/client/epoch_store.hpp"
#include "bftgate/runtime/client/operator.hpp"
#include "bftgate/runtime/harness/twin_router.hpp"
#include "bftgate/runtime/net/register_json.hpp"
#include "bftgate/runtime/node/inference_node.hpp"
#include "bftgate/runtime/store/artifact_store.hpp"
#include "bftgate/runtime/validator/validator_daemon.hpp"
#include "cli_common.hpp"

namespace bftgate::cli {

namespace {
using std::chrono::milliseconds;

struct ValidatorArgs {
  runtime::ValidatorOptions options;
  double validate_timeout_s = 60;
  double suite_timeout_s = 600;
  double fetch_timeout_s = 30;
  double retry_max_s = 30;
  std::string log_level = "info";
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
  // Each epoch it is a member of, one after the other (a switch ends one and starts the next).
  for (;;) {
    auto daemon = runtime::make_validator(args.options);
    if (!daemon) {
      print_error(daemon.error().message);
      return kExitFailure;
    }
    auto code = daemon.value()->run();
    if (code != runtime::kValidatorNextEpoch) return code;
    args.options.join = false;
  }
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
  cmd->add_option_function<std::string>(
         "--crash-at",
         [args](const std::string& name) {
           args->options.crash_at = *runtime::parse_switch_step(name);
         },
         "Fault injection for tests of the epoch switch: SIGKILL itself at this step of it (" +
             runtime::switch_step_names() + ")")
      ->check([](const std::string& name) {
        return runtime::parse_switch_step(name)
                   ? std::string()
                   : "one of " + runtime::switch_step_names() + ", not '" + name + "'";
      });
  cmd->add_flag("--join", args->options.join,
                "A new machine of a later epoch than --config's: first ask the validators for the "
                "epochs' handoffs, each checked from the config's set, and start in the newest");
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
      // With a config, the store follows its epochs (handoffs kept in DIR/epochs) and admits
      // the newest set's members.
      std::function<std::optional<runtime::LinkMembers>()> follow;
      if (!config->empty() && !*insecure) {
        follow = [genesis = *ClusterConfig::load(*config), state = *dir / "epochs", security,
                  epoch = std::uint64_t{0}]() mutable -> std::optional<runtime::LinkMembers> {
          auto followed =
              runtime::follow_epochs(genesis, state, security, std::chrono::milliseconds(800));
          if (!followed || followed->config.epoch <= std::max(epoch, genesis.epoch))
            return std::nullopt;
          epoch = followed->config.epoch;
          return runtime::LinkMembers::of(followed->config);
        };
      }
      return runtime::run_store(*dir, endpoint, security, limits, std::move(follow));
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

}  // namespace bftgate::cli
