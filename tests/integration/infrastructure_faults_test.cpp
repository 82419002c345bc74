// Faults of the infrastructure against real processes on 127.0.0.1: a store outage is no verdict
// on the adapter, and a clock that ran an hour fast locks nobody out once corrected.
#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <set>

#include "bftgate/cluster/ed25519_signer.hpp"
#include "bftgate/config/key_file.hpp"
#include "bftgate/core/client_table.hpp"
#include "bftgate/register/register_ops.hpp"
#include "bftgate/runtime/client/cluster_client.hpp"
#include "bftgate/runtime/store/artifact_store.hpp"
#include "hostile_input_support.hpp"
#include "local_cluster.hpp"

namespace bftgate::testing {
namespace {

using std::chrono::milliseconds;
using namespace hostile_support;  // the shared helpers (hostile_input_support.hpp)

// Proposes what the store already holds (store://DIGEST), as the operator key signs it.
void propose_stored(const LocalCluster& cluster, const crypto::Digest& digest, std::uint64_t size,
                    std::uint64_t version) {
  auto config = ClusterConfig::load(cluster.config());
  ASSERT_TRUE(config.ok());
  auto key = crypto::read_key_file(cluster.operator_key());
  ASSERT_TRUE(key.ok()) << key.error().message;
  std::array<std::uint8_t, crypto::kSeedSize> seed{};
  key->key.copy_seed_to(seed);
  auto signer = std::make_shared<bft::Ed25519Signer>(bft::kOperatorPrincipal,
                                                     crypto::SecretKey::from_seed(seed));
  auto op = bft::make_propose(key->key, config->cluster_id, config->epoch, version, digest, size,
                              "store://" + digest.hex());
  runtime::ClusterClient client(*config, cluster.link());
  auto reply = client.submit(bft::make_message(*signer, bft::Request{1, std::move(op)}),
                             milliseconds(20'000));
  ASSERT_TRUE(reply.ok()) << reply.error().message;
}

// An entry as f+1 validators agree on it, once `done` holds for it (bounded); nullopt on time out.
std::optional<runtime::EntryReport> wait_entry(
    const LocalCluster& cluster, std::uint64_t version,
    const std::function<bool(const runtime::EntryReport&)>& done, int seconds) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (std::chrono::steady_clock::now() < deadline) {
    std::size_t agreeing = 0;
    std::optional<runtime::EntryReport> found;
    for (const auto& [id, answer] : statuses_of(cluster, milliseconds(500))) {
      if (const auto* entry = answer.entry(version); entry != nullptr && done(*entry)) {
        ++agreeing;
        found = *entry;
      }
    }
    if (agreeing >= 2) return found;
    std::this_thread::sleep_for(milliseconds(200));
  }
  return std::nullopt;
}

// A fault of the infrastructure is no verdict on the adapter (the store down used to make every
// validator vote FAIL and reject a good adapter for good): the validators abstain and say why,
// and judge the adapter when the store returns.
TEST(FaultsAreNotVerdicts, AStoreOutageRejectsNothingAndTheAdapterIsReleasedWhenItReturns) {
  LocalCluster cluster(binary_under_test(), 4, kPass);
  for (int id = 0; id < 4; ++id)
    cluster.extra_args[id] = {"--fetch-timeout", "0.5", "--retry-max", "1"};
  const auto metrics_port = runtime::free_port_range(1);
  ASSERT_TRUE(metrics_port.has_value());
  cluster.extra_args[0].insert(cluster.extra_args[0].end(),
                               {"--metrics-port", std::to_string(*metrics_port)});
  cluster.start_all();
  auto config = ClusterConfig::load(cluster.config());
  ASSERT_TRUE(config.ok());
  auto artifact = write_artifact(cluster, "adapter.bin", 100'000);
  std::optional<crypto::Digest> digest;
  {
    runtime::StoreClient store(runtime::StoreLink::of(*config, cluster.link()));
    auto stored = store.put(artifact);
    ASSERT_TRUE(stored.ok()) << stored.error().message;
    digest = *stored;
  }
  ASSERT_EQ(cluster.terminate(-1), 0);  // the store goes down after the upload
  propose_stored(cluster, *digest, 100'000, 1);

  // Every validator tried, could not judge, says so, and voted nothing.
  std::map<bft::ReplicaId, StatusAnswer> answers;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  const auto all_tried = [&] {
    if (answers.size() < 4) return false;
    for (const auto& [id, answer] : answers) {
      if (!answer.judging || !answer.judging->cannot_judge || answer.judging->attempts < 2)
        return false;
    }
    return true;
  };
  while (std::chrono::steady_clock::now() < deadline && !all_tried()) {
    std::this_thread::sleep_for(milliseconds(200));
    answers = status_of_all(cluster);
  }
  ASSERT_TRUE(all_tried()) << "not every validator reported that it cannot judge";
  for (const auto& [id, answer] : answers) {
    EXPECT_EQ(answer.judging->version, 1u);
    EXPECT_NE(answer.judging->reason.find("did not answer"), std::string::npos)
        << answer.judging->reason;
    const auto* entry = answer.entry(1);
    ASSERT_NE(entry, nullptr);
    EXPECT_EQ(entry->state, bft::EntryState::kBetaTesting);
    EXPECT_TRUE(entry->votes.empty()) << "validator " << id << " voted on an infrastructure fault";
    EXPECT_EQ(answer.validation(1), nullptr);
  }
  auto status = run_command(cluster.bftgate() + " status --config " + cluster.config() + " --key " +
                            cluster.operator_key());
  EXPECT_NE(status.output.find("cannot judge version 1"), std::string::npos) << status.output;
  auto metrics = LocalCluster::http_get(*metrics_port, "/metrics");
  EXPECT_NE(metrics.find("bftgate_validator_cannot_judge{validator=\"0\"} 1"), std::string::npos)
      << metrics;

  // The store returns: the adapter is judged on its merits and released.
  cluster.start_store();
  auto released = wait_entry(
      cluster, 1,
      [](const runtime::EntryReport& e) { return e.state == bft::EntryState::kReleaseCommit; }, 60);
  ASSERT_TRUE(released.has_value()) << "the adapter was not released once the store returned";
  EXPECT_EQ(released->fail_votes(), 0u);
  for (const auto& [id, answer] : status_of_all(cluster)) {
    EXPECT_FALSE(answer.judging.has_value() && answer.judging->cannot_judge) << "validator " << id;
  }
}

// `count` requests from `principal` (signed with the key in `key_file`) with ids a clock an hour
// fast would have made, each executed: they fill the replicas' window of that client's ids.
void execute_ids_from_an_hour_ahead(const LocalCluster& cluster, bft::PrincipalId principal,
                                    const std::string& key_file, std::size_t count) {
  auto config = ClusterConfig::load(cluster.config());
  ASSERT_TRUE(config.ok());
  auto key = crypto::read_key_file(key_file);
  ASSERT_TRUE(key.ok()) << key.error().message;
  std::array<std::uint8_t, crypto::kSeedSize> seed{};
  key->key.copy_seed_to(seed);
  bft::Ed25519Signer signer(principal, crypto::SecretKey::from_seed(seed));
  auto ahead = std::chrono::system_clock::now() + std::chrono::hours(1);
  auto first =
      static_cast<std::uint64_t>(
          std::chrono::duration_cast<std::chrono::microseconds>(ahead.time_since_epoch()).count())
      << 10;
  runtime::ClusterClient client(*config, cluster.link());
  for (std::size_t i = 0; i < count; ++i) {
    // An empty operation: executed (and so remembered) and refused by the register.
    auto reply = client.submit(bft::make_message(signer, bft::Request{first + i, Bytes{}}),
                               milliseconds(10'000));
    ASSERT_TRUE(reply.ok()) << "request " << i << ": " << reply.error().message;
  }
}

// Request ids come from state, not from the clock: a validator and the operator whose clocks ran
// an hour fast (their executed ids fill the replicas' windows) and were then corrected go on at
// once. With ids read off the clock, every new request was below the window and refused: the
// operator was told "not decided" for an hour, and the validator's votes vanished.
TEST(ClockIndependence, AClockThatRanAnHourFastAndWasCorrectedLocksNobodyOut) {
  LocalCluster cluster(binary_under_test(), 4, kPass);
  cluster.start_all();
  const std::size_t window = bft::ClientTable::kWindow;
  execute_ids_from_an_hour_ahead(cluster, bft::kOperatorPrincipal, cluster.operator_key(), window);
  execute_ids_from_an_hour_ahead(cluster, bft::kValidatorClientBase + 3, cluster.validator_key(3),
                                 window);
  // Validator 3 restarts (its clock corrected); validator 2 is down, so no release without
  // validator 3's vote.
  ASSERT_EQ(cluster.terminate(3), 0);
  cluster.start(3);
  ASSERT_EQ(cluster.terminate(2), 0);
  auto result = submit(cluster, write_artifact(cluster, "adapter.bin", 1000), 60);
  ASSERT_EQ(result.exit_code, 0) << result.output;
  auto released = wait_entry(
      cluster, 1,
      [](const runtime::EntryReport& e) { return e.state == bft::EntryState::kReleaseCommit; }, 30);
  ASSERT_TRUE(released.has_value());
  std::set<std::uint32_t> voters;
  for (const auto& vote : released->votes) voters.insert(vote.validator);
  EXPECT_TRUE(voters.contains(3)) << "validator 3's vote was refused";
}

}  // namespace
}  // namespace bftgate::testing
