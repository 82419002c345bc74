// bftgate keygen: a new cluster config and one secret-key file per validator.
#include <fmt/format.h>

#include "bftgate/config/cluster_setup.hpp"
#include "cli_common.hpp"

namespace bftgate::cli {

namespace {
struct KeygenArgs {
  ClusterSpec spec;
  std::string fault_model = "bft";
  std::filesystem::path out;
  bool force = false;
  bool no_metrics = false;
};
}  // namespace

void register_keygen(CLI::App& app, Runner& run) {
  auto args = std::make_shared<KeygenArgs>();
  auto* cmd = app.add_subcommand("keygen",
                                 "Create a local cluster: cluster.json plus one 0600 secret-key "
                                 "file per validator and one for the operator, all in one place "
                                 "(for tests, demos and one-host clusters: whoever holds them all "
                                 "can certify anything; across hosts use `init` and `cluster "
                                 "assemble`)");
  cmd->add_option("--validators", args->spec.validators, "Number of validators n")
      ->required()
      ->check(CLI::Range(1, 1024));
  cmd->add_option("--nodes", args->spec.inference_nodes, "Number of inference nodes")
      ->default_val(2)
      ->check(CLI::Range(0, 1024));
  cmd->add_option("--fault-model", args->fault_model,
                  "bft (f = (n-1)/3, quorum 2f+1) or cft (f = (n-1)/2, majority)")
      ->default_val("bft")
      ->check(CLI::IsMember({"bft", "cft"}));
  cmd->add_option("--cluster-id", args->spec.cluster_id, "Cluster id bound into every certificate")
      ->default_val("bftgate-local");
  cmd->add_option("--epoch", args->spec.epoch, "Validator-set epoch")->default_val(1);
  cmd->add_option("--host", args->spec.host, "Host for every endpoint")->default_val("127.0.0.1");
  cmd->add_option("--base-port", args->spec.base_port,
                  "Validators listen on base+i, the store on base+n, node j on base+n+1+j")
      ->default_val(27000);
  cmd->add_option("--out", args->out, "Output directory")->required();
  cmd->add_flag("--force", args->force, "Overwrite an existing cluster in --out");
  cmd->add_flag("--no-metrics", args->no_metrics,
                "Give the validators no /metrics port (by default validator i serves it on "
                "base+n+1+nodes+i, and --out gets a Prometheus scrape config, prometheus.yml)");

  cmd->callback([&run, args] {
    run = [args] {
      args->spec.fault_model = *parse_fault_model(args->fault_model);
      args->spec.metrics = !args->no_metrics;
      auto cluster = generate_cluster(args->spec);
      if (!cluster) {
        print_error(cluster.error().message);
        return kExitFailure;
      }
      auto files = write_cluster(*cluster, args->out, args->force);
      if (!files) {
        print_error(files.error().message);
        return kExitFailure;
      }
      const auto& config = cluster->config;
      fmt::print("cluster '{}' epoch {}: n={} validators, {} mode, f={}, certificate quorum {}\n",
                 config.cluster_id, config.epoch, config.n(), to_string(config.fault_model),
                 config.f, config.quorum());
      fmt::print("  config        {}\n", files->config.string());
      for (std::size_t i = 0; i < files->validator_keys.size(); ++i) {
        const auto& v = config.validators[i];
        fmt::print("  validator {:<3} {}  key {} (0600){}\n", v.id, v.endpoint,
                   files->validator_keys[i].string(),
                   v.metrics_port ? fmt::format("  /metrics on port {}", v.metrics_port) : "");
      }
      fmt::print("  operator      key {} (0600)\n", files->operator_key.string());
      fmt::print("  store         {}  key {} (0600)\n", config.artifact_store_endpoint,
                 files->store_key.string());
      for (std::size_t j = 0; j < files->node_keys.size(); ++j) {
        const auto& node = config.inference_nodes[j];
        fmt::print("  node {:<8} {}  key {} (0600)\n", node.id, node.endpoint,
                   files->node_keys[j].string());
      }
      if (!files->prometheus.empty())
        fmt::print("  prometheus    {} (scrape config)\n", files->prometheus.string());
      return kExitOk;
    };
  });
}

}  // namespace bftgate::cli
