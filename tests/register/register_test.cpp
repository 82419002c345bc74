// The adapter register's rules: proposals, votes, release and rejection, the hash chains.
#include "bftgate/register/register.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <limits>
#include <random>

#include "register_test_support.hpp"

namespace bftgate::bft {
namespace {

using testing::adapter_digest;
using testing::contains;
using testing::RegisterTestCluster;
using testing::submit;

class RegisterTest : public ::testing::Test {
 protected:
  void use(std::size_t n, FaultModel model = FaultModel::kBft) {
    cluster_ = std::make_unique<RegisterTestCluster>(n, model);
    register_ = std::make_unique<AdapterRegister>(cluster_->config());
  }
  void SetUp() override { use(4); }

  AdapterRegister& reg() { return *register_; }
  const RegisterTestCluster& cluster() const { return *cluster_; }

  RegisterReply propose(std::uint64_t version) { return submit(reg(), cluster().propose(version)); }
  // `validator`'s honest vote on the entry with `version` (which must exist).
  RegisterReply vote(std::uint32_t validator, std::uint64_t version, Verdict verdict) {
    const auto* entry = reg().entry(version);
    EXPECT_NE(entry, nullptr);
    return submit(reg(), cluster().vote(validator, *entry, verdict), validator);
  }
  // Copies the entry: the register may reallocate its entries.
  RegisterEntry entry(std::uint64_t version) {
    const auto* found = reg().entry(version);
    EXPECT_NE(found, nullptr) << "no entry for version " << version;
    return found == nullptr ? RegisterEntry{} : *found;
  }

  // Applies `operation`, expects it refused with `reason_part`, and checks that only the log
  // changed: one more record, invalid, with that reason.
  void expect_refused(ByteView operation, std::string_view reason_part) {
    auto entries_before = reg().entries();
    auto log_before = reg().log().size();
    auto reply = submit(reg(), operation, 42);
    EXPECT_FALSE(reply.valid);
    EXPECT_TRUE(contains(reply.reason, reason_part)) << "reason: " << reply.reason;
    EXPECT_EQ(reg().entries(), entries_before);
    ASSERT_EQ(reg().log().size(), log_before + 1);
    const auto& record = reg().log().back();
    EXPECT_FALSE(record.valid);
    EXPECT_EQ(record.reason, reply.reason);
    EXPECT_EQ(record.client, 42u);
    EXPECT_EQ(record.operation_digest, crypto::sha256(operation));
  }

  void expect_certificate_verifies(const RegisterEntry& released) {
    ASSERT_EQ(released.state, EntryState::kReleaseCommit);
    ASSERT_TRUE(released.certificate.has_value());
    const auto& certificate = *released.certificate;
    auto verdict = crypto::verify(certificate, cluster().config().validator_set(),
                                  {.threads = 1, .artifact_digest = released.artifact_digest});
    EXPECT_TRUE(verdict.ok()) << verdict.reason;
    EXPECT_EQ(certificate.statement, release_statement(cluster().config(), released));
    EXPECT_EQ(certificate.statement.previous_entry_hash, released.previous_entry_hash);
    EXPECT_EQ(certificate.statement.adapter_version, released.version);
    // Its signers are exactly the PASS voters.
    std::vector<std::uint32_t> pass_voters;
    for (const auto& v : released.votes) {
      if (v.verdict == Verdict::kPass) pass_voters.push_back(v.validator);
    }
    std::sort(pass_voters.begin(), pass_voters.end());
    EXPECT_EQ(certificate.signers().ids(), pass_voters);
    EXPECT_GE(pass_voters.size(), cluster().quorum());
  }

  std::unique_ptr<RegisterTestCluster> cluster_;
  std::unique_ptr<AdapterRegister> register_;
};

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
