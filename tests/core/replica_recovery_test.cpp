#include <gtest/gtest.h>

#include "bftgate/core/replica.hpp"
#include "replica_test_support.hpp"
#include "test_cluster.hpp"

namespace bftgate::bft::testing {
namespace {

TEST(Replica, RestartRecoversEverythingCommittedFromItsLog) {
  TestCluster cluster(4);
  for (int i = 1; i <= 14; ++i) {
    cluster.submit(cluster.request(static_cast<std::uint64_t>(i), op(i)));
    cluster.advance(Duration(5'000));
  }
  auto before = cluster.apps[2]->applied;
  ASSERT_EQ(before.size(), 14u);
  cluster.crash(2);
  cluster.start(2, /*recover=*/true);
  EXPECT_EQ(cluster.apps[2]->applied, before);  // nothing committed was lost
  EXPECT_EQ(cluster.replicas[2]->last_executed(), cluster.replicas[0]->last_executed());
  for (int i = 15; i <= 20; ++i) {
    cluster.submit(cluster.request(static_cast<std::uint64_t>(i), op(i)));
    cluster.advance(Duration(5'000));
  }
  cluster.advance(Duration(20'000), 5);
  EXPECT_EQ(cluster.apps[2]->applied.size(), 20u);
  expect_same_applied(cluster);
}

// The reply of an executed batch leaves without waiting for a sync: a Ready whose only records
// are executed batches does not need one. Every Ready that persists anything else, above all the
// records of the messages that bind the replica, does.
TEST(Replica, RepliesLeaveWithoutASyncAndBindingMessagesWaitForOne) {
  TestCluster cluster(4);
  std::size_t unsynced_replies = 0;
  cluster.observer = [&](ReplicaId i, const Ready& ready) {
    bool binding_record = false;
    for (const auto& record : ready.persist) {
      if (record.kind != PersistRecord::Kind::kExecuted) binding_record = true;
    }
    EXPECT_EQ(ready.needs_sync(), binding_record) << "replica " << i;
    for (const auto& out : ready.messages) {
      if (binds_sender(*out.message)) continue;
      if (out.message->as<Reply>() && !ready.needs_sync()) ++unsynced_replies;
    }
  };
  for (int i = 1; i <= 3; ++i) {  // below the checkpoint interval (4): nothing else to persist
    cluster.submit(cluster.request(static_cast<std::uint64_t>(i), op(i)));
    cluster.advance(Duration(5'000));
  }
  EXPECT_EQ(unsynced_replies, 3u * 4u);  // every replica's reply to each request
  expect_same_applied(cluster);
}

TEST(Replica, BindingMessagesAreTheProtocolMessagesAReplicaSigns) {
  TestCluster cluster(4);
  auto signer = cluster.signers[1];
  Digest digest{};
  EXPECT_TRUE(binds_sender(*make_message(*signer, PrePrepare{0, 1, digest, {}})));
  EXPECT_TRUE(binds_sender(*make_message(*signer, Prepare{0, 1, digest})));
  EXPECT_TRUE(binds_sender(*make_message(*signer, Commit{0, 1, digest})));
  EXPECT_TRUE(binds_sender(*make_message(*signer, Checkpoint{4, digest})));
  EXPECT_FALSE(binds_sender(*cluster.request(1, op(1))));
  EXPECT_FALSE(binds_sender(*make_message(*signer, Reply{kOperatorPrincipal, 1, 0, Bytes{1}})));
}

// A power loss takes what was written but never synced: the last executed batches, whose replies
// had left. The replica comes back behind, with its prepared proofs and commits, and catches up on
// them from its peers like a replica that crashed before executing them.
TEST(Replica, AReplicaThatLosesItsUnsyncedExecutedBatchesCatchesUpOnThem) {
  TestCluster cluster(4);
  for (int i = 1; i <= 6; ++i) {
    cluster.submit(cluster.request(static_cast<std::uint64_t>(i), op(i)));
    cluster.advance(Duration(5'000));
  }
  ASSERT_EQ(cluster.replicas[2]->last_executed(), 6u);
  auto written = cluster.disks[2].size();
  cluster.power_loss(2);
  ASSERT_LT(cluster.disks[2].size(), written);
  cluster.start(2, /*recover=*/true);
  // Seq 5's execution was synced with seq 6's votes; seq 6's never was.
  EXPECT_EQ(cluster.replicas[2]->last_executed(), 5u);
  cluster.advance(Duration(20'000), 10);
  EXPECT_EQ(cluster.replicas[2]->last_executed(), 6u);
  for (int i = 7; i <= 9; ++i) {
    cluster.submit(cluster.request(static_cast<std::uint64_t>(i), op(i)));
    cluster.advance(Duration(5'000));
  }
  cluster.advance(Duration(20'000), 5);
  EXPECT_EQ(cluster.apps[2]->applied.size(), 9u);
  expect_same_applied(cluster);
}

TEST(Replica, RestartedReplicaNeverContradictsItsEarlierVotes) {
  // Replica 1 sends its prepare for seq 1 but hears no prepares or commits, so seq 1 stays
  // unexecuted in its memory: only its persisted prepare can stop it from contradicting itself.
  TestCluster cluster(4);
  cluster.filter = [](PrincipalId, PrincipalId to, const SignedMessage& m) {
    return to == 1 && (m.type() == MessageType::kPrepare || m.type() == MessageType::kCommit);
  };
  cluster.submit(cluster.request(1, op(1)));
  MessagePtr earlier;
  for (const auto& record : cluster.disks[1]) {
    if (record.kind == PersistRecord::Kind::kSent && record.message->as<Prepare>())
      earlier = record.message;
  }
  ASSERT_NE(earlier, nullptr);
  ASSERT_EQ(cluster.replicas[1]->last_executed(), 0u);
  cluster.crash(1);
  cluster.start(1, /*recover=*/true);
  // An equivocating primary now offers another batch at the same view and sequence number.
  std::vector<MessagePtr> other_batch{cluster.request(2, "conflicting")};
  auto conflicting = make_message(*cluster.signers[0],
                                  PrePrepare{0, 1, batch_digest_of(other_batch), other_batch});
  cluster.replicas[1]->step(conflicting);
  auto ready = cluster.replicas[1]->take_ready();
  for (const auto& out : ready.messages) {
    if (const auto* p = out.message->as<Prepare>(); p && p->seq == 1) {
      EXPECT_EQ(p->batch_digest, earlier->as<Prepare>()->batch_digest)
          << "a second, contradicting prepare left";
    }
  }
  bool refused = false;
  for (const auto& event : ready.events) refused |= event.kind == ReplicaEvent::Kind::kRejected;
  EXPECT_TRUE(refused) << "the conflicting pre-prepare was not refused";
}

TEST(Replica, RestartRebuildsExactlyTheStateWhenACheckpointBecameStableAfterLaterBatches) {
  // Replica 3 executes seq 1..6 before the checkpoint at 4 is stable for it (the others'
  // checkpoint messages are late), so its log holds kExecuted 5 and 6 before kStable 4.
  TestCluster cluster(4);
  cluster.filter = [](PrincipalId, PrincipalId to, const SignedMessage& m) {
    return to == 3 && m.type() == MessageType::kCheckpoint;
  };
  for (int i = 1; i <= 6; ++i)
    cluster.submit(cluster.request(static_cast<std::uint64_t>(i), op(i)));
  ASSERT_EQ(cluster.replicas[3]->last_executed(), 6u);
  ASSERT_EQ(cluster.replicas[3]->stable_seq(), 0u);
  cluster.filter = nullptr;
  for (ReplicaId from : {0u, 1u}) {
    for (const auto& record : cluster.disks[from]) {
      if (record.kind == PersistRecord::Kind::kSent && record.message->as<Checkpoint>()) {
        cluster.replicas[3]->step(record.message);
      }
    }
  }
  cluster.drain(3);
  ASSERT_EQ(cluster.replicas[3]->stable_seq(), 4u);
  auto applied = cluster.apps[3]->applied;
  ASSERT_EQ(applied.size(), 6u);

  cluster.crash(3);
  cluster.start(3, /*recover=*/true);
  EXPECT_EQ(cluster.replicas[3]->last_executed(), 6u);
  EXPECT_EQ(cluster.replicas[3]->stable_seq(), 4u);
  EXPECT_EQ(cluster.apps[3]->applied, applied);  // not rolled back to the checkpoint's 4
  // And it goes on in step with the others.
  for (int i = 7; i <= 9; ++i)
    cluster.submit(cluster.request(static_cast<std::uint64_t>(i), op(i)));
  cluster.advance(Duration(10'000), 3);
  expect_same_applied(cluster);
}

TEST(Replica, AReplicaAloneInAHigherViewReturnsToItsPeersViewAndFollowsWithoutVoting) {
  TestCluster cluster(4);
  // Replica 3 is cut off: it holds a request no pre-prepare reaches it for, so it asks for view 1.
  bool cut = true;
  std::vector<MessagePtr> votes_by_3;
  cluster.filter = [&](PrincipalId from, PrincipalId to, const SignedMessage& m) {
    if (from == 3 && (m.as<Prepare>() || m.as<Commit>() || m.as<PrePrepare>()))
      votes_by_3.push_back(std::make_shared<SignedMessage>(m));
    return cut && (from == 3 || to == 3);
  };
  cluster.submit(cluster.request(1, op(1)));
  cluster.advance(Duration(20'000), 100);  // 2 s: twenty view-change timeouts
  // Nobody joined: without a quorum for view 1 it does not climb further.
  EXPECT_EQ(cluster.replicas[3]->view(), 1u);
  EXPECT_FALSE(cluster.replicas[3]->view_active());
  EXPECT_EQ(cluster.count_events(3, ReplicaEvent::Kind::kViewChangeStarted), 1u);
  for (ReplicaId r : {0u, 1u, 2u}) EXPECT_EQ(cluster.replicas[r]->view(), 0u);

  cut = false;  // healed: the peers' status says they are active in view 0
  cluster.advance(Duration(20'000), 60);
  EXPECT_EQ(cluster.replicas[3]->view(), 0u);
  EXPECT_TRUE(cluster.replicas[3]->view_active());
  EXPECT_FALSE(cluster.replicas[3]->voting());
  EXPECT_EQ(cluster.count_events(3, ReplicaEvent::Kind::kReturnedToView), 1u);
  EXPECT_EQ(cluster.replicas[3]->last_executed(), cluster.replicas[0]->last_executed());

  // It follows what commits, but its view change promised not to vote below view 1.
  votes_by_3.clear();
  for (int i = 2; i <= 6; ++i) {
    cluster.submit(cluster.request(static_cast<std::uint64_t>(i), op(i)));
    cluster.advance(Duration(5'000));
  }
  EXPECT_EQ(cluster.apps[3]->applied.size(), 6u);
  EXPECT_TRUE(votes_by_3.empty()) << "replica 3 voted in view 0 after asking for view 1";
  expect_same_applied(cluster);
  // The promise survives a restart.
  cluster.crash(3);
  cluster.start(3, /*recover=*/true);
  EXPECT_EQ(cluster.replicas[3]->view(), 0u);
  EXPECT_FALSE(cluster.replicas[3]->voting());

  // The next real view change takes it along, and it votes again from view 1 on.
  cluster.filter = [](PrincipalId from, PrincipalId, const SignedMessage&) { return from == 0; };
  cluster.submit(cluster.request(7, op(7)));
  cluster.advance(Duration(20'000), 40);
  for (ReplicaId r : {1u, 2u, 3u}) {
    EXPECT_EQ(cluster.replicas[r]->view(), 1u) << r;
    EXPECT_TRUE(cluster.replicas[r]->voting()) << r;
    EXPECT_EQ(count_applied(*cluster.apps[r], op(7)), 1u) << r;
  }
  expect_same_applied(cluster, {0});
}

}  // namespace
}  // namespace bftgate::bft::testing
