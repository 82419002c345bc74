#include "bftgate/config/cluster_setup.hpp"

#include <fmt/format.h>
#include <sys/stat.h>

#include <algorithm>

#include "bftgate/config/key_file.hpp"
#include "bftgate/io/file_io.hpp"

namespace bftgate {

std::uint32_t max_faults(FaultModel model, std::size_t validators) {
  if (validators == 0) return 0;
  return static_cast<std::uint32_t>(model == FaultModel::kBft ? (validators - 1) / 3
                                                              : (validators - 1) / 2);
}

Result<GeneratedCluster> generate_cluster(const ClusterSpec& spec) {
  if (spec.validators == 0) return Error{"a cluster needs at least one validator"};
  if (spec.validators > std::size_t{kMaxValidatorId} + 1) {
    return Error{fmt::format("at most {} validators are supported", kMaxValidatorId + 1)};
  }
  std::size_t last_port = std::size_t{spec.base_port} + spec.validators + spec.inference_nodes +
                          (spec.metrics ? spec.validators : 0);
  if (spec.base_port == 0 || last_port > 65535) {
    return Error{fmt::format("ports {}..{} do not fit in 1..65535; choose another base port",
                             spec.base_port, last_port)};
  }
  auto endpoint = [&](std::size_t offset) {
    return fmt::format("tcp://{}:{}", spec.host, std::size_t{spec.base_port} + offset);
  };

  GeneratedCluster cluster{.config = {},
                           .validator_keys = {},
                           .operator_key = crypto::SecretKey::generate(),
                           .store_key = crypto::SecretKey::generate(),
                           .node_keys = {}};
  auto& config = cluster.config;
  config.cluster_id = spec.cluster_id;
  config.epoch = spec.epoch;
  config.fault_model = spec.fault_model;
  config.f = max_faults(spec.fault_model, spec.validators);
  for (std::size_t i = 0; i < spec.validators; ++i) {
    auto key = crypto::SecretKey::generate();
    std::uint16_t metrics_port = 0;
    if (spec.metrics) {
      metrics_port = static_cast<std::uint16_t>(spec.base_port + spec.validators + 1 +
                                                spec.inference_nodes + i);
    }
    config.validators.push_back(
        {static_cast<std::uint32_t>(i), endpoint(i), key.public_key(), metrics_port});
    cluster.validator_keys.push_back(std::move(key));
  }
  config.artifact_store_endpoint = endpoint(spec.validators);
  config.artifact_store_public_key = cluster.store_key.public_key();
  for (std::size_t j = 0; j < spec.inference_nodes; ++j) {
    auto key = crypto::SecretKey::generate();
    config.inference_nodes.push_back(
        {static_cast<std::uint32_t>(j), endpoint(spec.validators + 1 + j), key.public_key()});
    cluster.node_keys.push_back(std::move(key));
  }
  config.operator_public_key = cluster.operator_key.public_key();
  if (auto status = config.validate(); !status) return status.error();
  return cluster;
}

namespace {

// "host:port" of a tcp:// endpoint; empty for any other.
std::string host_of(std::string_view endpoint) {
  constexpr std::string_view kTcp = "tcp://";
  if (!endpoint.starts_with(kTcp) || !tcp_port(endpoint)) return {};
  auto rest = endpoint.substr(kTcp.size());
  return std::string(rest.substr(0, rest.rfind(':')));
}

}  // namespace

std::string prometheus_config(const ClusterConfig& config) {
  std::string validators, nodes;
  for (const auto& v : config.validators) {
    if (v.metrics_port == 0 || host_of(v.endpoint).empty()) continue;
    validators += fmt::format("{}'{}:{}'", validators.empty() ? "" : ", ", host_of(v.endpoint),
                              v.metrics_port);
  }
  for (const auto& node : config.inference_nodes) {
    if (host_of(node.endpoint).empty()) continue;
    nodes += fmt::format("{}'{}:{}'", nodes.empty() ? "" : ", ", host_of(node.endpoint),
                         *tcp_port(node.endpoint));
  }
  std::string out = fmt::format(
      "# Prometheus scrape config for bftgate cluster '{}' (epoch {}), written by bftgate keygen.\n"
      "# prometheus --config.file=prometheus.yml\n"
      "global:\n  scrape_interval: 5s\n  evaluation_interval: 5s\nscrape_configs:\n",
      config.cluster_id, config.epoch);
  const auto job = [&](std::string_view name, const std::string& targets) {
    if (targets.empty()) return;
    out += fmt::format("  - job_name: {}\n    static_configs:\n      - targets: [{}]\n", name,
                       targets);
  };
  job("bftgate-validators", validators);
  job("bftgate-nodes", nodes);
  return out;
}

Result<ClusterFiles> write_cluster(const GeneratedCluster& cluster,
                                   const std::filesystem::path& dir, bool overwrite) {
  std::error_code ec;
  auto key_dir = dir / "keys";
  std::filesystem::create_directories(key_dir, ec);
  if (ec) return Error{fmt::format("cannot create {}: {}", key_dir.string(), ec.message())};
  if (::chmod(key_dir.c_str(), 0700) != 0) {
    return Error{fmt::format("cannot restrict {} to mode 0700", key_dir.string())};
  }

  ClusterFiles files;
  files.config = dir / "cluster.json";
  for (std::size_t i = 0; i < cluster.validator_keys.size(); ++i) {
    auto id = cluster.config.validators[i].id;
    auto path = key_dir / fmt::format("validator-{}.key", id);
    if (auto s = crypto::write_key_file(path, crypto::KeyRole::kValidator, id,
                                        cluster.validator_keys[i], overwrite);
        !s) {
      return s.error();
    }
    files.validator_keys.push_back(path);
  }
  files.operator_key = key_dir / "operator.key";
  if (auto s = crypto::write_key_file(files.operator_key, crypto::KeyRole::kOperator, 0,
                                      cluster.operator_key, overwrite);
      !s) {
    return s.error();
  }
  files.store_key = key_dir / "store.key";
  if (auto s = crypto::write_key_file(files.store_key, crypto::KeyRole::kStore, 0,
                                      cluster.store_key, overwrite);
      !s) {
    return s.error();
  }
  for (std::size_t j = 0; j < cluster.node_keys.size(); ++j) {
    auto id = cluster.config.inference_nodes[j].id;
    auto path = key_dir / fmt::format("node-{}.key", id);
    if (auto s = crypto::write_key_file(path, crypto::KeyRole::kNode, id, cluster.node_keys[j],
                                        overwrite);
        !s) {
      return s.error();
    }
    files.node_keys.push_back(path);
  }
  if (std::any_of(cluster.config.validators.begin(), cluster.config.validators.end(),
                  [](const ValidatorInfo& v) { return v.metrics_port != 0; })) {
    files.prometheus = dir / "prometheus.yml";
    if (auto s = write_file_atomic(files.prometheus, as_bytes(prometheus_config(cluster.config)),
                                   {.mode = 0644, .overwrite = overwrite});
        !s) {
      return s.error();
    }
  }
  // The config goes last: its presence means the keys it names are all on disk.
  if (auto s = cluster.config.save(files.config, overwrite); !s) return s.error();
  return files;
}

}  // namespace bftgate
