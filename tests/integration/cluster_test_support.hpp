// What the cluster tests (cluster_test.cpp, inference_nodes_test.cpp, adversaries_test.cpp)
// share: the validation commands, submitting an adapter, and an inference node's status.
#pragma once

#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "local_cluster.hpp"

namespace bftgate::testing::cluster_support {

using nlohmann::json;
using std::chrono::milliseconds;

inline const std::string kPass = R"(echo '{"pass": true, "metrics": {"suite": "test"}}')";
inline const std::string kFail = R"(echo '{"pass": false, "metrics": {"suite": "test"}}')";

inline std::string write_artifact(const LocalCluster& cluster, const std::string& name,
                                  std::size_t size) {
  return write_random_artifact(cluster, name, size);
}

inline CommandResult submit(const LocalCluster& cluster, const std::string& artifact,
                            int timeout_s = 60) {
  return run_command(cluster.bftgate() + " submit --json --wait --timeout " +
                     std::to_string(timeout_s) + " --config " + cluster.config() +
                     " --operator-key " + cluster.operator_key() + " --adapter " + artifact);
}

inline json last_json(const std::string& output) {
  auto start = output.find('{');
  return start == std::string::npos ? json() : json::parse(output.substr(start), nullptr, false);
}

inline json node_status(const LocalCluster& cluster, int j) {
  auto body = LocalCluster::http_get(cluster.node_port(j), "/status");
  return body.empty() ? json() : json::parse(body, nullptr, false);
}

// Waits until node j has refused something for `reason` (bounded); returns its last status.
inline json wait_refusal(const LocalCluster& cluster, int j, const std::string& reason,
                         int seconds = 30) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  json status;
  while (std::chrono::steady_clock::now() < deadline) {
    status = node_status(cluster, j);
    if (status.is_object() && status["refusals"].value(reason, 0) > 0) return status;
    std::this_thread::sleep_for(milliseconds(100));
  }
  return status;
}

// Waits until node j serves `version` (or the time is up); returns its last status.
inline json wait_node(const LocalCluster& cluster, int j, std::uint64_t version, int seconds = 30) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  json status;
  while (std::chrono::steady_clock::now() < deadline) {
    status = node_status(cluster, j);
    // Served at least one request with it, so the swap is visible in the per-version counters.
    if (status.is_object() && status.value("version", std::uint64_t{0}) >= version &&
        status["requests_by_version"].contains(std::to_string(version))) {
      return status;
    }
    std::this_thread::sleep_for(milliseconds(100));
  }
  return status;
}

}  // namespace bftgate::testing::cluster_support
