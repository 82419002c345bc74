// The per-step checker: each of its checks fires on the breakage it names.
#include "bftgate/core/replica_checker.hpp"

#include <gtest/gtest.h>

#include "test_cluster.hpp"

namespace bftgate::bft::testing {
namespace {

TEST(ReplicaChecker, AMessageSentBeforeItIsPersistedIsNamed) {
  TestCluster cluster(4);
  ReplicaChecker checker;
  Ready ready;
  auto prepare = make_message(*cluster.signers[1], Prepare{0, 1, batch_digest_of({})});
  ready.messages.push_back({Outbound::To::kAllReplicas, 0, prepare});
  auto broken = checker.after_step(*cluster.replicas[1], ready);
  ASSERT_TRUE(broken);
  EXPECT_NE(broken->find("without persisting it first"), std::string::npos) << *broken;
  // Persisted in the same Ready (before the send, as the driver's contract says): fine.
  PersistRecord record;
  record.kind = PersistRecord::Kind::kSent;
  record.message = prepare;
  ready.persist.push_back(record);
  EXPECT_FALSE(checker.after_step(*cluster.replicas[1], ready));
  // A relayed client request carries no promise of this replica's.
  Ready relay;
  relay.messages.push_back({Outbound::To::kReplica, 0, cluster.request(1, op(1))});
  EXPECT_FALSE(checker.after_step(*cluster.replicas[1], relay));
}

TEST(ReplicaChecker, ExecutionThatGoesBackIsNamed) {
  TestCluster cluster(4);
  for (int i = 1; i <= 6; ++i)
    cluster.submit(cluster.request(static_cast<std::uint64_t>(i), op(i)));
  ASSERT_EQ(cluster.replicas[2]->last_executed(), 6u);
  ReplicaChecker checker;
  EXPECT_FALSE(checker.after_step(*cluster.replicas[2], {}));
  // The same replica restarted with nothing persisted: it forgot what it executed.
  LogApp app;
  Replica forgetful(cluster.options, cluster.signers[2], cluster.verifier, app);
  auto broken = checker.after_step(forgetful, {});
  ASSERT_TRUE(broken);
  EXPECT_NE(broken->find("last executed went back from 6 to 0"), std::string::npos) << *broken;
}

TEST(ReplicaChecker, AReplicaRestoredIntoABrokenStateIsNamed) {
  TestCluster cluster(4);
  for (int i = 1; i <= 5; ++i)
    cluster.submit(cluster.request(static_cast<std::uint64_t>(i), op(i)));
  // An executed record far above the window: restore takes it, the state is impossible.
  PersistRecord stray;
  stray.kind = PersistRecord::Kind::kSent;
  stray.message = make_message(*cluster.signers[3], Prepare{0, 500, batch_digest_of({})});
  auto records = cluster.disks[3];
  records.push_back(stray);
  LogApp app;
  Replica restored(cluster.options, cluster.signers[3], cluster.verifier, app);
  restored.restore(records);
  auto broken = restored.invariant_violation();
  ASSERT_TRUE(broken);
  EXPECT_NE(broken->find("slot 500 outside the window"), std::string::npos) << *broken;
  EXPECT_FALSE(cluster.replicas[3]->invariant_violation());
}

}  // namespace
}  // namespace bftgate::bft::testing
