#include "bftgate/runtime/harness/local_cluster.hpp"

#include <fmt/format.h>

#include <fstream>
#include <iterator>

#include "bftgate/config/cluster_setup.hpp"

namespace bftgate::runtime {

Result<std::unique_ptr<LocalCluster>> LocalCluster::create(const Options& options) {
  // The store and each node take one port after the validators' (crypto/cluster_setup.hpp).
  auto base = free_port_range(static_cast<int>(options.validators + options.nodes + 1));
  if (!base) return Error{"no free range of ports on 127.0.0.1"};
  auto cluster = generate_cluster({.validators = options.validators,
                                   .inference_nodes = options.nodes,
                                   .fault_model = FaultModel::kBft,
                                   .cluster_id = options.cluster_id,
                                   .epoch = 1,
                                   .host = "127.0.0.1",
                                   .base_port = *base});
  if (!cluster) return cluster.error();
  std::error_code ec;
  std::filesystem::create_directories(options.dir / "logs", ec);
  if (ec) return Error{fmt::format("cannot create {}: {}", options.dir.string(), ec.message())};
  if (auto files = write_cluster(*cluster, options.dir, /*overwrite=*/true); !files)
    return files.error();
  auto operator_link = options.insecure_plaintext
                           ? LinkSecurity::insecure_plaintext()
                           : LinkSecurity::curve(cluster->operator_key, cluster->config);
  return std::unique_ptr<LocalCluster>(
      new LocalCluster(options, std::move(cluster->config), std::move(operator_link)));
}

LocalCluster::LocalCluster(Options options, ClusterConfig config, LinkSecurity operator_link)
    : binary_(std::move(options.binary)),
      dir_(std::filesystem::absolute(options.dir)),
      config_(std::move(config)),
      insecure_plaintext_(options.insecure_plaintext),
      operator_link_(std::move(operator_link)) {}

std::vector<std::string> LocalCluster::link_flags() const {
  if (insecure_plaintext_) return {"--insecure-plaintext"};
  return {};
}

// The generated config has a tcp:// endpoint for every process; 0 for an unknown id.
std::uint16_t LocalCluster::validator_port(std::uint32_t id) const {
  const auto* validator = config_.find_validator(id);
  return validator ? tcp_port(validator->endpoint).value_or(0) : 0;
}

std::uint16_t LocalCluster::store_port() const {
  return tcp_port(config_.artifact_store_endpoint).value_or(0);
}

std::uint16_t LocalCluster::node_port(std::uint32_t j) const {
  for (const auto& node : config_.inference_nodes) {
    if (node.id == j) return tcp_port(node.endpoint).value_or(0);
  }
  return 0;
}

std::filesystem::path LocalCluster::log_path(const std::string& name) const {
  return dir_ / "logs" / (name + ".log");
}

std::string LocalCluster::log(const std::string& name) const {
  std::ifstream in(log_path(name));
  return std::string(std::istreambuf_iterator<char>(in), {});
}

Status LocalCluster::spawn(const std::string& name, const std::vector<std::string>& argv) {
  return processes_.spawn(name, argv, log_path(name));
}

Status LocalCluster::start_store(std::vector<std::string> wrapper) {
  wrapper.insert(wrapper.end(), {binary_.string(), "store", "--config", config_path().string(),
                                 "--dir", data_dir("store").string()});
  if (insecure_plaintext_) {
    wrapper.emplace_back("--insecure-plaintext");
  } else {
    wrapper.insert(wrapper.end(), {"--key", store_key_path().string()});
  }
  return spawn("store", std::move(wrapper));
}

Status LocalCluster::start_validator(std::uint32_t id, const std::vector<std::string>& extra,
                                     std::vector<std::string> wrapper) {
  auto name = validator_name(id);
  std::vector<std::string> argv = std::move(wrapper);
  argv.insert(argv.end(), {binary_.string(), "validator", "--config", config_path().string(),
                           "--id", std::to_string(id), "--key", key_path(id).string(), "--data",
                           data_dir(name).string()});
  auto links = link_flags();
  argv.insert(argv.end(), links.begin(), links.end());
  argv.insert(argv.end(), extra.begin(), extra.end());
  return spawn(name, std::move(argv));
}

Status LocalCluster::start_node(std::uint32_t j, const std::vector<std::string>& extra) {
  auto name = node_name(j);
  std::vector<std::string> argv = {binary_.string(), "node",
                                   "--config",       config_path().string(),
                                   "--id",           std::to_string(j),
                                   "--cache",        data_dir(name).string()};
  if (insecure_plaintext_) {
    argv.emplace_back("--insecure-plaintext");
  } else {
    argv.insert(argv.end(), {"--key", node_key_path(j).string()});
  }
  argv.insert(argv.end(), extra.begin(), extra.end());
  return spawn(name, std::move(argv));
}

int LocalCluster::signal(const std::string& name, int signal) {
  return processes_.signal_and_wait(name, signal);
}

std::vector<std::string> LocalCluster::stop_all() {
  return processes_.stop_all();
}

}  // namespace bftgate::runtime
