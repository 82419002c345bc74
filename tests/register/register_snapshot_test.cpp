// Snapshots of the adapter register: canonical, restorable, and refused when damaged or
// inconsistent, without touching the current state.
#include "bftgate/register/register_snapshot.hpp"

#include <gtest/gtest.h>

#include <functional>

#include "bftgate/register/register.hpp"
#include "register_test_support.hpp"

namespace bftgate::bft {
namespace {

using testing::contains;
using testing::RegisterTestCluster;
using testing::submit;

class RegisterSnapshotTest : public ::testing::Test {
 protected:
  // A history with every kind of entry and log record: released (v1), rejected by votes (v2),
  // superseded (v3), in beta with votes (v4), plus invalid operations.
  std::vector<Bytes> history() const {
    std::vector<Bytes> ops;
    AdapterRegister scratch(cluster_.config());  // to learn each entry's previous hash
    auto add = [&](Bytes op) {
      scratch.apply(1, op);
      ops.push_back(std::move(op));
    };
    auto vote = [&](std::uint32_t id, std::uint64_t version, Verdict verdict) {
      add(cluster_.vote(id, *scratch.entry(version), verdict));
    };
    add(cluster_.propose(1));
    vote(0, 1, Verdict::kFail);
    vote(1, 1, Verdict::kPass);
    vote(1, 1, Verdict::kPass);  // duplicate
    vote(2, 1, Verdict::kPass);
    vote(3, 1, Verdict::kPass);
    add(cluster_.propose(2));
    vote(2, 2, Verdict::kFail);
    vote(3, 2, Verdict::kFail);
    add(cluster_.propose(2));  // stale
    add(cluster_.propose(3));
    vote(0, 3, Verdict::kPass);
    add(cluster_.propose(4));
    vote(1, 4, Verdict::kPass);
    vote(3, 4, Verdict::kFail);
    add(Bytes{9, 9, 9});
    return ops;
  }

  void feed(AdapterRegister& reg, const std::vector<Bytes>& ops) const {
    std::uint32_t client = 0;
    for (const auto& op : ops) reg.apply(client++, op);
  }

  // Expects `snapshot` refused with `reason_part` and `reg` exactly as it was.
  void expect_refused(AdapterRegister& reg, ByteView snapshot, std::string_view reason_part) const {
    auto before = reg.snapshot();
    auto status = reg.restore(snapshot);
    ASSERT_FALSE(status.ok());
    EXPECT_TRUE(contains(status.error().message, reason_part)) << status.error().message;
    EXPECT_EQ(reg.snapshot(), before);
  }

  RegisterContents contents_of(const AdapterRegister& reg) const {
    return {.entries = reg.entries(),
            .log_base = reg.log_base(),
            .log = reg.log(),
            .epochs = reg.epochs(),
            .handover = std::nullopt};
  }

  RegisterTestCluster cluster_{4};
};

TEST_F(RegisterSnapshotTest, RestoreGivesAnIdenticalState) {
  AdapterRegister original(cluster_.config());
  feed(original, history());
  ASSERT_EQ(original.entries().size(), 5u);
  ASSERT_EQ(original.entry(1)->state, EntryState::kReleaseCommit);
  ASSERT_EQ(original.entry(2)->state, EntryState::kRejected);
  ASSERT_EQ(original.entry(3)->state, EntryState::kRejected);
  ASSERT_EQ(original.entry(4)->state, EntryState::kBetaTesting);

  auto snapshot = original.snapshot();
  AdapterRegister restored(cluster_.config());
  auto status = restored.restore(snapshot);
  ASSERT_TRUE(status.ok()) << status.error().message;
  EXPECT_EQ(restored.entries(), original.entries());
  EXPECT_EQ(restored.log(), original.log());
  EXPECT_EQ(restored.snapshot(), snapshot);
  EXPECT_EQ(restored.head_hash(), original.head_hash());
  EXPECT_EQ(restored.log_head_hash(), original.log_head_hash());
  ASSERT_NE(restored.latest_release(), nullptr);
  EXPECT_EQ(*restored.latest_release()->certificate, *original.latest_release()->certificate);
  EXPECT_TRUE(
      crypto::verify(*restored.latest_release()->certificate, cluster_.config().validator_set())
          .ok());

  // Both go on identically.
  auto next = cluster_.vote(2, *original.entry(4), Verdict::kPass);
  EXPECT_EQ(restored.apply(5, next), original.apply(5, next));
  EXPECT_EQ(restored.snapshot(), original.snapshot());

  // Restoring over a non-empty register replaces it entirely.
  AdapterRegister other(cluster_.config());
  submit(other, cluster_.propose(77));
  ASSERT_TRUE(other.restore(snapshot).ok());
  EXPECT_EQ(other.snapshot(), snapshot);
  EXPECT_EQ(other.entry(77), nullptr);
}

TEST_F(RegisterSnapshotTest, AFreshRegisterRoundTrips) {
  AdapterRegister fresh(cluster_.config());
  auto snapshot = fresh.snapshot();
  AdapterRegister restored(cluster_.config());
  submit(restored, cluster_.propose(1));
  ASSERT_TRUE(restored.restore(snapshot).ok());
  EXPECT_EQ(restored.entries().size(), 1u);
  EXPECT_TRUE(restored.log().empty());
  EXPECT_EQ(restored.snapshot(), snapshot);
}

TEST_F(RegisterSnapshotTest, RegistersFedTheSameOperationsAreByteIdentical) {
  auto ops = history();
  AdapterRegister a(cluster_.config());
  AdapterRegister b(cluster_.config());
  for (std::size_t i = 0; i < ops.size(); ++i) {
    auto client = static_cast<std::uint32_t>(i);
    EXPECT_EQ(a.apply(client, ops[i]), b.apply(client, ops[i]));
    EXPECT_EQ(a.snapshot(), b.snapshot());
  }
  // A different client id is part of the state (the log records it).
  AdapterRegister c(cluster_.config());
  for (const auto& op : ops) c.apply(99, op);
  EXPECT_NE(c.snapshot(), a.snapshot());
  EXPECT_EQ(c.entries(), a.entries());
}

// A checkpoint names the register's state by snapshot_with_digest() on the replica that took it
// and by snapshot_digest() on one that received the bytes: the two must agree, and any change to
// the bytes (even one that keeps the trailing checksum) must change the digest.
TEST_F(RegisterSnapshotTest, TheDigestOfOwnAndOfReceivedBytesAgreeAndBindEveryByte) {
  AdapterRegister source(cluster_.config());
  feed(source, history());
  auto [bytes, digest] = source.snapshot_with_digest();
  EXPECT_EQ(bytes, source.snapshot());
  EXPECT_EQ(source.snapshot_digest(bytes), digest);
  AdapterRegister other(cluster_.config());
  EXPECT_EQ(other.snapshot_digest(bytes), digest);
  EXPECT_NE(other.snapshot_with_digest().second, digest);
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    auto garbled = bytes;
    garbled[i] ^= 1;
    ASSERT_NE(other.snapshot_digest(garbled), digest) << "byte " << i << " flipped kept the digest";
  }
  EXPECT_NE(other.snapshot_digest(ByteView(bytes).first(bytes.size() - 1)), digest);
  EXPECT_NE(other.snapshot_digest(Bytes{}), digest);
}

TEST_F(RegisterSnapshotTest, TruncatedSnapshotsAreRefused) {
  AdapterRegister source(cluster_.config());
  feed(source, history());
  auto snapshot = source.snapshot();
  AdapterRegister target(cluster_.config());
  feed(target, {cluster_.propose(50)});
  for (std::size_t size = 0; size < snapshot.size(); ++size) {
    auto status = target.restore(ByteView(snapshot).first(size));
    ASSERT_FALSE(status.ok()) << "a " << size << "-byte prefix was accepted";
  }
  expect_refused(target, ByteView(snapshot).first(snapshot.size() - 1), "checksum mismatch");
  expect_refused(target, Bytes{}, "shorter than its checksum");
  auto longer = snapshot;
  longer.push_back(0);
  expect_refused(target, longer, "checksum mismatch");
  EXPECT_EQ(target.entries().size(), 2u);
  EXPECT_EQ(target.entries().back().version, 50u);
}

TEST_F(RegisterSnapshotTest, GarbledSnapshotsAreRefused) {
  AdapterRegister source(cluster_.config());
  feed(source, history());
  auto snapshot = source.snapshot();
  AdapterRegister target(cluster_.config());
  feed(target, {cluster_.propose(50)});
  auto before = target.snapshot();
  for (std::size_t i = 0; i < snapshot.size(); ++i) {
    auto garbled = snapshot;
    garbled[i] ^= static_cast<std::uint8_t>(1u << (i % 8));
    ASSERT_FALSE(target.restore(garbled).ok()) << "byte " << i << " flipped was accepted";
  }
  EXPECT_EQ(target.snapshot(), before);
}

// Snapshots with a valid checksum but contents the register could not have produced.
TEST_F(RegisterSnapshotTest, InconsistentSnapshotsAreRefused) {
  AdapterRegister source(cluster_.config());
  feed(source, history());
  const auto good = contents_of(source);
  ASSERT_TRUE(decode_snapshot(cluster_.config(), encode_snapshot(cluster_.config(), good)).ok());
  AdapterRegister target(cluster_.config());
  feed(target, {cluster_.propose(50)});

  // Each tampered state is encoded with a correct checksum: only the consistency checks can
  // refuse it.
  auto check = [&](std::string_view reason_part,
                   const std::function<void(RegisterContents&)>& tamper) {
    SCOPED_TRACE(reason_part);
    auto contents = good;
    tamper(contents);
    expect_refused(target, encode_snapshot(cluster_.config(), contents), reason_part);
  };
  check("not the genesis entry", [](RegisterContents& c) { c.entries[0].reason = "not genesis"; });
  check("not the genesis entry", [](RegisterContents& c) { c.entries.clear(); });
  check("entry_hash is wrong", [](RegisterContents& c) { c.entries[2].source = "elsewhere"; });
  check("does not link", [](RegisterContents& c) {
    c.entries[2].previous_entry_hash = crypto::Digest{};
    c.entries[2].entry_hash = compute_entry_hash(c.entries[2]);
  });
  check("versions do not strictly increase", [](RegisterContents& c) {
    c.entries[2].version = c.entries[1].version;
    c.entries[2].entry_hash = compute_entry_hash(c.entries[2]);
  });
  check("only the newest entry can be BETA_TESTING",
        [](RegisterContents& c) { c.entries[3].state = EntryState::kBetaTesting; });
  check("only genesis is STABLE",
        [](RegisterContents& c) { c.entries[2].state = EntryState::kStable; });
  check("voted twice",
        [](RegisterContents& c) { c.entries[4].votes.push_back(c.entries[4].votes[0]); });
  check("unknown validator", [](RegisterContents& c) { c.entries[4].votes[0].validator = 17; });
  check("must come with PASS",
        [](RegisterContents& c) { c.entries[4].votes[0].release_approval.reset(); });
  check("contradict state",
        [](RegisterContents& c) { c.entries[2].state = EntryState::kReleaseCommit; });
  check("contradict state", [](RegisterContents& c) { c.entries[1].votes.pop_back(); });
  check("contradict state", [](RegisterContents& c) {
    // A superseded-looking rejection with no newer entry.
    c.entries.pop_back();
    c.entries[3].state = EntryState::kRejected;
  });
  check("not the one its PASS votes make",
        [](RegisterContents& c) { c.entries[1].certificate.reset(); });
  check("not the one its PASS votes make", [](RegisterContents& c) {
    c.entries[1].certificate->statement.previous_entry_hash = crypto::Digest{};
  });
  check("not the one its PASS votes make", [&](RegisterContents& c) {
    c.entries[1].certificate->add_signature(
        0, crypto::sign_release(cluster_.key(0), c.entries[1].certificate->statement));
  });
  check("has a certificate",
        [&](RegisterContents& c) { c.entries[2].certificate = c.entries[1].certificate; });
  check("index is", [](RegisterContents& c) { c.log[3].index = 7; });
  check("record_hash is wrong", [](RegisterContents& c) { c.log[3].reason = "rewritten"; });
  check("previous_hash does not link", [](RegisterContents& c) {
    c.log.erase(c.log.begin() + 3);
    for (std::size_t i = 3; i < c.log.size(); ++i) c.log[i].index = i;
  });
  check("do not match", [](RegisterContents& c) {
    c.log.pop_back();
    c.log.pop_back();
  });
  check("do not match", [](RegisterContents& c) {
    // Re-chain the log with one valid vote turned invalid.
    for (std::size_t i = 0; i < c.log.size(); ++i) {
      if (i == 1) c.log[i].valid = false;
      c.log[i].previous_hash = i == 0 ? crypto::Digest{} : c.log[i - 1].record_hash;
      c.log[i].record_hash = compute_record_hash(c.log[i]);
    }
  });
  // The re-chained log above with nothing changed is accepted: the checks are not spurious.
  auto rechained = good;
  for (std::size_t i = 0; i < rechained.log.size(); ++i)
    rechained.log[i].record_hash = compute_record_hash(rechained.log[i]);
  EXPECT_TRUE(
      decode_snapshot(cluster_.config(), encode_snapshot(cluster_.config(), rechained)).ok());
}

TEST_F(RegisterSnapshotTest, TheLogIsPrunedButStaysOneHashChain) {
  AdapterRegister reg(cluster_.config());
  feed(reg, history());
  const auto total = kRetainedLogRecords + 3 * kLogPruneStep + 17;
  for (std::size_t i = reg.log().size(); i < total; ++i)
    reg.apply(9, Bytes{static_cast<std::uint8_t>(i), 1});
  // Bounded: never more than the retained records plus one prune step.
  EXPECT_LE(reg.log().size(), kRetainedLogRecords + kLogPruneStep);
  EXPECT_EQ(reg.log_base().records + reg.log().size(), total);
  EXPECT_EQ(reg.log().front().index, reg.log_base().records);
  EXPECT_EQ(reg.log().front().previous_hash, reg.log_base().last_hash);
  // The pruned history's counts are kept: the entries still match the log.
  EXPECT_EQ(reg.log_base().valid_proposals, 4u);

  // Snapshot round trip keeps the base; the restored register continues identically.
  AdapterRegister restored(cluster_.config());
  ASSERT_TRUE(restored.restore(reg.snapshot()).ok());
  EXPECT_EQ(restored.log_base(), reg.log_base());
  Bytes more{7, 7};
  EXPECT_EQ(restored.apply(3, more), reg.apply(3, more));
  EXPECT_EQ(restored.snapshot(), reg.snapshot());

  // A tampered base is refused.
  auto check = [&](const std::function<void(RegisterContents&)>& tamper, std::string_view reason) {
    auto contents = contents_of(reg);
    tamper(contents);
    auto decoded = decode_snapshot(cluster_.config(), encode_snapshot(cluster_.config(), contents));
    ASSERT_FALSE(decoded.ok());
    EXPECT_TRUE(contains(decoded.error().message, reason)) << decoded.error().message;
  };
  check([](RegisterContents& c) { c.log_base.invalid += 1; }, "do not add up");
  check([](RegisterContents& c) { c.log_base.last_hash.bytes[0] ^= 1; },
        "previous_hash does not link");
  check(
      [](RegisterContents& c) {
        c.log_base.valid_votes += 1;
        c.log_base.invalid -= 1;
      },
      "do not match");
}

TEST_F(RegisterSnapshotTest, SnapshotsAreBoundToTheirClusterAndEpoch) {
  AdapterRegister source(cluster_.config());
  feed(source, history());
  auto other_epoch = cluster_.config();
  other_epoch.epoch += 1;
  AdapterRegister elsewhere(other_epoch);
  expect_refused(elsewhere, source.snapshot(), "this register is cluster 'register-test' epoch 8");
  auto other_cluster = cluster_.config();
  other_cluster.cluster_id = "another";
  AdapterRegister foreign(other_cluster);
  expect_refused(foreign, source.snapshot(), "it is for cluster 'register-test'");
}

TEST_F(RegisterSnapshotTest, WrongMagicOrFormatVersionIsRefused) {
  AdapterRegister source(cluster_.config());
  // The body without its checksum, changed at `at`, sealed again.
  auto reseal = [](const Bytes& snapshot, std::size_t at, std::uint8_t value) {
    Bytes body(snapshot.begin(), snapshot.end() - crypto::kDigestSize);
    body.at(at) = value;
    auto checksum = crypto::sha256(body);
    body.insert(body.end(), checksum.bytes.begin(), checksum.bytes.end());
    return body;
  };
  expect_refused(source, reseal(source.snapshot(), 0, 'X'), "bad magic");
  expect_refused(source, reseal(source.snapshot(), 4, 4), "unsupported format version 4");
  expect_refused(source, reseal(source.snapshot(), 4, 2), "unsupported format version 2");
}

}  // namespace
}  // namespace bftgate::bft
