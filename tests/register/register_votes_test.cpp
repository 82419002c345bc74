// The adapter register's votes: release with a verifiable certificate, rejection, invalid votes,
// and the quorums of the BFT and CFT fault models.
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <limits>
#include <random>

#include "bftgate/register/register.hpp"
#include "register_test_fixture.hpp"
#include "register_test_support.hpp"

namespace bftgate::bft {
namespace {

using testing::adapter_digest;
using testing::contains;
using testing::RegisterTest;
using testing::RegisterTestCluster;
using testing::submit;

TEST_F(RegisterTest, QuorumOfPassVotesReleasesWithAVerifiableCertificate) {
  ASSERT_TRUE(propose(1).valid);
  auto previous_hash = reg().entries().front().entry_hash;
  auto first = vote(2, 1, Verdict::kPass);
  EXPECT_TRUE(first.valid) << first.reason;
  EXPECT_EQ(first.entry_state, EntryState::kBetaTesting);
  EXPECT_TRUE(vote(0, 1, Verdict::kPass).valid);
  EXPECT_EQ(entry(1).state, EntryState::kBetaTesting);
  auto deciding = vote(3, 1, Verdict::kPass);
  EXPECT_TRUE(deciding.valid) << deciding.reason;
  EXPECT_TRUE(contains(deciding.reason, "released")) << deciding.reason;
  EXPECT_EQ(deciding.entry_state, EntryState::kReleaseCommit);

  auto released = entry(1);
  expect_certificate_verifies(released);
  EXPECT_EQ(released.certificate->statement.previous_entry_hash, previous_hash);
  EXPECT_EQ(released.certificate->signers().ids(), (std::vector<std::uint32_t>{0, 2, 3}));
  EXPECT_TRUE(contains(released.reason, "3 PASS votes reached the quorum of 3")) << released.reason;
  // Votes are kept in arrival order.
  ASSERT_EQ(released.votes.size(), 3u);
  EXPECT_EQ(released.votes[0].validator, 2u);
  EXPECT_EQ(released.votes[1].validator, 0u);
  EXPECT_EQ(released.votes[2].validator, 3u);
  ASSERT_NE(reg().latest_release(), nullptr);
  EXPECT_EQ(reg().latest_release()->version, 1u);
  EXPECT_EQ(reg().current_beta(), nullptr);

  // The certificate survives its binary encoding and binds the previous hash: with another
  // previous hash its signatures no longer verify.
  auto decoded = crypto::ReleaseCertificate::decode(released.certificate->encode());
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(decoded.value(), *released.certificate);
  auto moved = *released.certificate;
  moved.statement.previous_entry_hash = crypto::sha256(as_bytes("another chain"));
  EXPECT_EQ(crypto::verify(moved, cluster().config().validator_set()).error,
            crypto::CertError::kBadSignature);
}

TEST_F(RegisterTest, FPlusOneFailVotesReject) {
  ASSERT_TRUE(propose(1).valid);
  EXPECT_TRUE(vote(0, 1, Verdict::kFail).valid);
  EXPECT_EQ(entry(1).state, EntryState::kBetaTesting);
  auto deciding = vote(3, 1, Verdict::kFail);
  EXPECT_TRUE(deciding.valid);
  EXPECT_EQ(deciding.entry_state, EntryState::kRejected);
  auto rejected = entry(1);
  EXPECT_EQ(rejected.state, EntryState::kRejected);
  EXPECT_FALSE(rejected.certificate.has_value());
  EXPECT_TRUE(contains(rejected.reason, "2 FAIL votes")) << rejected.reason;
  EXPECT_EQ(reg().latest_release(), nullptr);
}

TEST_F(RegisterTest, FFailVotesDoNotStopAQuorumOfPasses) {
  for (std::size_t n : {4u, 7u, 10u}) {
    use(n);
    ASSERT_TRUE(propose(1).valid);
    std::uint32_t f = cluster().f();
    for (std::uint32_t id = 0; id < f; ++id) ASSERT_TRUE(vote(id, 1, Verdict::kFail).valid);
    for (std::uint32_t id = f; id < f + 2 * f + 1; ++id) {
      EXPECT_EQ(entry(1).state, EntryState::kBetaTesting);
      ASSERT_TRUE(vote(id, 1, Verdict::kPass).valid);
    }
    EXPECT_EQ(entry(1).state, EntryState::kReleaseCommit) << "n=" << n;
    expect_certificate_verifies(entry(1));
    EXPECT_EQ(entry(1).fail_votes(), f);
  }
}

TEST_F(RegisterTest, InvalidVotesAreLoggedAndChangeNothingElse) {
  ASSERT_TRUE(propose(1).valid);
  ASSERT_TRUE(vote(1, 1, Verdict::kPass).valid);
  const auto& config = cluster().config();
  auto beta = entry(1);

  expect_refused(
      make_vote(cluster().key(0), config.cluster_id, config.epoch, 0, 2, adapter_digest(2),
                beta.entry_hash, Verdict::kPass, testing::metrics_digest(0)),
      "unknown version 2");
  expect_refused(cluster().vote(0, entry(0), Verdict::kPass),
                 "version 0 is STABLE, not open for votes");
  expect_refused(
      make_vote(cluster().key(0), config.cluster_id, config.epoch, 0, 1, adapter_digest(1, "other"),
                beta.previous_entry_hash, Verdict::kPass, testing::metrics_digest(0)),
      "does not match version 1");
  expect_refused(cluster().vote(1, beta, Verdict::kPass),
                 "duplicate vote: validator 1 already voted on version 1");
  expect_refused(cluster().vote(1, beta, Verdict::kFail), "duplicate vote");
  // A validator id outside the config, even with a well-formed signature.
  expect_refused(cluster().vote_with_key(cluster().key(0), 9, beta, Verdict::kPass),
                 "validator 9 is not in the validator set");
  // Validator 0's vote signed with validator 2's key.
  expect_refused(cluster().vote_with_key(cluster().key(2), 0, beta, Verdict::kPass),
                 "vote signature of validator 0 does not verify");
  // A flipped signature bit; a changed metrics digest; another cluster/epoch.
  auto op = std::get<VoteOp>(decode_op(cluster().vote(0, beta, Verdict::kFail)).value());
  op.signature.bytes[0] ^= 0x80;
  expect_refused(encode(op), "vote signature of validator 0 does not verify");
  op = std::get<VoteOp>(decode_op(cluster().vote(0, beta, Verdict::kFail)).value());
  op.metrics_digest = crypto::Digest{};
  expect_refused(encode(op), "vote signature of validator 0 does not verify");
  expect_refused(
      make_vote(cluster().key(0), "other-cluster", config.epoch, 0, 1, beta.artifact_digest,
                beta.previous_entry_hash, Verdict::kFail, testing::metrics_digest(0)),
      "vote signature of validator 0 does not verify");
  // A FAIL signature relabelled as PASS.
  op = std::get<VoteOp>(decode_op(cluster().vote(0, beta, Verdict::kFail)).value());
  op.verdict = Verdict::kPass;
  op.release_approval = crypto::sign_release(cluster().key(0), release_statement(config, beta));
  expect_refused(encode(op), "vote signature of validator 0 does not verify");
  // PASS without an approval; FAIL with one.
  op = std::get<VoteOp>(decode_op(cluster().vote(0, beta, Verdict::kPass)).value());
  op.release_approval.reset();
  expect_refused(encode(op), "PASS vote without a release approval");
  op = std::get<VoteOp>(decode_op(cluster().vote(0, beta, Verdict::kFail)).value());
  op.release_approval = crypto::sign_release(cluster().key(0), release_statement(config, beta));
  expect_refused(encode(op), "FAIL vote must not carry a release approval");
  // An approval over a wrong statement: wrong previous hash, wrong version, wrong epoch, and
  // another validator's approval.
  expect_refused(
      make_vote(cluster().key(0), config.cluster_id, config.epoch, 0, 1, beta.artifact_digest,
                beta.entry_hash, Verdict::kPass, testing::metrics_digest(0)),
      "release approval of validator 0 does not verify");
  op = std::get<VoteOp>(decode_op(cluster().vote(0, beta, Verdict::kPass)).value());
  auto statement = release_statement(config, beta);
  statement.adapter_version = 2;
  op.release_approval = crypto::sign_release(cluster().key(0), statement);
  expect_refused(encode(op), "release approval of validator 0 does not verify");
  statement = release_statement(config, beta);
  statement.epoch = config.epoch + 1;
  op.release_approval = crypto::sign_release(cluster().key(0), statement);
  expect_refused(encode(op), "release approval of validator 0 does not verify");
  op.release_approval = crypto::sign_release(cluster().key(1), release_statement(config, beta));
  expect_refused(encode(op), "release approval of validator 0 does not verify");

  // None of that counted: the real votes still decide.
  EXPECT_EQ(entry(1).votes.size(), 1u);
  ASSERT_TRUE(vote(0, 1, Verdict::kPass).valid);
  ASSERT_TRUE(vote(2, 1, Verdict::kPass).valid);
  expect_certificate_verifies(entry(1));
  // After the decision every vote is refused, even one that would otherwise be valid.
  expect_refused(cluster().vote(3, entry(1), Verdict::kPass),
                 "already decided: version 1 is RELEASE_COMMIT");
  expect_refused(cluster().vote(3, entry(1), Verdict::kFail), "already decided");
}

TEST_F(RegisterTest, TheFirstValidVoteOfAValidatorCounts) {
  ASSERT_TRUE(propose(1).valid);
  auto beta = entry(1);
  // A forged vote in validator 1's name does not use up validator 1's vote.
  ASSERT_FALSE(
      submit(reg(), cluster().vote_with_key(cluster().key(0), 1, beta, Verdict::kFail)).valid);
  ASSERT_TRUE(vote(1, 1, Verdict::kPass).valid);
  // Changing its mind later is a duplicate.
  auto second = vote(1, 1, Verdict::kFail);
  EXPECT_FALSE(second.valid);
  EXPECT_TRUE(contains(second.reason, "duplicate vote"));
  ASSERT_EQ(entry(1).votes.size(), 1u);
  EXPECT_EQ(entry(1).votes[0].verdict, Verdict::kPass);
}

TEST_F(RegisterTest, CftModeUsesAMajority) {
  use(3, FaultModel::kCft);
  ASSERT_EQ(cluster().quorum(), 2u);
  ASSERT_TRUE(propose(1).valid);
  ASSERT_TRUE(vote(2, 1, Verdict::kPass).valid);
  EXPECT_EQ(entry(1).state, EntryState::kBetaTesting);
  ASSERT_TRUE(vote(0, 1, Verdict::kPass).valid);
  EXPECT_EQ(entry(1).state, EntryState::kReleaseCommit);
  expect_certificate_verifies(entry(1));
  EXPECT_EQ(entry(1).certificate->signers().count(), 2u);

  ASSERT_TRUE(propose(2).valid);
  ASSERT_TRUE(vote(0, 2, Verdict::kFail).valid);
  EXPECT_EQ(entry(2).state, EntryState::kBetaTesting);
  ASSERT_TRUE(vote(1, 2, Verdict::kFail).valid);
  EXPECT_EQ(entry(2).state, EntryState::kRejected);

  // One PASS and one FAIL: undecided until the third vote.
  ASSERT_TRUE(propose(3).valid);
  ASSERT_TRUE(vote(0, 3, Verdict::kPass).valid);
  ASSERT_TRUE(vote(1, 3, Verdict::kFail).valid);
  EXPECT_EQ(entry(3).state, EntryState::kBetaTesting);
  ASSERT_TRUE(vote(2, 3, Verdict::kPass).valid);
  EXPECT_EQ(entry(3).state, EntryState::kReleaseCommit);
  expect_certificate_verifies(entry(3));
}

// With at most f Byzantine validators voting PASS on a failing adapter and every honest
// validator voting FAIL, the adapter is rejected and never certified, in every vote order.
TEST_F(RegisterTest, ByzantineMinorityCannotCertifyAFailingAdapter) {
  for (std::size_t n : {4u, 7u}) {
    use(n);
    std::uint32_t f = cluster().f();
    // Every vote order for n = 4; seeded random orders for n = 7.
    std::vector<std::vector<std::uint32_t>> orders;
    std::vector<std::uint32_t> order(n);
    for (std::uint32_t id = 0; id < n; ++id) order[id] = id;
    if (n <= 4) {
      do orders.push_back(order);
      while (std::next_permutation(order.begin(), order.end()));
    } else {
      std::mt19937_64 random(n);
      for (int i = 0; i < 30; ++i) {
        std::shuffle(order.begin(), order.end(), random);
        orders.push_back(order);
      }
    }
    std::uint64_t version = 0;
    for (const auto& voting_order : orders) {
      ++version;
      SCOPED_TRACE(::testing::Message() << "n=" << n << " order #" << version);
      ASSERT_TRUE(propose(version).valid);
      auto candidate = entry(version);
      for (auto id : voting_order) {
        bool byzantine = id < f;
        submit(reg(), cluster().vote(id, candidate, byzantine ? Verdict::kPass : Verdict::kFail));
        // Byzantine validators also try to sign in an honest validator's name.
        if (byzantine) {
          for (std::uint32_t victim = f; victim < n; ++victim) {
            EXPECT_FALSE(submit(reg(), cluster().vote_with_key(cluster().key(id), victim, candidate,
                                                               Verdict::kPass))
                             .valid);
          }
        }
        EXPECT_NE(entry(version).state, EntryState::kReleaseCommit);
      }
      auto decided = entry(version);
      EXPECT_EQ(decided.state, EntryState::kRejected);
      EXPECT_FALSE(decided.certificate.has_value());
      EXPECT_LE(decided.pass_votes(), f);
      EXPECT_EQ(reg().latest_release(), nullptr);
    }
  }
}

}  // namespace
}  // namespace bftgate::bft
