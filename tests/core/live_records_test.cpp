// Log compaction through Replica::live_records(): a compacted log rebuilds the replica exactly,
// and replicas that compact and crash right after never contradict what they signed.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <random>
#include <tuple>

#include "bftgate/core/persist_codec.hpp"
#include "test_cluster.hpp"

namespace bftgate::bft::testing {
namespace {

// One line per record: what it is, and a hash of its bytes.
std::vector<std::string> encoded(const std::vector<PersistRecord>& records) {
  std::vector<std::string> out;
  for (const auto& record : records) {
    auto hash = crypto::sha256(encode_record(record)).hex().substr(0, 8);
    std::string what;
    switch (record.kind) {
      case PersistRecord::Kind::kView:
        what = fmt::format("view {} active {}", record.view, record.view_active);
        break;
      case PersistRecord::Kind::kSent:
        what = "sent " + describe(*record.message);
        break;
      case PersistRecord::Kind::kPrepared:
        what = "prepared " + describe(*record.prepared.pre_prepare);
        break;
      case PersistRecord::Kind::kExecuted:
        what = fmt::format("executed {}", record.seq);
        break;
      case PersistRecord::Kind::kStable:
        what = fmt::format("stable {}", record.seq);
        break;
    }
    out.push_back(what + " #" + hash);
  }
  return out;
}

// Rebuilds replica i from `records` beside the running one and compares them.
void expect_rebuilt_exactly(TestCluster& cluster, ReplicaId i,
                            const std::vector<PersistRecord>& records, const std::string& where) {
  LogApp app;
  Replica rebuilt(cluster.options, cluster.signers[i], cluster.verifier, app);
  rebuilt.restore(records);
  const auto& live = *cluster.replicas[i];
  EXPECT_EQ(app.applied, cluster.apps[i]->applied) << where;
  EXPECT_EQ(rebuilt.view(), live.view()) << where;
  EXPECT_EQ(rebuilt.view_active(), live.view_active()) << where;
  EXPECT_EQ(rebuilt.voting(), live.voting()) << where;
  EXPECT_EQ(rebuilt.last_executed(), live.last_executed()) << where;
  EXPECT_EQ(rebuilt.stable_seq(), live.stable_seq()) << where;
  EXPECT_EQ(encoded(rebuilt.live_records()), encoded(live.live_records())) << where;
}

// Every (sender, kind, view, seq) a replica signed a prepare, commit or pre-prepare for, with the
// batch digest: a second, different digest is a contradiction.
struct Signed {
  std::map<std::tuple<PrincipalId, int, View, Seq>, Digest> first;
  std::vector<std::string> contradictions;

  void saw(PrincipalId from, const SignedMessage& m) {
    std::optional<std::tuple<PrincipalId, int, View, Seq>> key;
    Digest digest;
    if (const auto* p = m.as<Prepare>()) {
      key = {from, 1, p->view, p->seq};
      digest = p->batch_digest;
    } else if (const auto* c = m.as<Commit>()) {
      key = {from, 2, c->view, c->seq};
      digest = c->batch_digest;
    } else if (const auto* pp = m.as<PrePrepare>()) {
      key = {from, 3, pp->view, pp->seq};
      digest = pp->batch_digest;
    }
    if (!key) return;
    auto [it, inserted] = first.emplace(*key, digest);
    if (!inserted && it->second != digest) {
      contradictions.push_back(fmt::format("replica {} signed two {} at view {} seq {}", from,
                                           std::get<1>(*key), std::get<2>(*key),
                                           std::get<3>(*key)));
    }
  }
};

TEST(LiveRecords, AFreshReplicaHasOnlyItsView) {
  TestCluster cluster(4);
  auto records = cluster.replicas[0]->live_records();
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].kind, PersistRecord::Kind::kView);
  expect_rebuilt_exactly(cluster, 0, records, "fresh");
}

// Random runs: requests, a primary silenced now and then (view changes), replicas compacting
// their logs to live_records() and crashing right after. Checked after every step: the live
// records rebuild each replica exactly; at the end: no replica ever contradicted itself, and all
// hold the same state.
TEST(LiveRecords, CompactionsAndCrashesRightAfterLoseNothingAndContradictNothing) {
  for (std::uint64_t seed = 1; seed <= 40; ++seed) {
    std::mt19937_64 rng(seed);
    TestCluster cluster(4);
    Signed signed_messages;
    ReplicaId silenced = 99;
    cluster.filter = [&](PrincipalId from, PrincipalId, const SignedMessage& m) {
      signed_messages.saw(from, m);
      return from == silenced;
    };
    std::uint64_t next_request = 1;
    std::size_t compactions = 0;
    for (int step = 0; step < 60; ++step) {
      auto where = fmt::format("seed {} step {}", seed, step);
      switch (rng() % 6) {
        case 0:
        case 1:
        case 2:
          cluster.submit(cluster.request(next_request, "op-" + std::to_string(next_request)));
          ++next_request;
          break;
        case 3:  // silence the primary of some replica's view for a while, or heal
          silenced =
              silenced == 99
                  ? cluster.replicas[rng() % 4]->primary_of(cluster.replicas[rng() % 4]->view())
                  : 99;
          break;
        case 4: {  // compact one replica's log, then maybe crash it at once and restart it
          auto r = static_cast<ReplicaId>(rng() % 4);
          if (cluster.down.contains(r)) break;
          cluster.disks[r] = cluster.replicas[r]->live_records();
          ++compactions;
          if (rng() % 2 == 0) {
            cluster.crash(r);
            cluster.start(r, /*recover=*/true);
          }
          break;
        }
        default:
          break;
      }
      cluster.advance(Duration(20'000), 1 + static_cast<int>(rng() % 4));
      for (ReplicaId r = 0; r < 4; ++r) {
        expect_rebuilt_exactly(cluster, r, cluster.replicas[r]->live_records(), where);
        // The full log rebuilds the same replica as its live records.
        expect_rebuilt_exactly(cluster, r, cluster.disks[r], where + " (full log)");
      }
      if (::testing::Test::HasFailure()) return;
    }
    silenced = 99;
    cluster.advance(Duration(20'000), 100);
    EXPECT_GT(compactions, 0u);
    EXPECT_TRUE(signed_messages.contradictions.empty())
        << "seed " << seed << ": " << signed_messages.contradictions.front();
    for (ReplicaId r = 1; r < 4; ++r) {
      EXPECT_EQ(cluster.apps[r]->applied, cluster.apps[0]->applied) << "seed " << seed;
      EXPECT_EQ(cluster.replicas[r]->view(), cluster.replicas[0]->view()) << "seed " << seed;
    }
    EXPECT_EQ(cluster.apps[0]->applied.size(), next_request - 1) << "seed " << seed;
    if (::testing::Test::HasFailure()) return;
  }
}

}  // namespace
}  // namespace bftgate::bft::testing
