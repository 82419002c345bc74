// Register operations and replies: canonical encoding, strict decoding, what is signed.
#include "bftgate/register/register_ops.hpp"

#include <gtest/gtest.h>

#include "bftgate/register/register.hpp"
#include "register_test_support.hpp"

namespace bftgate::bft {
namespace {

using testing::adapter_digest;
using testing::contains;
using testing::RegisterTestCluster;

class RegisterOpsTest : public ::testing::Test {
 protected:
  RegisterTestCluster cluster_{4};

  ProposeOp sample_propose() const {
    return {.version = 5,
            .artifact_digest = adapter_digest(5),
            .size = 123456,
            .source = "store://adapters/v5",
            .operator_signature = crypto::Signature{{1, 2, 3}}};
  }
  VoteOp sample_vote(Verdict verdict) const {
    VoteOp op{.validator = 2,
              .version = 5,
              .artifact_digest = adapter_digest(5),
              .verdict = verdict,
              .metrics_digest = testing::metrics_digest(2),
              .signature = crypto::Signature{{9, 8, 7}},
              .release_approval = std::nullopt};
    if (verdict == Verdict::kPass) op.release_approval = crypto::Signature{{4, 5, 6}};
    return op;
  }
  ReconfigureOp sample_reconfigure() const {
    ReconfigureOp op{.next_epoch = 4, .f = 1, .validators = {}, .operator_signature = {}};
    for (std::uint32_t id = 0; id < 4; ++id) {
      op.validators.push_back(
          {.validator = {.id = id,
                         .endpoint = fmt::format("tcp://10.0.0.{}:7000", id),
                         .public_key = crypto::PublicKey{{static_cast<std::uint8_t>(id)}},
                         .metrics_port = static_cast<std::uint16_t>(9000 + id)},
           .proof = std::nullopt});
    }
    op.validators[2].proof = crypto::Signature{{7, 7}};
    op.operator_signature = crypto::Signature{{3, 3}};
    return op;
  }
  EpochApprovalOp sample_approval() const {
    return {.validator = 3, .next_epoch = 4, .approval = crypto::Signature{{5, 5}}};
  }
  crypto::SecretKey operator_key_ = crypto::SecretKey::generate();
};

TEST_F(RegisterOpsTest, ProposeRoundTrips) {
  auto op = sample_propose();
  auto encoded = encode(op);
  EXPECT_EQ(encoded[0], static_cast<std::uint8_t>(OpKind::kPropose));
  // kind + version + digest + size + (length + source) + signature
  EXPECT_EQ(encoded.size(), 1u + 8 + 32 + 8 + 4 + op.source.size() + 64);
  auto decoded = decode_op(encoded);
  ASSERT_TRUE(decoded.ok()) << decoded.error().message;
  ASSERT_TRUE(std::holds_alternative<ProposeOp>(decoded.value()));
  EXPECT_EQ(std::get<ProposeOp>(decoded.value()), op);
  EXPECT_EQ(encode_op(decoded.value()), encoded);
}

TEST_F(RegisterOpsTest, VoteRoundTripsWithAndWithoutApproval) {
  for (auto verdict : {Verdict::kPass, Verdict::kFail}) {
    auto op = sample_vote(verdict);
    auto encoded = encode(op);
    EXPECT_EQ(encoded.size(),
              1u + 4 + 8 + 32 + 1 + 32 + 64 + 1 + (verdict == Verdict::kPass ? 64 : 0));
    auto decoded = decode_op(encoded);
    ASSERT_TRUE(decoded.ok()) << decoded.error().message;
    ASSERT_TRUE(std::holds_alternative<VoteOp>(decoded.value()));
    EXPECT_EQ(std::get<VoteOp>(decoded.value()), op);
    EXPECT_EQ(encode_op(decoded.value()), encoded);
  }
  // The decoder leaves the PASS-iff-approval rule to the register: both mismatches decode.
  auto pass_without = sample_vote(Verdict::kPass);
  pass_without.release_approval.reset();
  EXPECT_TRUE(decode_op(encode(pass_without)).ok());
  auto fail_with = sample_vote(Verdict::kFail);
  fail_with.release_approval = crypto::Signature{};
  EXPECT_TRUE(decode_op(encode(fail_with)).ok());
}

TEST_F(RegisterOpsTest, MakeProposeSignsTheProposalBody) {
  const auto& config = cluster_.config();
  auto encoded = cluster_.propose(3, adapter_digest(3), 999, "store://x");
  auto decoded = decode_op(encoded);
  ASSERT_TRUE(decoded.ok());
  const auto& op = std::get<ProposeOp>(decoded.value());
  EXPECT_EQ(op.version, 3u);
  EXPECT_EQ(op.size, 999u);
  EXPECT_EQ(op.source, "store://x");
  auto body = proposal_signing_body(config.cluster_id, config.epoch, 3, adapter_digest(3), 999,
                                    "store://x");
  EXPECT_TRUE(crypto::verify(config.operator_public_key, crypto::Domain::kOperatorProposal, body,
                             op.operator_signature));
  // Bound to the cluster, epoch and every field.
  EXPECT_FALSE(crypto::verify(
      config.operator_public_key, crypto::Domain::kOperatorProposal,
      proposal_signing_body("other", config.epoch, 3, adapter_digest(3), 999, "store://x"),
      op.operator_signature));
  EXPECT_FALSE(crypto::verify(config.operator_public_key, crypto::Domain::kOperatorProposal,
                              proposal_signing_body(config.cluster_id, config.epoch + 1, 3,
                                                    adapter_digest(3), 999, "store://x"),
                              op.operator_signature));
  EXPECT_FALSE(crypto::verify(config.operator_public_key, crypto::Domain::kOperatorProposal,
                              proposal_signing_body(config.cluster_id, config.epoch, 3,
                                                    adapter_digest(3), 999, "store://y"),
                              op.operator_signature));
}

TEST_F(RegisterOpsTest, MakeVoteSignsTheVoteAndPassAddsTheReleaseApproval) {
  const auto& config = cluster_.config();
  auto previous = crypto::sha256(as_bytes("previous entry"));
  auto metrics = testing::metrics_digest(1);
  for (auto verdict : {Verdict::kPass, Verdict::kFail}) {
    auto decoded = decode_op(make_vote(cluster_.key(1), config.cluster_id, config.epoch, 1, 8,
                                       adapter_digest(8), previous, verdict, metrics));
    ASSERT_TRUE(decoded.ok());
    const auto& op = std::get<VoteOp>(decoded.value());
    EXPECT_EQ(op.validator, 1u);
    EXPECT_EQ(op.verdict, verdict);
    auto body = vote_signing_body(config.cluster_id, config.epoch, 1, 8, adapter_digest(8), verdict,
                                  metrics);
    EXPECT_TRUE(crypto::verify(cluster_.key(1).public_key(), crypto::Domain::kRegisterVote, body,
                               op.signature));
    EXPECT_EQ(op.release_approval.has_value(), verdict == Verdict::kPass);
    if (op.release_approval) {
      crypto::ReleaseStatement statement{config.cluster_id, config.epoch, 8, adapter_digest(8),
                                         previous};
      EXPECT_TRUE(crypto::verify_release_signature(cluster_.key(1).public_key(), statement,
                                                   *op.release_approval));
      statement.previous_entry_hash = crypto::Digest{};
      EXPECT_FALSE(crypto::verify_release_signature(cluster_.key(1).public_key(), statement,
                                                    *op.release_approval));
    }
  }
  // The verdict is signed: a PASS signature is not a FAIL signature.
  auto pass_body = vote_signing_body(config.cluster_id, config.epoch, 1, 8, adapter_digest(8),
                                     Verdict::kPass, metrics);
  auto fail_body = vote_signing_body(config.cluster_id, config.epoch, 1, 8, adapter_digest(8),
                                     Verdict::kFail, metrics);
  EXPECT_NE(pass_body, fail_body);
}

TEST_F(RegisterOpsTest, ReconfigureAndEpochApprovalRoundTrip) {
  for (const RegisterOp& op : {RegisterOp(sample_reconfigure()), RegisterOp(sample_approval())}) {
    auto encoded = encode_op(op);
    auto decoded = decode_op(encoded);
    ASSERT_TRUE(decoded.ok()) << decoded.error().message;
    EXPECT_EQ(decoded.value(), op);
    EXPECT_EQ(encode_op(decoded.value()), encoded);
  }
  EXPECT_EQ(encode(sample_reconfigure())[0], static_cast<std::uint8_t>(OpKind::kReconfigure));
  EXPECT_EQ(encode(sample_approval())[0], static_cast<std::uint8_t>(OpKind::kEpochApproval));
  // The operator's signature covers the cluster, the current epoch and every member's field.
  auto op = sample_reconfigure();
  auto signed_op = decode_op(make_reconfigure(operator_key_, "ops-test", 3, op));
  ASSERT_TRUE(signed_op.ok());
  const auto& signature = std::get<ReconfigureOp>(signed_op.value()).operator_signature;
  const auto verifies = [&](std::string_view cluster, std::uint64_t epoch,
                            const ReconfigureOp& body) {
    return crypto::verify(operator_key_.public_key(), crypto::Domain::kReconfiguration,
                          reconfigure_signing_body(cluster, epoch, body), signature);
  };
  EXPECT_TRUE(verifies("ops-test", 3, op));
  EXPECT_FALSE(verifies("other", 3, op));
  EXPECT_FALSE(verifies("ops-test", 4, op));
  auto moved = op;
  moved.validators[0].validator.endpoint = "tcp://10.9.9.9:1";
  EXPECT_FALSE(verifies("ops-test", 3, moved));
  EXPECT_EQ(to_string(OpKind::kReconfigure), "reconfigure");
  EXPECT_EQ(to_string(OpKind::kEpochApproval), "epoch-approval");
  EXPECT_EQ(op_kind(4), OpKind::kEpochApproval);
  EXPECT_EQ(op_kind(5), OpKind::kUnknown);
}

TEST_F(RegisterOpsTest, DecodingIsStrictAndNeverThrows) {
  auto propose = encode(sample_propose());
  auto vote = encode(sample_vote(Verdict::kPass));
  auto refused = [](const Bytes& bytes, std::string_view reason_part) {
    Result<RegisterOp> decoded = Error{"not run"};
    EXPECT_NO_THROW(decoded = decode_op(bytes));
    EXPECT_FALSE(decoded.ok());
    if (!decoded.ok()) {
      EXPECT_TRUE(contains(decoded.error().message, reason_part)) << decoded.error().message;
    }
  };

  refused({}, "empty operation");
  refused({0}, "unknown operation kind 0");
  refused({5, 0, 0}, "unknown operation kind 5");
  // Every proper prefix is truncated input.
  for (std::size_t size = 1; size < propose.size(); ++size)
    refused(Bytes(propose.begin(), propose.begin() + static_cast<std::ptrdiff_t>(size)),
            "truncated");
  for (std::size_t size = 1; size < vote.size(); ++size)
    refused(Bytes(vote.begin(), vote.begin() + static_cast<std::ptrdiff_t>(size)), "truncated");
  for (const auto& op : {encode(sample_reconfigure()), encode(sample_approval())}) {
    for (std::size_t size = 1; size < op.size(); ++size)
      refused(Bytes(op.begin(), op.begin() + static_cast<std::ptrdiff_t>(size)), "truncated");
    auto trailing = op;
    trailing.push_back(0);
    refused(trailing, "trailing");
  }
  // More members than a set may hold is refused before any is read.
  Bytes many = {static_cast<std::uint8_t>(OpKind::kReconfigure),
                8,
                0,
                0,
                0,
                0,
                0,
                0,
                0,
                1,
                0,
                0,
                0,
                0x01,
                0x01,
                0,
                0};
  refused(many, "member_count");
  // Trailing bytes.
  auto longer = propose;
  longer.push_back(0);
  refused(longer, "trailing");
  longer = vote;
  longer.push_back(0);
  refused(longer, "trailing");
  // A verdict other than 0/1 and a has_approval flag other than 0/1.
  auto bad_verdict = encode(sample_vote(Verdict::kFail));
  bad_verdict[1 + 4 + 8 + 32] = 2;
  refused(bad_verdict, "verdict");
  auto bad_flag = encode(sample_vote(Verdict::kFail));
  bad_flag.back() = 2;
  refused(bad_flag, "boolean");
  // A source over 1024 bytes.
  auto long_source = sample_propose();
  long_source.source.assign(kMaxSourceSize + 1, 'x');
  refused(encode(long_source), "exceeds the limit");
  long_source.source.assign(kMaxSourceSize, 'x');
  EXPECT_TRUE(decode_op(encode(long_source)).ok());
}

TEST_F(RegisterOpsTest, ReplyRoundTripsAndRefusesMalformed) {
  for (const auto& reply : {RegisterReply{true, "version 1 proposed", 1, EntryState::kBetaTesting},
                            RegisterReply{false, "unknown version 9", 9, std::nullopt},
                            RegisterReply{true, "", 0, EntryState::kStable}}) {
    auto encoded = encode_reply(reply);
    auto decoded = decode_reply(encoded);
    ASSERT_TRUE(decoded.ok()) << decoded.error().message;
    EXPECT_EQ(decoded.value(), reply);
  }
  auto encoded = encode_reply({true, "x", 3, EntryState::kRejected});
  EXPECT_FALSE(decode_reply(Bytes(encoded.begin(), encoded.end() - 1)).ok());
  auto trailing = encoded;
  trailing.push_back(0);
  EXPECT_FALSE(decode_reply(trailing).ok());
  auto bad_state = encoded;
  bad_state.back() = 4;
  EXPECT_FALSE(decode_reply(bad_state).ok());
  EXPECT_FALSE(decode_reply({}).ok());
}

TEST_F(RegisterOpsTest, NamesAreStable) {
  EXPECT_EQ(to_string(EntryState::kStable), "STABLE");
  EXPECT_EQ(to_string(EntryState::kBetaTesting), "BETA_TESTING");
  EXPECT_EQ(to_string(EntryState::kReleaseCommit), "RELEASE_COMMIT");
  EXPECT_EQ(to_string(EntryState::kRejected), "REJECTED");
  EXPECT_EQ(to_string(Verdict::kPass), "PASS");
  EXPECT_EQ(to_string(Verdict::kFail), "FAIL");
  EXPECT_EQ(to_string(OpKind::kPropose), "propose");
  EXPECT_EQ(to_string(OpKind::kVote), "vote");
}

}  // namespace
}  // namespace bftgate::bft
