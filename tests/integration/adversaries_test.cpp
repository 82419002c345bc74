// Adversaries against real processes on 127.0.0.1: a forged certificate, an equivocating primary,
// twins under one identity, and faulty links; the cluster stays one and still certifies.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <utility>

#include "bftgate/crypto/certificate.hpp"
#include "bftgate/io/file_digest.hpp"
#include "bftgate/runtime/harness/local_processes.hpp"
#include "cluster_test_support.hpp"
#include "local_cluster.hpp"

namespace bftgate::testing {
namespace {

using namespace cluster_support;  // the shared helpers (cluster_test_support.hpp)

TEST(Adversaries, ForgedCertificateIsRefusedAndTheGenuineReleaseStillLoads) {
  LocalCluster cluster(BFTGATE_BINARY, 4, kPass);
  cluster.byzantine[3] = "forge";  // offers nodes a newer "release" under a forged certificate
  cluster.start_all();
  cluster.start_node(0);
  auto artifact = write_artifact(cluster, "adapter.bin", 10'000);
  ASSERT_EQ(submit(cluster, artifact).exit_code, 0);
  auto status = wait_node(cluster, 0, 1);
  EXPECT_EQ(status["version"], 1) << status.dump() << cluster.log(100);
  status = wait_refusal(cluster, 0, "bad-signature");
  EXPECT_EQ(status["version"], 1);  // the forgery (a version far ahead) never loads
  EXPECT_GT(status["refusals"].value("bad-signature", 0), 0)
      << status.dump() << cluster.log(3) << cluster.log(100);
}

TEST(Adversaries, EquivocatingPrimaryIsReplacedByAViewChange) {
  LocalCluster cluster(BFTGATE_BINARY, 4, kPass);
  cluster.byzantine[0] = "equivocate";  // validator 0 is the primary of view 0
  cluster.start_all();
  auto result = submit(cluster, write_artifact(cluster, "adapter.bin", 1000), 60);
  ASSERT_EQ(result.exit_code, 0) << result.output << cluster.log(1);
  auto answers = wait_for(cluster, 3, [](const StatusAnswer& a) {
    return a.view >= 1 && state_of(a, 1) == "RELEASE_COMMIT";
  });
  std::size_t moved_on = 0;
  for (int id : {1, 2, 3}) {
    if (answers.contains(static_cast<bft::ReplicaId>(id)) &&
        answers.at(static_cast<bft::ReplicaId>(id)).view >= 1) {
      ++moved_on;
    }
  }
  EXPECT_EQ(moved_on, 3u);
  EXPECT_NE(cluster.log(1).find("entered view"), std::string::npos) << cluster.log(1);
}

TEST(Adversaries, TwinsUnderOneIdentityCannotSplitTheCluster) {
  // Validator 0 (the primary of view 0) runs as two processes with one key; a router on its
  // endpoint shows twin A to validator 1 and the clients, twin B to validators 2 and 3.
  LocalCluster cluster(BFTGATE_BINARY, 4, kPass);
  auto ports = runtime::free_port_range(2);
  ASSERT_TRUE(ports.has_value());
  auto twin_a = fmt::format("tcp://127.0.0.1:{}", *ports);
  auto twin_b = fmt::format("tcp://127.0.0.1:{}", *ports + 1);
  auto key = cluster.path("keys/validator-0.key").string();
  for (const auto& [name, endpoint] : {std::pair{"a", twin_a}, std::pair{"b", twin_b}}) {
    cluster.spawn(std::string("twin-") + name,
                  {cluster.bftgate(), "validator", "--config", cluster.config(), "--id", "0",
                   "--key", key, "--data", cluster.path(std::string("twin-") + name).string(),
                   "--validate-cmd", kPass, "--listen", endpoint});
  }
  cluster.spawn("validator-0",
                {cluster.bftgate(), "twin-router", "--config", cluster.config(), "--id", "0",
                 "--key", key, "--twin-a", twin_a, "--twin-b", twin_b, "--side-b", "2,3"});
  cluster.start_store();
  for (int id : {1, 2, 3}) cluster.start(id);

  auto artifact = write_artifact(cluster, "adapter.bin", 1000);
  auto result = submit(cluster, artifact, 90);
  ASSERT_EQ(result.exit_code, 0) << result.output << cluster.log(1);
  auto decided = last_json(result.output);
  ASSERT_EQ(decided["state"], "RELEASE_COMMIT") << result.output;
  auto certificate = crypto::ReleaseCertificate::from_json(decided["certificate"]);
  ASSERT_TRUE(certificate.ok());
  EXPECT_TRUE(bftgate::verify_with_artifact(
                  *certificate, ClusterConfig::load(cluster.config())->validator_set(), artifact)
                  .ok());

  // The honest validators hold one register: same entries, same hash chain.
  auto answers = wait_for(cluster, 4,
                          [](const StatusAnswer& a) { return state_of(a, 1) == "RELEASE_COMMIT"; });
  std::set<std::string> heads;
  for (int id : {1, 2, 3}) {
    ASSERT_TRUE(answers.contains(static_cast<bft::ReplicaId>(id))) << cluster.log(id);
    heads.insert(answers.at(static_cast<bft::ReplicaId>(id)).head_hash.hex());
  }
  EXPECT_EQ(heads.size(), 1u);
  // Both twins really ran and the router really split the traffic.
  EXPECT_NE(cluster.log(0).find("split"), std::string::npos) << cluster.log(0);
  for (const char* twin : {"twin-a", "twin-b"}) EXPECT_EQ(cluster.terminate(twin), 0);
  EXPECT_EQ(cluster.terminate(0), 0);
  EXPECT_NE(cluster.log(0).find("to twin B"), std::string::npos) << cluster.log(0);
}

}  // namespace
}  // namespace bftgate::testing

namespace bftgate::testing {
namespace {

TEST(LinkFaultsOnTheWire, APartitionedValidatorCatchesUpWhenItHeals) {
  LocalCluster cluster(BFTGATE_BINARY, 4, kPass);
  // Validator 3 is cut off from every other validator for the first 4 seconds.
  cluster.faults[3] = "cut=0+1+2,until=4";
  cluster.faults[1] = "loss=0.1,delay=1-20ms";  // and validator 1's links are lossy and slow
  auto started = std::chrono::steady_clock::now();
  cluster.start_all();
  ASSERT_EQ(submit(cluster, write_artifact(cluster, "adapter.bin", 1000)).exit_code, 0);
  auto early = wait_for(
      cluster, 3, [](const StatusAnswer& a) { return state_of(a, 1) == "RELEASE_COMMIT"; }, 5);
  if (early.contains(3) &&
      std::chrono::steady_clock::now() - started < std::chrono::milliseconds(3500)) {
    EXPECT_NE(state_of(early.at(3), 1), "RELEASE_COMMIT");  // still cut off
  }
  auto healed = wait_for(
      cluster, 4, [](const StatusAnswer& a) { return state_of(a, 1) == "RELEASE_COMMIT"; }, 30);
  ASSERT_TRUE(healed.contains(3));
  EXPECT_EQ(state_of(healed.at(3), 1), "RELEASE_COMMIT") << cluster.log(3);
  EXPECT_NE(cluster.log(3).find("injecting link faults"), std::string::npos);
}

}  // namespace
}  // namespace bftgate::testing
