// The adapter register's rules: proposals, the log and the hash chains, replies to any input
// (the votes are register_votes_test.cpp).
#include "bftgate/register/register.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <limits>
#include <random>

#include "register_test_fixture.hpp"
#include "register_test_support.hpp"

namespace bftgate::bft {
namespace {

using testing::adapter_digest;
using testing::contains;
using testing::RegisterTest;
using testing::RegisterTestCluster;
using testing::submit;

TEST_F(RegisterTest, StartsWithTheGenesisEntry) {
  ASSERT_EQ(reg().entries().size(), 1u);
  const auto& genesis = reg().entries().front();
  EXPECT_EQ(genesis.version, 0u);
  EXPECT_EQ(genesis.artifact_digest, crypto::Digest{});
  EXPECT_EQ(genesis.state, EntryState::kStable);
  EXPECT_EQ(genesis.previous_entry_hash, crypto::Digest{});
  EXPECT_EQ(genesis.entry_hash, compute_entry_hash(genesis));
  EXPECT_EQ(reg().head_hash(), genesis.entry_hash);
  EXPECT_EQ(reg().latest_release(), nullptr);
  EXPECT_EQ(reg().current_beta(), nullptr);
  EXPECT_TRUE(reg().log().empty());
  EXPECT_EQ(reg().log_head_hash(), crypto::Digest{});
}

TEST_F(RegisterTest, ProposalCreatesABetaEntry) {
  auto reply = propose(1);
  EXPECT_TRUE(reply.valid) << reply.reason;
  EXPECT_EQ(reply.entry_version, 1u);
  EXPECT_EQ(reply.entry_state, EntryState::kBetaTesting);
  ASSERT_EQ(reg().entries().size(), 2u);
  const auto& added = reg().entries().back();
  EXPECT_EQ(added.version, 1u);
  EXPECT_EQ(added.artifact_digest, adapter_digest(1));
  EXPECT_EQ(added.size, 4096u);
  EXPECT_EQ(added.source, "store://adapters");
  EXPECT_EQ(added.state, EntryState::kBetaTesting);
  EXPECT_TRUE(added.votes.empty());
  EXPECT_FALSE(added.certificate.has_value());
  EXPECT_EQ(reg().current_beta(), &added);
  EXPECT_EQ(reg().entry(1), &added);
  EXPECT_EQ(reg().entry(2), nullptr);
  EXPECT_EQ(reg().head_hash(), added.entry_hash);
}

TEST_F(RegisterTest, VersionsMustStrictlyIncrease) {
  ASSERT_TRUE(propose(5).valid);
  expect_refused(cluster().propose(5, adapter_digest(5, "other")),
                 "version 5 is not above the latest registered version 5");
  expect_refused(cluster().propose(3), "version 3 is not above");
  expect_refused(cluster().propose(0), "version 0 is not above");
  // Version 5 rejected: its number is still spent.
  ASSERT_TRUE(vote(0, 5, Verdict::kFail).valid);
  ASSERT_TRUE(vote(1, 5, Verdict::kFail).valid);
  ASSERT_EQ(entry(5).state, EntryState::kRejected);
  expect_refused(cluster().propose(5, adapter_digest(5, "retry")),
                 "not above the latest registered version 5");
  expect_refused(cluster().propose(4), "not above");
  EXPECT_TRUE(propose(6).valid);
  // Gaps are allowed.
  EXPECT_TRUE(propose(100).valid);
}

TEST_F(RegisterTest, ProposingTheArtifactUnderValidationAgainNamesItsEntry) {
  // An operator's retry (a lost reply, a timeout) proposes the same bytes under the next free
  // version: the register names the entry it already has instead of opening a second one.
  ASSERT_TRUE(propose(1).valid);
  auto entries = reg().entries().size();
  auto log_size = reg().log().size();
  auto retry = submit(reg(), cluster().propose(2, adapter_digest(1)));
  EXPECT_FALSE(retry.valid) << retry.reason;  // it changes nothing
  EXPECT_EQ(reg().log().size(), log_size + 1);
  EXPECT_EQ(retry.entry_version, 1u);
  EXPECT_EQ(retry.entry_state, EntryState::kBetaTesting);
  EXPECT_NE(retry.reason.find("already registered as version 1"), std::string::npos)
      << retry.reason;
  EXPECT_EQ(reg().entries().size(), entries);
  EXPECT_EQ(entry(1).state, EntryState::kBetaTesting);  // not superseded by its own retry
  // Released: a retry still names it.
  for (std::uint32_t v : {0u, 1u, 2u}) ASSERT_TRUE(vote(v, 1, Verdict::kPass).valid);
  ASSERT_EQ(entry(1).state, EntryState::kReleaseCommit);
  EXPECT_EQ(submit(reg(), cluster().propose(7, adapter_digest(1))).entry_version, 1u);
  EXPECT_EQ(reg().entries().size(), entries);
  // The register's own snapshot, retries included, restores (each valid proposal is one entry).
  AdapterRegister restored(cluster().config());
  auto status = restored.restore(reg().snapshot());
  ASSERT_TRUE(status.ok()) << status.error().message;
  EXPECT_EQ(restored.head_hash(), reg().head_hash());
}

TEST_F(RegisterTest, OlderOrRejectedArtifactsCanBeProposedAgainAsNewVersions) {
  ASSERT_TRUE(propose(1).valid);
  for (std::uint32_t v : {0u, 1u, 2u}) ASSERT_TRUE(vote(v, 1, Verdict::kPass).valid);
  ASSERT_TRUE(propose(2).valid);
  for (std::uint32_t v : {0u, 1u, 2u}) ASSERT_TRUE(vote(v, 2, Verdict::kPass).valid);
  // Rolling back to version 1's bytes is a deliberate new version, not a retry.
  auto rollback = submit(reg(), cluster().propose(3, adapter_digest(1)));
  EXPECT_TRUE(rollback.valid);
  EXPECT_EQ(rollback.entry_version, 3u);
  // A rejected artifact may be tried again.
  ASSERT_TRUE(vote(0, 3, Verdict::kFail).valid);
  ASSERT_TRUE(vote(1, 3, Verdict::kFail).valid);
  ASSERT_EQ(entry(3).state, EntryState::kRejected);
  EXPECT_EQ(submit(reg(), cluster().propose(4, adapter_digest(1))).entry_version, 4u);
}

TEST_F(RegisterTest, VersionsAboveTheCapAreRefused) {
  expect_refused(cluster().propose(kMaxAdapterVersion + 1), "above the highest allowed version");
  expect_refused(cluster().propose(std::numeric_limits<std::uint64_t>::max()),
                 "above the highest allowed version");
  EXPECT_TRUE(propose(kMaxAdapterVersion).valid);
}

TEST_F(RegisterTest, ProposalNeedsTheOperatorSignature) {
  const auto& config = cluster().config();
  // Signed by a validator instead of the operator.
  expect_refused(make_propose(cluster().key(0), config.cluster_id, config.epoch, 1,
                              adapter_digest(1), 10, "s"),
                 "operator signature does not verify");
  // Signed for another cluster, another epoch.
  expect_refused(make_propose(cluster().operator_key(), "other-cluster", config.epoch, 1,
                              adapter_digest(1), 10, "s"),
                 "operator signature does not verify");
  expect_refused(make_propose(cluster().operator_key(), config.cluster_id, config.epoch + 1, 1,
                              adapter_digest(1), 10, "s"),
                 "operator signature does not verify");
  // A field changed after signing.
  auto op = std::get<ProposeOp>(decode_op(cluster().propose(1)).value());
  op.artifact_digest = adapter_digest(1, "swapped");
  expect_refused(encode(op), "operator signature does not verify");
  op = std::get<ProposeOp>(decode_op(cluster().propose(1)).value());
  op.operator_signature.bytes[10] ^= 1;
  expect_refused(encode(op), "operator signature does not verify");
  EXPECT_TRUE(propose(1).valid);
}

TEST_F(RegisterTest, ProposalNeedsAPositiveSize) {
  expect_refused(cluster().propose(1, adapter_digest(1), 0), "size must be positive");
}

TEST_F(RegisterTest, ANewProposalSupersedesTheBetaCandidate) {
  ASSERT_TRUE(propose(1).valid);
  ASSERT_TRUE(vote(0, 1, Verdict::kPass).valid);
  auto stale_vote = cluster().vote(1, entry(1), Verdict::kPass);
  auto reply = propose(2);
  EXPECT_TRUE(reply.valid);
  EXPECT_TRUE(contains(reply.reason, "version 1 superseded")) << reply.reason;
  EXPECT_EQ(entry(1).state, EntryState::kRejected);
  EXPECT_EQ(entry(1).reason, "superseded by version 2");
  EXPECT_EQ(entry(2).state, EntryState::kBetaTesting);
  EXPECT_EQ(reg().current_beta()->version, 2u);
  expect_refused(stale_vote, "already decided: version 1 is REJECTED");
  // A released entry is never superseded.
  ASSERT_TRUE(vote(0, 2, Verdict::kPass).valid);
  ASSERT_TRUE(vote(1, 2, Verdict::kPass).valid);
  ASSERT_TRUE(vote(2, 2, Verdict::kPass).valid);
  ASSERT_TRUE(propose(3).valid);
  EXPECT_EQ(entry(2).state, EntryState::kReleaseCommit);
  EXPECT_EQ(reg().latest_release()->version, 2u);
  EXPECT_EQ(reg().current_beta()->version, 3u);
}

TEST_F(RegisterTest, LatestReleaseIsTheHighestCommittedVersion) {
  auto release = [&](std::uint64_t version) {
    ASSERT_TRUE(propose(version).valid);
    for (std::uint32_t id = 0; id < 3; ++id) ASSERT_TRUE(vote(id, version, Verdict::kPass).valid);
  };
  release(1);
  ASSERT_TRUE(propose(2).valid);
  ASSERT_TRUE(vote(0, 2, Verdict::kFail).valid);
  ASSERT_TRUE(vote(1, 2, Verdict::kFail).valid);
  ASSERT_TRUE(propose(3).valid);
  ASSERT_EQ(reg().latest_release()->version, 1u);
  EXPECT_TRUE(reg().latest_release()->certificate.has_value());
  ASSERT_TRUE(vote(0, 3, Verdict::kPass).valid);
  ASSERT_TRUE(vote(1, 3, Verdict::kPass).valid);
  ASSERT_TRUE(vote(2, 3, Verdict::kPass).valid);
  ASSERT_EQ(reg().latest_release()->version, 3u);
  expect_certificate_verifies(*reg().latest_release());
  // Each certificate binds its own position in the chain.
  EXPECT_EQ(entry(3).certificate->statement.previous_entry_hash, entry(2).entry_hash);
  EXPECT_EQ(entry(1).certificate->statement.previous_entry_hash, entry(0).entry_hash);
}

TEST_F(RegisterTest, EntriesAndLogRecordsFormHashChains) {
  ASSERT_TRUE(propose(1).valid);
  ASSERT_FALSE(submit(reg(), cluster().propose(1, adapter_digest(1, "other"))).valid);
  ASSERT_TRUE(propose(2).valid);
  ASSERT_TRUE(vote(0, 2, Verdict::kPass).valid);
  ASSERT_FALSE(submit(reg(), Bytes{0xff}).valid);
  ASSERT_TRUE(propose(4).valid);

  const auto& entries = reg().entries();
  ASSERT_EQ(entries.size(), 4u);
  for (std::size_t i = 0; i < entries.size(); ++i) {
    EXPECT_EQ(entries[i].entry_hash, compute_entry_hash(entries[i]));
    if (i > 0) {
      EXPECT_EQ(entries[i].previous_entry_hash, entries[i - 1].entry_hash);
      EXPECT_GT(entries[i].version, entries[i - 1].version);
    }
  }
  EXPECT_EQ(reg().head_hash(), entries.back().entry_hash);
  // The entry hash covers what the operator proposed and not the votes.
  auto voted = entry(2);
  voted.votes.clear();
  voted.state = EntryState::kBetaTesting;
  EXPECT_EQ(compute_entry_hash(voted), entry(2).entry_hash);
  voted.source += "x";
  EXPECT_NE(compute_entry_hash(voted), entry(2).entry_hash);

  const auto& log = reg().log();
  ASSERT_EQ(log.size(), 6u);
  crypto::Digest previous{};
  for (std::size_t i = 0; i < log.size(); ++i) {
    EXPECT_EQ(log[i].index, i);
    EXPECT_EQ(log[i].previous_hash, previous);
    EXPECT_EQ(log[i].record_hash, compute_record_hash(log[i]));
    previous = log[i].record_hash;
  }
  EXPECT_EQ(reg().log_head_hash(), previous);
}

TEST_F(RegisterTest, TheLogRecordsEveryOperation) {
  auto propose_bytes = cluster().propose(1);
  reg().apply(11, propose_bytes);
  auto vote_bytes = cluster().vote(2, entry(1), Verdict::kFail);
  reg().apply(12, vote_bytes);
  reg().apply(13, vote_bytes);      // duplicate
  reg().apply(14, Bytes{});         // empty
  reg().apply(15, Bytes{2, 1, 2});  // a truncated vote
  reg().apply(16, Bytes{7, 7, 7});  // unknown kind

  const auto& log = reg().log();
  ASSERT_EQ(log.size(), 6u);
  struct Expected {
    std::uint32_t client;
    OpKind kind;
    bool valid;
    std::string_view reason;
  };
  std::vector<Expected> expected = {
      {11, OpKind::kPropose, true, "version 1 proposed"},
      {12, OpKind::kVote, true,
       "vote FAIL from validator 2 on version 1 recorded (0 PASS, 1 FAIL)"},
      {13, OpKind::kVote, false, "duplicate vote"},
      {14, OpKind::kUnknown, false, "malformed operation: empty operation"},
      {15, OpKind::kVote, false, "malformed operation: truncated input"},
      {16, OpKind::kUnknown, false, "unknown operation kind 7"},
  };
  for (std::size_t i = 0; i < expected.size(); ++i) {
    SCOPED_TRACE(i);
    EXPECT_EQ(log[i].client, expected[i].client);
    EXPECT_EQ(log[i].kind, expected[i].kind);
    EXPECT_EQ(log[i].valid, expected[i].valid);
    EXPECT_TRUE(contains(log[i].reason, expected[i].reason)) << log[i].reason;
  }
  EXPECT_EQ(log[0].operation_digest, crypto::sha256(propose_bytes));
  EXPECT_EQ(log[1].operation_digest, crypto::sha256(vote_bytes));
  EXPECT_EQ(log[3].operation_digest, crypto::sha256(Bytes{}));
}

TEST_F(RegisterTest, GarbageNeverThrows) {
  ASSERT_TRUE(propose(1).valid);
  auto good = cluster().vote(0, entry(1), Verdict::kPass);
  std::vector<Bytes> garbage = {
      {}, {0}, {1}, {2}, {255, 255, 255, 255}, Bytes(5000, 1), Bytes(5000, 2)};
  // Every prefix of a good vote and every single-bit flip of it.
  for (std::size_t size = 0; size < good.size(); ++size) {
    garbage.emplace_back(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(size));
  }
  for (std::size_t i = 0; i < good.size(); ++i) {
    auto flipped = good;
    flipped[i] ^= 0x01;
    garbage.push_back(flipped);
  }
  for (const auto& bytes : garbage) {
    Bytes encoded;
    ASSERT_NO_THROW(encoded = reg().apply(3, bytes));
    auto reply = decode_reply(encoded);
    ASSERT_TRUE(reply.ok());
    EXPECT_FALSE(reply->valid) << reply->reason;
  }
  EXPECT_TRUE(entry(1).votes.empty());
  EXPECT_EQ(reg().log().size(), 1 + garbage.size());
  EXPECT_TRUE(submit(reg(), good).valid);
}

TEST_F(RegisterTest, RepliesNameTheEntryAndItsState) {
  auto reply = propose(1);
  EXPECT_EQ(reply, (RegisterReply{true, "version 1 proposed, now BETA_TESTING", 1,
                                  EntryState::kBetaTesting}));
  reply = submit(reg(), cluster().propose(1, adapter_digest(1, "other")));
  EXPECT_FALSE(reply.valid);
  EXPECT_EQ(reply.entry_version, 1u);
  EXPECT_EQ(reply.entry_state, EntryState::kBetaTesting);  // the existing entry
  reply = submit(reg(), cluster().propose(0));
  EXPECT_EQ(reply.entry_state, EntryState::kStable);
  auto ghost = entry(1);
  ghost.version = 9;
  reply = submit(reg(), cluster().vote(0, ghost, Verdict::kPass));
  EXPECT_FALSE(reply.valid);
  EXPECT_EQ(reply.entry_version, 9u);
  EXPECT_FALSE(reply.entry_state.has_value());
  reply = submit(reg(), Bytes{1, 2});
  EXPECT_FALSE(reply.valid);
  EXPECT_EQ(reply.entry_version, 0u);
  EXPECT_FALSE(reply.entry_state.has_value());
  reply = vote(0, 1, Verdict::kFail);
  EXPECT_EQ(reply.entry_state, EntryState::kBetaTesting);
  reply = vote(1, 1, Verdict::kFail);
  EXPECT_EQ(reply.entry_state, EntryState::kRejected);
  EXPECT_TRUE(contains(reply.reason, "version 1 rejected")) << reply.reason;
}

}  // namespace
}  // namespace bftgate::bft
