// Crash recovery of real processes: what a restarted process must remember.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <cstdlib>
#include <random>

#include "bftgate/crypto/file_io.hpp"
#include "local_cluster.hpp"

namespace bftgate::testing {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;

// BFTGATE_TEST_BINARY runs these tests against another build (to see them fail without a fix).
std::string binary_under_test() {
  const char* other = std::getenv("BFTGATE_TEST_BINARY");
  return other != nullptr && *other != '\0' ? other : BFTGATE_BINARY;
}

const std::string kPass = R"(echo '{"pass": true, "metrics": {"suite": "test"}}')";

std::string write_artifact(const LocalCluster& cluster, const std::string& name, std::size_t size) {
  Bytes bytes(size);
  std::mt19937_64 rng(size);
  for (auto& b : bytes) b = static_cast<std::uint8_t>(rng());
  auto path = cluster.path(name);
  EXPECT_TRUE(write_file_atomic(path, bytes).ok());
  return path.string();
}

int submit(const LocalCluster& cluster, const std::string& artifact) {
  return run_command(cluster.bftgate() + " submit --wait --timeout 60 --config " +
                     cluster.config() + " --operator-key " + cluster.operator_key() +
                     " --adapter " + artifact)
      .exit_code;
}

json node_status(const LocalCluster& cluster, int j) {
  auto body = LocalCluster::http_get(cluster.node_port(j), "/status");
  return body.empty() ? json() : json::parse(body, nullptr, false);
}

json wait_node_version(const LocalCluster& cluster, int j, std::uint64_t version,
                       int seconds = 30) {
  json status;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (std::chrono::steady_clock::now() < deadline) {
    status = node_status(cluster, j);
    if (status.is_object() && status.value("version", std::uint64_t{0}) == version) break;
    std::this_thread::sleep_for(milliseconds(100));
  }
  return status;
}

TEST(Recovery, ARestartedNodeNeverServesAnOlderVersion) {
  // It served version 2; after a restart only a validator replaying version 1 (validly
  // certified, but old) is reachable.
  LocalCluster cluster(binary_under_test(), 4, kPass);
  cluster.start_all();
  cluster.start_node(0);
  ASSERT_EQ(submit(cluster, write_artifact(cluster, "v1.bin", 1000)), 0);
  ASSERT_EQ(submit(cluster, write_artifact(cluster, "v2.bin", 2000)), 0);
  auto before = wait_node_version(cluster, 0, 2);
  ASSERT_EQ(before.value("version", 0), 2) << before.dump() << cluster.log(100);
  EXPECT_EQ(cluster.terminate(100), 0);
  for (int id = 0; id < 4; ++id) EXPECT_EQ(cluster.terminate(id), 0);
  cluster.byzantine[3] = "replay";
  cluster.start(3);
  cluster.start_node(0);
  auto after = wait_node_version(cluster, 0, 2, 15);
  EXPECT_EQ(after.value("version", 0), 2) << after.dump() << cluster.log(100);
  EXPECT_EQ(after.value("version_floor", 0), 2) << after.dump();
  std::this_thread::sleep_for(milliseconds(1500));  // several polls that offer version 1
  auto later = node_status(cluster, 0);
  EXPECT_EQ(later.value("version", 0), 2) << later.dump();
  EXPECT_FALSE(later["requests_by_version"].contains("1")) << later.dump();
}

}  // namespace
}  // namespace bftgate::testing
