#include "bftgate/core/replica.hpp"

#include <gtest/gtest.h>

#include "replica_test_support.hpp"
#include "test_cluster.hpp"

namespace bftgate::bft::testing {
namespace {

TEST(Replica, NormalCaseCommitsTheSameSequenceEverywhere) {
  TestCluster cluster(4);
  for (int i = 1; i <= 10; ++i)
    cluster.submit(cluster.request(static_cast<std::uint64_t>(i), op(i)));
  cluster.advance(Duration(10'000), 5);
  for (std::size_t r = 0; r < 4; ++r) {
    ASSERT_EQ(cluster.apps[r]->applied.size(), 10u) << "replica " << r;
    EXPECT_EQ(cluster.replicas[r]->view(), 0u);
  }
  expect_same_applied(cluster);
  // f+1 = 2 replies (in fact all four) per request reached the client.
  EXPECT_GE(cluster.replies.size(), 10u * 2);
}

TEST(Replica, DuplicateRequestsExecuteOnceAndTheReplyIsResent) {
  TestCluster cluster(4);
  auto request = cluster.request(1, "once");
  cluster.submit(request);
  cluster.submit(request);
  cluster.advance(Duration(10'000), 3);
  auto replies_before = cluster.replies.size();
  cluster.submit(request);  // a retry after execution
  for (std::size_t r = 0; r < 4; ++r) EXPECT_EQ(count_applied(*cluster.apps[r], "once"), 1u);
  EXPECT_EQ(cluster.replies.size(), replies_before + 4);  // every replica answers the retry
  // An older request id from the same client is ignored, not executed.
  cluster.submit(cluster.request(1, "stale"));
  for (std::size_t r = 0; r < 4; ++r) EXPECT_EQ(count_applied(*cluster.apps[r], "stale"), 0u);
}

TEST(Replica, RequestsOfOneClientThatArriveOutOfOrderEachExecuteOnceAndGetTheirReply) {
  // Concurrent submits under one operator key: a higher request id may execute first. The lower
  // one must still execute (not be taken for an old duplicate) and get its own reply.
  TestCluster cluster(4);
  cluster.submit(cluster.request(500, "later-id-first"));
  cluster.advance(Duration(10'000), 3);
  cluster.submit(cluster.request(300, "earlier-id-second"));
  cluster.advance(Duration(10'000), 3);
  for (std::size_t r = 0; r < 4; ++r) {
    EXPECT_EQ(count_applied(*cluster.apps[r], "later-id-first"), 1u) << r;
    EXPECT_EQ(count_applied(*cluster.apps[r], "earlier-id-second"), 1u) << r;
  }
  std::set<std::uint64_t> replied;
  for (const auto& reply : cluster.replies) replied.insert(reply->as<Reply>()->request_id);
  EXPECT_TRUE(replied.contains(300));
  EXPECT_TRUE(replied.contains(500));
  // Both are remembered: a retry of either is answered, not executed again.
  cluster.submit(cluster.request(300, "earlier-id-second"));
  cluster.advance(Duration(10'000), 3);
  for (std::size_t r = 0; r < 4; ++r)
    EXPECT_EQ(count_applied(*cluster.apps[r], "earlier-id-second"), 1u) << r;
  expect_same_applied(cluster);
}

TEST(Replica, BatchesRequestsWhenThePipelineIsFull) {
  TestCluster cluster(4, FaultModel::kBft, [](ReplicaOptions& o) {
    o.max_in_flight = 1;
    o.max_batch = 8;
  });
  // Hold back everything the primary sends until all requests have arrived.
  bool hold = true;
  cluster.filter = [&](PrincipalId from, PrincipalId, const SignedMessage&) {
    return hold && from == 0;
  };
  for (int i = 1; i <= 16; ++i)
    cluster.submit(cluster.request(static_cast<std::uint64_t>(i), op(i)));
  hold = false;
  cluster.advance(Duration(25'000), 10);
  for (std::size_t r = 0; r < 4; ++r) EXPECT_EQ(cluster.apps[r]->applied.size(), 16u) << r;
  // 16 requests in far fewer pre-prepares than requests.
  EXPECT_LT(cluster.committed[1].size(), 8u);
  expect_same_applied(cluster);
}

TEST(Replica, ViewChangeReplacesASilentPrimary) {
  TestCluster cluster(4);
  cluster.filter = [](PrincipalId from, PrincipalId, const SignedMessage&) { return from == 0; };
  cluster.submit(cluster.request(1, "survives"));
  EXPECT_TRUE(cluster.apps[1]->applied.empty());
  cluster.advance(Duration(20'000), 20);
  for (ReplicaId r : {1u, 2u, 3u}) {
    EXPECT_EQ(count_applied(*cluster.apps[r], "survives"), 1u) << r;
    EXPECT_GE(cluster.replicas[r]->view(), 1u);
    EXPECT_TRUE(cluster.replicas[r]->view_active());
    EXPECT_GE(cluster.count_events(r, ReplicaEvent::Kind::kNewViewEntered), 1u);
  }
  EXPECT_GT(cluster.sent_by_type[static_cast<std::size_t>(MessageType::kViewChange)], 0u);
  EXPECT_GT(cluster.sent_by_type[static_cast<std::size_t>(MessageType::kNewView)], 0u);
}

TEST(Replica, ViewChangeCarriesPreparedRequestsIntoTheNewView) {
  TestCluster cluster(4);
  // Everything prepares, but commits reach only replica 3: it alone commits the batches.
  cluster.filter = [](PrincipalId, PrincipalId to, const SignedMessage& m) {
    return m.type() == MessageType::kCommit && to != 3;
  };
  for (int i = 1; i <= 3; ++i)
    cluster.submit(cluster.request(static_cast<std::uint64_t>(i), op(i)));
  ASSERT_EQ(cluster.apps[3]->applied.size(), 3u);
  for (ReplicaId r : {0u, 1u, 2u}) EXPECT_TRUE(cluster.apps[r]->applied.empty());
  std::map<Seq, Digest> committed_by_3;
  for (const auto& batch : cluster.committed[3]) committed_by_3[batch.seq] = batch.batch_digest;

  // Now the primary goes silent (and no catch-up may shortcut the view change): the next primary
  // must re-issue exactly those batches at exactly those sequence numbers, or replicas 1 and 2
  // would disagree with replica 3.
  cluster.filter = [](PrincipalId from, PrincipalId, const SignedMessage& m) {
    return from == 0 || m.type() == MessageType::kCatchUp ||
           (m.type() == MessageType::kCommit && m.as<Commit>()->view == 0);
  };
  cluster.advance(Duration(20'000), 30);
  for (ReplicaId r : {1u, 2u}) {
    ASSERT_EQ(cluster.apps[r]->applied.size(), 3u) << r;
    EXPECT_GE(cluster.replicas[r]->view(), 1u);
    for (const auto& batch : cluster.committed[r]) {
      auto it = committed_by_3.find(batch.seq);
      if (it != committed_by_3.end()) {
        EXPECT_EQ(batch.batch_digest, it->second) << "replica " << r << " seq " << batch.seq;
      }
    }
  }
  expect_same_applied(cluster, {0});
}

// With batch_per_burst the primary proposes at the end of a burst: requests that arrived
// together go into one batch. Without it each of the first max_in_flight (4) requests is a batch
// and the rest one more.
TEST(Replica, ABurstOfRequestsBecomesOneBatchWithBatchPerBurst) {
  for (bool per_burst : {false, true}) {
    TestCluster cluster(4, FaultModel::kBft,
                        [per_burst](ReplicaOptions& o) { o.batch_per_burst = per_burst; });
    std::vector<MessagePtr> burst;
    for (std::uint64_t i = 1; i <= 6; ++i)
      burst.push_back(cluster.request(i, op(static_cast<int>(i))));
    for (const auto& request : burst) cluster.replicas[0]->step(request);
    cluster.replicas[0]->end_of_burst();
    cluster.drain(0);
    for (const auto& request : burst) {
      for (std::size_t r = 1; r < 4; ++r)
        cluster.queue.push_back({kOperatorPrincipal, static_cast<PrincipalId>(r), request});
    }
    cluster.pump();
    for (std::size_t r = 0; r < 4; ++r) {
      std::size_t requests = 0;
      for (const auto& batch : cluster.committed[static_cast<ReplicaId>(r)])
        requests += batch.requests.size();
      EXPECT_EQ(requests, 6u) << r;
      EXPECT_EQ(cluster.committed[static_cast<ReplicaId>(r)].size(), per_burst ? 1u : 5u)
          << "replica " << r << (per_burst ? " with" : " without") << " batch_per_burst";
    }
  }
}

// With batch_by_burst (Nagle's rule) a partial batch waits while one of the primary's batches is
// in flight, gathering what arrives meanwhile; a full batch is proposed at once. Without it every
// burst becomes a batch of its own until max_in_flight.
TEST(Replica, WhileABatchIsInFlightOnlyFullBatchesAreProposed) {
  for (bool nagle : {false, true}) {
    TestCluster cluster(4, FaultModel::kBft, [nagle](ReplicaOptions& o) {
      o.max_batch = 4;
      if (nagle) o.batch_by_burst();
      o.batch_per_burst = true;
    });
    auto burst = [&](std::uint64_t first, std::uint64_t last) {
      for (auto i = first; i <= last; ++i) {
        auto request = cluster.request(i, op(static_cast<int>(i)));
        cluster.replicas[0]->step(request);
        for (std::size_t r = 1; r < 4; ++r)
          cluster.queue.push_back({kOperatorPrincipal, static_cast<PrincipalId>(r), request});
      }
      cluster.replicas[0]->end_of_burst();
      cluster.drain(0);
    };
    burst(1, 1);  // seq 1, in flight: nothing is delivered until pump()
    burst(2, 2);
    burst(3, 3);
    burst(4, 7);  // with 2 and 3 waiting: 6 unassigned, a full batch
    cluster.pump();
    cluster.advance(Duration(5'000), 3);
    std::vector<std::size_t> sizes;
    for (const auto& batch : cluster.committed[0]) sizes.push_back(batch.requests.size());
    EXPECT_EQ(sizes,
              nagle ? (std::vector<std::size_t>{1, 4, 2}) : (std::vector<std::size_t>{1, 1, 1, 4}))
        << (nagle ? "with" : "without") << " Nagle's rule";
    expect_same_applied(cluster);
  }
}

TEST(Replica, CheckpointsBecomeStableAndTheLogIsCollected) {
  TestCluster cluster(4);  // K = 4, L = 8
  for (int i = 1; i <= 40; ++i) {
    cluster.submit(cluster.request(static_cast<std::uint64_t>(i), op(i)));
    cluster.advance(Duration(5'000));
  }
  cluster.advance(Duration(10'000), 5);
  for (std::size_t r = 0; r < 4; ++r) {
    const auto& replica = *cluster.replicas[r];
    EXPECT_EQ(cluster.apps[r]->applied.size(), 40u);
    EXPECT_GE(replica.stable_seq(), replica.last_executed() - replica.options().checkpoint_interval)
        << r;
    EXPECT_EQ(replica.stable_seq() % 4, 0u);
    EXPECT_LE(replica.log_size(), replica.options().watermark_window) << r;
    EXPECT_GE(
        cluster.count_events(static_cast<ReplicaId>(r), ReplicaEvent::Kind::kCheckpointStable), 5u);
    // Each executed batch first had its commit quorum, raised once.
    EXPECT_EQ(cluster.count_events(static_cast<ReplicaId>(r), ReplicaEvent::Kind::kCommitted),
              cluster.committed[static_cast<ReplicaId>(r)].size())
        << r;
  }
}

TEST(Replica, StateTransferBringsALaggardPastTheLowWatermark) {
  TestCluster cluster(4);
  cluster.filter = [](PrincipalId from, PrincipalId to, const SignedMessage&) {
    return from == 3 || to == 3;
  };
  for (int i = 1; i <= 30; ++i) {
    cluster.submit(cluster.request(static_cast<std::uint64_t>(i), op(i)));
    cluster.advance(Duration(5'000));
  }
  ASSERT_TRUE(cluster.apps[3]->applied.empty());
  ASSERT_GT(cluster.replicas[0]->stable_seq(),
            cluster.options.watermark_window);  // beyond any log replay
  cluster.filter = nullptr;
  cluster.advance(Duration(20'000), 10);
  EXPECT_EQ(cluster.apps[3]->applied.size(), 30u);
  EXPECT_GE(cluster.count_events(3, ReplicaEvent::Kind::kStateTransferred), 1u);
  expect_same_applied(cluster);
  // And it takes part again afterwards.
  cluster.submit(cluster.request(31, op(31)));
  cluster.advance(Duration(10'000), 5);
  expect_same_applied(cluster);
  EXPECT_EQ(cluster.apps[3]->applied.size(), 31u);
}

TEST(Replica, CftModeCommitsWithAMajority) {
  TestCluster cluster(3, FaultModel::kCft);
  ASSERT_EQ(cluster.options.quorum, 2u);
  cluster.crash(2);
  cluster.submit(cluster.request(1, "majority"));
  cluster.advance(Duration(10'000), 3);
  EXPECT_EQ(count_applied(*cluster.apps[0], "majority"), 1u);
  EXPECT_EQ(count_applied(*cluster.apps[1], "majority"), 1u);
}

// A driver may drain every Ready into one buffer: each take hands over exactly what the
// replica produced since the last one, never a message or record of an earlier Ready.
TEST(Replica, AReadyDrainedIntoABufferHoldsOnlyWhatIsNew) {
  TestCluster cluster(4);
  auto& primary = *cluster.replicas[0];
  Ready buffer;
  primary.step(cluster.request(1, "first"));
  primary.end_of_burst();
  primary.take_ready(buffer);
  ASSERT_EQ(buffer.messages.size(), 1u);
  const auto first = buffer.messages[0].message;
  EXPECT_EQ(first->type(), MessageType::kPrePrepare);
  EXPECT_FALSE(buffer.persist.empty());

  EXPECT_FALSE(primary.has_ready());
  primary.take_ready(buffer);
  EXPECT_TRUE(buffer.empty());

  primary.step(cluster.request(2, "second"));
  primary.end_of_burst();
  primary.take_ready(buffer);
  ASSERT_EQ(buffer.messages.size(), 1u);
  EXPECT_NE(buffer.messages[0].message, first);
  for (const auto& record : buffer.persist) EXPECT_NE(record.message, first);
  primary.take_ready(buffer);
  EXPECT_TRUE(buffer.empty());
}

}  // namespace
}  // namespace bftgate::bft::testing
