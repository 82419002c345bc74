// The validator's vote logic that the process and the simulator share.
#include "bftgate/byzantine/validator_votes.hpp"

#include <gtest/gtest.h>

#include "bftgate/config/cluster_setup.hpp"

namespace bftgate::bft {
namespace {

class ValidatorVotesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto generated = generate_cluster({.validators = 4, .inference_nodes = 0});
    ASSERT_TRUE(generated.ok());
    cluster_ = std::make_unique<GeneratedCluster>(std::move(generated.value()));
    register_ = std::make_unique<AdapterRegister>(cluster_->config);
  }
  void propose(std::uint64_t version) {
    auto op = make_propose(
        cluster_->operator_key, cluster_->config.cluster_id, cluster_->config.epoch, version,
        crypto::sha256(as_bytes("adapter " + std::to_string(version))), 100, "store://x");
    ASSERT_TRUE(register_->process(0, op).valid);
  }
  std::unique_ptr<GeneratedCluster> cluster_;
  std::unique_ptr<AdapterRegister> register_;
  crypto::Digest metrics_ = crypto::sha256(as_bytes("metrics"));
};

TEST_F(ValidatorVotesTest, ValidatesEachCandidateOnceAndVotesWhatItFound) {
  ValidatorVotes votes(2, cluster_->validator_keys[2], nullptr);
  EXPECT_FALSE(votes.next_validation(*register_));  // nothing in beta
  propose(1);
  auto job = votes.next_validation(*register_);
  ASSERT_TRUE(job);
  EXPECT_EQ(job->version, 1u);
  EXPECT_FALSE(votes.next_validation(*register_));  // started once
  auto ops = votes.votes_for(*register_, *job, /*pass=*/true, metrics_);
  ASSERT_EQ(ops.size(), 1u);
  auto reply = register_->process(kValidatorClientBase + 2, ops[0]);
  EXPECT_TRUE(reply.valid) << reply.reason;
  EXPECT_TRUE(register_->entry(1)->has_voted(2));
  // A new validator object (a restart) does not validate what it already voted on.
  ValidatorVotes restarted(2, cluster_->validator_keys[2], nullptr);
  EXPECT_FALSE(restarted.next_validation(*register_));
}

TEST_F(ValidatorVotesTest, NothingIsSubmittedForACandidateThatLeftBeta) {
  ValidatorVotes votes(1, cluster_->validator_keys[1], nullptr);
  propose(1);
  auto job = votes.next_validation(*register_);
  ASSERT_TRUE(job);
  propose(2);  // supersedes version 1 while it was being validated
  EXPECT_TRUE(votes.votes_for(*register_, *job, true, metrics_).empty());
  auto next = votes.next_validation(*register_);
  ASSERT_TRUE(next);
  EXPECT_EQ(next->version, 2u);
}

TEST_F(ValidatorVotesTest, AStrategyDecidesTheVote) {
  auto strategy = make_strategy("fail-all", Duration(0));
  ValidatorVotes votes(3, cluster_->validator_keys[3], strategy.get());
  propose(1);
  auto job = votes.next_validation(*register_);
  ASSERT_TRUE(job);
  auto ops = votes.votes_for(*register_, *job, /*pass=*/true, metrics_);
  ASSERT_EQ(ops.size(), 1u);
  ASSERT_TRUE(register_->process(kValidatorClientBase + 3, ops[0]).valid);
  EXPECT_EQ(register_->entry(1)->fail_votes(), 1u);
  EXPECT_EQ(register_->entry(1)->pass_votes(), 0u);
}

// The operator's Reconfigure (the same set, in the next epoch) freezes the register; each member
// approves the handover once, and a silent one never does.
TEST_F(ValidatorVotesTest, EachMemberApprovesTheHandoverOnceUnlessItsStrategyWithholdsIt) {
  ReconfigureOp op{
      .next_epoch = cluster_->config.epoch + 1, .f = 1, .validators = {}, .operator_signature = {}};
  for (const auto& member : cluster_->config.validators) op.validators.push_back({member, {}});
  ValidatorVotes votes(1, cluster_->validator_keys[1], nullptr);
  EXPECT_FALSE(votes.approval_for(*register_));  // nothing to approve
  ASSERT_TRUE(register_
                  ->process(0, make_reconfigure(cluster_->operator_key, cluster_->config.cluster_id,
                                                cluster_->config.epoch, op))
                  .valid);
  auto approval = votes.approval_for(*register_);
  ASSERT_TRUE(approval);
  EXPECT_FALSE(votes.approval_for(*register_));  // once
  auto reply = register_->process(kValidatorClientBase + 1, *approval);
  ASSERT_TRUE(reply.valid) << reply.reason;
  EXPECT_TRUE(register_->handover()->approvals.signers().contains(1));
  // Restarted, it knows from the register that it approved.
  EXPECT_FALSE(ValidatorVotes(1, cluster_->validator_keys[1], nullptr).approval_for(*register_));
  auto silent = make_strategy("silent", Duration(0));
  EXPECT_FALSE(
      ValidatorVotes(2, cluster_->validator_keys[2], silent.get()).approval_for(*register_));
  // A validator outside the set has nothing to approve.
  EXPECT_FALSE(ValidatorVotes(9, cluster_->validator_keys[0], nullptr).approval_for(*register_));
  for (std::uint32_t id : {0u, 3u}) {
    auto more = ValidatorVotes(id, cluster_->validator_keys[id], nullptr).approval_for(*register_);
    ASSERT_TRUE(more);
    ASSERT_TRUE(register_->process(kValidatorClientBase + id, *more).valid);
  }
  ASSERT_TRUE(register_->epoch_certificate());
  // Certified: nothing more to approve.
  EXPECT_FALSE(ValidatorVotes(2, cluster_->validator_keys[2], nullptr).approval_for(*register_));
}

}  // namespace
}  // namespace bftgate::bft
