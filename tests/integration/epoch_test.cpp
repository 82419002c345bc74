// Epochs on real processes: the operator replaces validator 2 with a new host (its key made
// there) while adapters keep coming; the old set approves and switches, the new host joins from
// a handoff it verifies from the genesis config, the replaced machine says it is out, and the
// next release is certified by epoch 2's set. A node that was offline across two epoch changes
// walks the chain from genesis and serves what the newest epoch released. A validator killed at
// each step of a switch ends in the right epoch; one cut off during it follows without a restart.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "bftgate/crypto/certificate.hpp"
#include "bftgate/io/file_io.hpp"
#include "bftgate/runtime/client/cluster_client.hpp"
#include "bftgate/runtime/client/epoch_store.hpp"
#include "bftgate/runtime/harness/local_processes.hpp"
#include "cluster_test_support.hpp"
#include "local_cluster.hpp"

namespace bftgate::testing {
namespace {

using std::chrono::milliseconds;
using namespace cluster_support;  // the shared helpers (cluster_test_support.hpp)

CommandResult reconfigure(const LocalCluster& cluster, const std::string& change) {
  return run_command(cluster.bftgate() + " reconfigure --wait --timeout 60 --config " +
                     cluster.config() + " --operator-key " + cluster.operator_key() + " " + change);
}

// The statuses of the validators of the newest epoch the operator's tools know.
std::map<bft::ReplicaId, runtime::StatusAnswer> epoch_statuses(const LocalCluster& cluster) {
  const auto& genesis = cluster.loaded_config();
  auto newest = runtime::newest_epoch(genesis, runtime::default_epoch_state(genesis));
  if (!newest) return {};
  runtime::ClusterClient client(newest->config, cluster.link());
  return client.status_all(milliseconds(2000)).answers;
}

TEST(Epochs, ReplacingValidatorTwoWithANewHostAndANodeOfflineAcrossTwoEpochs) {
  LocalCluster cluster(BFTGATE_BINARY, 4, kPass);
  cluster.start_all();
  cluster.start_node(0);
  ASSERT_EQ(submit(cluster, write_artifact(cluster, "v1.bin", 1000)).exit_code, 0);
  ASSERT_GE(wait_node(cluster, 0, 1).value("version", 0), 1);

  // The new host makes its own key and card; the operator proposes it in validator 2's place.
  auto port = runtime::free_port_range(1);
  ASSERT_TRUE(port);
  const auto host = cluster.path("new-host-2");
  auto made = run_command(cluster.bftgate() + " init validator --id 2 --endpoint tcp://127.0.0.1:" +
                          std::to_string(*port) + " --out " + host.string());
  ASSERT_EQ(made.exit_code, 0) << made.output;
  auto replaced = reconfigure(cluster, "--replace 2=" + (host / "validator-2.card.json").string());
  ASSERT_EQ(replaced.exit_code, 0) << replaced.output;
  EXPECT_NE(replaced.output.find("epoch 2 runs"), std::string::npos) << replaced.output;

  // The replaced machine is out, and says so.
  auto old = statuses_of(cluster, milliseconds(2000));
  ASSERT_TRUE(old.contains(2));
  EXPECT_EQ(old.at(2).removed_in_epoch, std::optional<std::uint64_t>(2));
  EXPECT_NE(cluster.log(2).find("gives its id another key"), std::string::npos) << cluster.log(2);

  // The new host joins: it fetches the handoff of epoch 1 and verifies it from genesis.
  cluster.spawn("validator-2-new",
                {cluster.bftgate(), "validator", "--config", cluster.config(), "--id", "2", "--key",
                 (host / "validator-2.key").string(), "--data", (host / "data").string(), "--join",
                 "--validate-cmd", kPass});
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  std::map<bft::ReplicaId, runtime::StatusAnswer> now;
  while (std::chrono::steady_clock::now() < deadline) {
    now = epoch_statuses(cluster);
    if (now.contains(2) && now.at(2).epoch == 2) break;
    std::this_thread::sleep_for(milliseconds(200));
  }
  ASSERT_TRUE(now.contains(2) && now.at(2).epoch == 2) << cluster.log("validator-2-new");
  EXPECT_NE(cluster.log("validator-2-new").find("caught up: epoch 1 ended"), std::string::npos);

  // Adapters keep coming: the next release is epoch 2's, its signers of epoch 2's set.
  ASSERT_EQ(submit(cluster, write_artifact(cluster, "v2.bin", 2000)).exit_code, 0);
  auto answers = epoch_statuses(cluster);
  ASSERT_TRUE(answers.contains(0));
  const auto* v2 = answers.at(0).entry(2);
  ASSERT_TRUE(v2 != nullptr && v2->certificate);
  EXPECT_EQ(v2->certificate->statement.epoch, 2u);
  auto newest = runtime::newest_epoch(cluster.loaded_config(),
                                      runtime::default_epoch_state(cluster.loaded_config()));
  ASSERT_TRUE(newest);
  EXPECT_TRUE(crypto::verify(*v2->certificate, newest->config.validator_set()).ok());
  // Against the genesis set (validator 2's old key) it is another epoch's: refused.
  EXPECT_FALSE(crypto::verify(*v2->certificate, cluster.loaded_config().validator_set()).ok());
  EXPECT_GE(wait_node(cluster, 0, 2).value("version", 0), 2) << cluster.log("node-0");
  // Offline, verify-cert walks the handoffs the operator's tools kept: valid only with them.
  const auto cert_file = cluster.path("v2.cert.json");
  ASSERT_TRUE(write_file_atomic(cert_file, as_bytes(v2->certificate->to_json().dump())).ok());
  const auto verify_cert = [&](const std::string& epochs) {
    return run_command(cluster.bftgate() + " verify-cert --config " + cluster.config() + " " +
                       epochs + " " + cert_file.string());
  };
  const auto kept = runtime::default_epoch_state(cluster.loaded_config());
  auto with_chain = verify_cert("--epochs " + kept.string());
  EXPECT_EQ(with_chain.exit_code, 0) << with_chain.output;
  EXPECT_NE(with_chain.output.find("VALID: adapter version 2"), std::string::npos)
      << with_chain.output;
  EXPECT_EQ(verify_cert("--epochs " + (kept / "epochs").string()).exit_code, 0);
  EXPECT_EQ(verify_cert("").exit_code, 1);
  // The store follows the epochs too: it admits the new machine's key, which then fetches
  // artifacts like any validator (no fetch of it fails for want of a link).
  EXPECT_NE(cluster.log("store").find("store: a new epoch: admitting"), std::string::npos)
      << cluster.log("store");
  EXPECT_EQ(cluster.log("validator-2-new").find("cannot judge"), std::string::npos)
      << cluster.log("validator-2-new");

  // A second change while node 1 is still off: validator 3 leaves (n = 3, f = 0).
  auto removed = reconfigure(cluster, "--remove 3");
  ASSERT_EQ(removed.exit_code, 0) << removed.output;
  ASSERT_EQ(submit(cluster, write_artifact(cluster, "v3.bin", 3000)).exit_code, 0);
  // Node 1 starts from the genesis config alone, walks the chain and serves epoch 3's release.
  cluster.start_node(1);
  auto status = wait_node(cluster, 1, 3, 60);
  EXPECT_GE(status.value("version", 0), 3) << cluster.log("node-1");
  EXPECT_NE(cluster.log("node-1").find("epoch 3 runs"), std::string::npos) << cluster.log("node-1");
}

// A validator killed (SIGKILL, --crash-at) at each step of a switch, started again, ends in the
// right epoch and takes part in it: with another member of the new set stopped, the next release
// needs its vote, in the new epoch.
class EpochCrash : public ::testing::TestWithParam<std::string> {};

TEST_P(EpochCrash, AValidatorKilledAtThisStepOfTheSwitchEndsInTheNewEpochAndVotesInIt) {
  LocalCluster cluster(BFTGATE_BINARY, 4, kPass);
  cluster.extra_args[1] = {"--crash-at", GetParam()};
  cluster.start_all();
  ASSERT_EQ(submit(cluster, write_artifact(cluster, "v1.bin", 1000)).exit_code, 0);
  // Validator 3 leaves: epoch 2 is {0, 1, 2} (f = 0, quorum 2), which 0 and 2 run alone.
  auto removed = reconfigure(cluster, "--remove 3");
  ASSERT_EQ(removed.exit_code, 0) << removed.output << cluster.log(1);
  const auto killed = "--crash-at " + GetParam() + ": killing itself here";
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (cluster.log(1).find(killed) == std::string::npos &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(100));
  }
  ASSERT_NE(cluster.log(1).find(killed), std::string::npos) << cluster.log(1);
  EXPECT_EQ(cluster.terminate(1), 128 + SIGKILL);

  // Validator 2 stops; validator 1 starts again, without the fault.
  EXPECT_EQ(cluster.terminate(2), 0);
  cluster.extra_args.erase(1);
  cluster.start(1);
  auto released = submit(cluster, write_artifact(cluster, "v2.bin", 2000));
  ASSERT_EQ(released.exit_code, 0) << released.output << cluster.log(1);
  auto answers = epoch_statuses(cluster);
  ASSERT_TRUE(answers.contains(1)) << cluster.log(1);
  EXPECT_EQ(answers.at(1).epoch, 2u);
  const auto* v2 = answers.at(1).entry(2);
  ASSERT_TRUE(v2 != nullptr && v2->certificate) << cluster.log(1);
  EXPECT_EQ(v2->certificate->statement.epoch, 2u);
  EXPECT_TRUE(v2->certificate->signers().contains(1));
  EXPECT_FALSE(v2->certificate->signers().contains(3));
}

// A validator cut off from its peers for the whole switch, and never restarted, notices that its
// epoch ended (it asks for the handoff while it executes nothing) and takes part in the next.
TEST(Epochs, AValidatorCutOffDuringTheSwitchFollowsWithoutARestart) {
  LocalCluster cluster(BFTGATE_BINARY, 4, kPass);
  cluster.faults[1] = "cut=0+2+3,until=10";
  cluster.start_all();
  const auto pid = cluster.pid(1);
  ASSERT_EQ(submit(cluster, write_artifact(cluster, "v1.bin", 1000)).exit_code, 0);
  auto removed = reconfigure(cluster, "--remove 3");
  ASSERT_EQ(removed.exit_code, 0) << removed.output;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  std::map<bft::ReplicaId, runtime::StatusAnswer> answers;
  while (std::chrono::steady_clock::now() < deadline) {
    answers = epoch_statuses(cluster);
    if (answers.contains(1) && answers.at(1).epoch == 2) break;
    std::this_thread::sleep_for(milliseconds(200));
  }
  ASSERT_TRUE(answers.contains(1) && answers.at(1).epoch == 2) << cluster.log(1);
  EXPECT_EQ(cluster.pid(1), pid);
  EXPECT_NE(cluster.log(1).find("its epoch ended while it lagged behind"), std::string::npos)
      << cluster.log(1);
  // With validator 2 stopped, the next release needs validator 1's vote in epoch 2.
  EXPECT_EQ(cluster.terminate(2), 0);
  auto released = submit(cluster, write_artifact(cluster, "v2.bin", 2000));
  ASSERT_EQ(released.exit_code, 0) << released.output << cluster.log(1);
  answers = epoch_statuses(cluster);
  ASSERT_TRUE(answers.contains(1));
  const auto* v2 = answers.at(1).entry(2);
  ASSERT_TRUE(v2 != nullptr && v2->certificate) << cluster.log(1);
  EXPECT_EQ(v2->certificate->statement.epoch, 2u);
  EXPECT_TRUE(v2->certificate->signers().contains(1));
}

INSTANTIATE_TEST_SUITE_P(EachStep, EpochCrash,
                         ::testing::Values("approved", "certified", "kept", "started"));

}  // namespace
}  // namespace bftgate::testing
