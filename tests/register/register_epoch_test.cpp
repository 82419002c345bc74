// Epochs in the register: a Reconfigure freezes it and fixes what the current set approves; a
// quorum of approvals certifies the next epoch; the next epoch's register starts from the frozen
// contents, counts only the new set's keys, and keeps the chain (register_epoch.hpp).
#include "bftgate/register/register_epoch.hpp"

#include <gtest/gtest.h>

#include <optional>

#include "bftgate/config/card.hpp"
#include "bftgate/register/register.hpp"
#include "register_test_support.hpp"

namespace bftgate::bft {
namespace {

using testing::adapter_digest;
using testing::contains;
using testing::RegisterTestCluster;
using testing::submit;

// A validator of the next set: an existing one as the config has it (no proof), or a new key
// with its card's proof.
ProposedValidator kept(const ClusterConfig& config, std::uint32_t id) {
  return {.validator = *config.find_validator(id), .proof = std::nullopt};
}
ProposedValidator from_card(const MemberCard& card) {
  return {.validator = {.id = card.id,
                        .endpoint = card.endpoint,
                        .public_key = card.public_key,
                        .metrics_port = card.metrics_port},
          .proof = card.proof};
}

class RegisterEpochTest : public ::testing::Test {
 protected:
  RegisterEpochTest() : cluster_(4), reg_(cluster_.config()) {}

  const ClusterConfig& config() const { return cluster_.config(); }
  // The set of epoch 8 with validator 2 on a new host and key (the key made there).
  ReconfigureOp replace_two() {
    ReconfigureOp op{
        .next_epoch = config().epoch + 1, .f = 1, .validators = {}, .operator_signature = {}};
    for (std::uint32_t id : {0u, 1u, 3u}) op.validators.push_back(kept(config(), id));
    op.validators.push_back(from_card(
        MemberCard::make(crypto::KeyRole::kValidator, 2, "tcp://10.0.0.9:7000", 9200, new_key_)));
    return op;
  }
  RegisterReply reconfigure(const ReconfigureOp& op) {
    return submit(
        reg_, make_reconfigure(cluster_.operator_key(), config().cluster_id, config().epoch, op));
  }
  RegisterReply approve(std::uint32_t validator) {
    return submit(
        reg_, make_epoch_approval(cluster_.key(validator), validator, reg_.handover()->statement));
  }
  void release(AdapterRegister& reg, const ClusterConfig& config,
               const std::vector<const crypto::SecretKey*>& keys, std::uint64_t version) {
    ASSERT_TRUE(submit(reg, make_propose(cluster_.operator_key(), config.cluster_id, config.epoch,
                                         version, adapter_digest(version), 4096, "store://a"))
                    .valid);
    for (std::uint32_t id = 0; id < keys.size() && reg.entry(version)->certificate == std::nullopt;
         ++id) {
      const auto& entry = *reg.entry(version);
      auto reply = submit(reg, make_vote(*keys[id], config.cluster_id, config.epoch, id, version,
                                         entry.artifact_digest, entry.previous_entry_hash,
                                         Verdict::kPass, testing::metrics_digest(id)));
      ASSERT_TRUE(reply.valid) << reply.reason;
    }
  }

  RegisterTestCluster cluster_;
  AdapterRegister reg_;
  crypto::SecretKey new_key_ = crypto::SecretKey::generate();
};

TEST_F(RegisterEpochTest, AReconfigurationFreezesTheRegisterAndAQuorumCertifiesTheNextEpoch) {
  release(reg_, config(), {&cluster_.key(0), &cluster_.key(1), &cluster_.key(2)}, 1);
  auto reply = reconfigure(replace_two());
  ASSERT_TRUE(reply.valid) << reply.reason;
  EXPECT_TRUE(contains(reply.reason, "epoch 7 ends here")) << reply.reason;
  ASSERT_NE(reg_.handover(), nullptr);
  const auto statement = reg_.handover()->statement;
  EXPECT_EQ(statement.epoch, 8u);
  EXPECT_EQ(statement.switch_seq, reg_.log().back().index);
  EXPECT_EQ(statement.previous_set, config().validator_set().digest());
  EXPECT_EQ(reg_.log().back().kind, OpKind::kReconfigure);

  // Frozen: nothing else is applied or logged, and the reply says where to go.
  const auto frozen = reg_.snapshot();
  const auto log_size = reg_.log().size();
  auto late = submit(reg_, cluster_.propose(2));
  EXPECT_FALSE(late.valid);
  EXPECT_TRUE(contains(late.reason, "epoch 7 ended at log record")) << late.reason;
  EXPECT_FALSE(submit(reg_, Bytes{0x07}).valid);
  EXPECT_EQ(reg_.log().size(), log_size);

  // Approvals: from members only, each once, over the register's own statement.
  EXPECT_TRUE(contains(submit(reg_, make_epoch_approval(new_key_, 9, statement)).reason,
                       "not in the validator set of epoch 7"));
  auto forged = submit(reg_, make_epoch_approval(new_key_, 2, statement));
  EXPECT_TRUE(contains(forged.reason, "does not verify")) << forged.reason;
  auto other = statement;
  other.state_digest = adapter_digest(99);
  auto wrong = submit(reg_, make_epoch_approval(cluster_.key(1), 1, other));
  EXPECT_TRUE(contains(wrong.reason, "does not verify")) << wrong.reason;
  ASSERT_TRUE(approve(0).valid);
  EXPECT_TRUE(contains(approve(0).reason, "already approved"));
  EXPECT_EQ(reg_.epoch_certificate(), std::nullopt);
  EXPECT_EQ(reg_.next_epoch(), nullptr);
  ASSERT_TRUE(approve(3).valid);
  auto third = approve(1);
  ASSERT_TRUE(third.valid) << third.reason;
  EXPECT_TRUE(contains(third.reason, "epoch 8 certified")) << third.reason;
  EXPECT_TRUE(contains(approve(2).reason, "already certified"));
  EXPECT_EQ(reg_.log().size(), log_size);

  // The certificate links the two sets, and its state digest is that of the frozen contents.
  auto certificate = reg_.epoch_certificate();
  ASSERT_TRUE(certificate.has_value());
  EXPECT_EQ(certificate->approvals.signers().ids(), (std::vector<std::uint32_t>{0, 1, 3}));
  auto next = reg_.next_epoch();
  ASSERT_NE(next, nullptr);
  EXPECT_TRUE(crypto::verify_epoch_link(*certificate, config().validator_set(),
                                        next->config().validator_set())
                  .ok());
  EXPECT_EQ(next->config().epoch, 8u);
  EXPECT_EQ(next->config().find_validator(2)->public_key, new_key_.public_key());
  EXPECT_EQ(next->config().find_validator(2)->endpoint, "tcp://10.0.0.9:7000");
  ASSERT_EQ(next->epochs().size(), 1u);
  EXPECT_EQ(next->epochs().back().certificate, *certificate);
  EXPECT_EQ(next->epochs().back().last_version, 1u);
  RegisterContents handed_over;
  {
    auto decoded = decode_snapshot(config(), frozen);
    ASSERT_TRUE(decoded.ok()) << decoded.error().message;
    handed_over = std::move(decoded.value());
    handed_over.handover.reset();
  }
  EXPECT_EQ(digest_of_encoded(encode_snapshot(config(), handed_over)),
            certificate->statement.state_digest);
  EXPECT_EQ(next->entries(), reg_.entries());  // what was decided is kept
  EXPECT_EQ(next->latest_release()->version, 1u);

  // In epoch 8 the old key of validator 2 counts for nothing; the new one does.
  ASSERT_TRUE(submit(*next, make_propose(cluster_.operator_key(), "register-test", 8, 2,
                                         adapter_digest(2), 4096, "store://a"))
                  .valid);
  const auto& entry = *next->entry(2);
  auto old_key = submit(
      *next, make_vote(cluster_.key(2), "register-test", 8, 2, 2, entry.artifact_digest,
                       entry.previous_entry_hash, Verdict::kPass, testing::metrics_digest(2)));
  EXPECT_FALSE(old_key.valid);
  EXPECT_TRUE(contains(old_key.reason, "does not verify")) << old_key.reason;
  // An epoch-7 proposal is refused in epoch 8: its signature binds the epoch.
  EXPECT_FALSE(submit(*next, cluster_.propose(3)).valid);
  AdapterRegister epoch8(next->config());
  ASSERT_TRUE(epoch8.restore(next->snapshot()).ok());
  release(epoch8, next->config(), {&cluster_.key(0), &cluster_.key(1), &new_key_}, 3);
  const auto* released = epoch8.latest_release();
  ASSERT_NE(released, nullptr);
  EXPECT_EQ(released->version, 3u);
  EXPECT_EQ(released->certificate->statement.epoch, 8u);
}

TEST_F(RegisterEpochTest, EveryBadReconfigurationIsRefusedWithItsReason) {
  const auto refused = [&](const ReconfigureOp& op, std::string_view why) {
    auto reply = reconfigure(op);
    EXPECT_FALSE(reply.valid) << why;
    EXPECT_TRUE(contains(reply.reason, why)) << reply.reason;
    EXPECT_EQ(reg_.handover(), nullptr);
  };
  auto op = replace_two();
  op.next_epoch = 9;
  refused(op, "the next epoch of epoch 7 is 8, not 9");
  op = replace_two();
  op.validators.back().proof.reset();
  refused(op, "validator 2: a new key needs its card's proof of possession");
  op = replace_two();
  op.validators.back().validator.endpoint =
      "tcp://10.0.0.10:7000";  // the proof covers the endpoint
  refused(op, "proof of possession does not verify");
  op = replace_two();
  op.validators[0].validator.endpoint = "ipc://relative/socket";  // read against each host's cwd
  refused(op, "validator 0: an ipc:// endpoint in a proposed set must be an absolute path");
  op = replace_two();
  op.validators.pop_back();  // 3 validators cannot tolerate f=1
  refused(op, "the proposed set of epoch 8");
  op.f = 0;
  op.validators.push_back(kept(config(), 1));  // a repeated id
  refused(op, "the proposed set of epoch 8");
  // Not signed by the operator, or signed for another epoch.
  auto by_validator =
      make_reconfigure(cluster_.key(0), config().cluster_id, config().epoch, replace_two());
  EXPECT_TRUE(contains(submit(reg_, by_validator).reason, "operator signature does not verify"));
  auto other_epoch =
      make_reconfigure(cluster_.operator_key(), config().cluster_id, 6, replace_two());
  EXPECT_TRUE(contains(submit(reg_, other_epoch).reason, "operator signature does not verify"));
  // Not while a version is being voted on.
  ASSERT_TRUE(submit(reg_, cluster_.propose(1)).valid);
  refused(replace_two(), "version 1 is being voted on");
  // An approval with nothing to approve is refused and logged.
  auto stray = submit(reg_, make_epoch_approval(cluster_.key(0), 0, crypto::EpochStatement{}));
  EXPECT_TRUE(contains(stray.reason, "no reconfiguration of epoch 7 is under way"));
  EXPECT_EQ(reg_.log().back().kind, OpKind::kEpochApproval);
  EXPECT_FALSE(reg_.log().back().valid);
}

TEST_F(RegisterEpochTest, GrowingShrinkingAndRotatingEveryKeyEachMakeTheSetTheyName) {
  // Grow 4 -> 7 (f = 2): three new members, each with its card.
  ReconfigureOp grow{.next_epoch = 8, .f = 2, .validators = {}, .operator_signature = {}};
  for (std::uint32_t id = 0; id < 4; ++id) grow.validators.push_back(kept(config(), id));
  std::vector<crypto::SecretKey> added;
  for (std::uint32_t id = 4; id < 7; ++id) {
    added.push_back(crypto::SecretKey::generate());
    grow.validators.push_back(
        from_card(MemberCard::make(crypto::KeyRole::kValidator, id,
                                   fmt::format("tcp://10.0.1.{}:7000", id), 0, added.back())));
  }
  ASSERT_TRUE(reconfigure(grow).valid);
  for (std::uint32_t id : {3u, 2u, 0u}) ASSERT_TRUE(approve(id).valid);
  auto seven = reg_.next_epoch();
  ASSERT_NE(seven, nullptr);
  EXPECT_EQ(seven->config().n(), 7u);
  EXPECT_EQ(seven->config().quorum(), 5u);
  // Shrink back 7 -> 4, rotating every remaining key: approved by 5 of the 7.
  std::vector<crypto::SecretKey> rotated;
  ReconfigureOp shrink{.next_epoch = 9, .f = 1, .validators = {}, .operator_signature = {}};
  for (std::uint32_t id = 0; id < 4; ++id) {
    rotated.push_back(crypto::SecretKey::generate());
    shrink.validators.push_back(
        from_card(MemberCard::make(crypto::KeyRole::kValidator, id,
                                   fmt::format("tcp://10.0.2.{}:7000", id), 0, rotated.back())));
  }
  ASSERT_TRUE(
      submit(*seven, make_reconfigure(cluster_.operator_key(), "register-test", 8, shrink)).valid);
  const auto statement = seven->handover()->statement;
  const std::vector<const crypto::SecretKey*> epoch8_keys = {
      &cluster_.key(0), &cluster_.key(1), &cluster_.key(2), &cluster_.key(3),
      &added[0],        &added[1],        &added[2]};
  for (std::uint32_t id = 2; id < 7; ++id) {
    auto reply = submit(*seven, make_epoch_approval(*epoch8_keys[id], id, statement));
    ASSERT_TRUE(reply.valid) << reply.reason;
  }
  auto four = seven->next_epoch();
  ASSERT_NE(four, nullptr);
  EXPECT_EQ(four->config().n(), 4u);
  for (std::uint32_t id = 0; id < 4; ++id)
    EXPECT_EQ(four->config().find_validator(id)->public_key, rotated[id].public_key());
  // The chain walks from the genesis set to epoch 9's, and its snapshot restores in epoch 9.
  std::vector<crypto::EpochLink> links;
  for (const auto& record : four->epochs()) {
    links.push_back({record.certificate,
                     config_for_epoch(config(), record.certificate.statement.epoch, record.next)
                         .validator_set()});
  }
  auto reached = crypto::walk_epoch_chain(config().validator_set(), links);
  ASSERT_TRUE(reached.ok()) << reached.error().reason;
  EXPECT_EQ(reached.value(), four->config().validator_set());
  AdapterRegister restored(four->config());
  ASSERT_TRUE(restored.restore(four->snapshot()).ok());
  EXPECT_EQ(restored.snapshot(), four->snapshot());
  // A snapshot of one epoch does not restore in another.
  AdapterRegister epoch8(seven->config());
  EXPECT_FALSE(epoch8.restore(four->snapshot()).ok());
}

TEST_F(RegisterEpochTest, SnapshotsDuringTheHandoverRoundTripAndRefuseWhatTheRegisterCannotMake) {
  ASSERT_TRUE(reconfigure(replace_two()).valid);
  ASSERT_TRUE(approve(1).valid);
  AdapterRegister restored(config());
  ASSERT_TRUE(restored.restore(reg_.snapshot()).ok());
  EXPECT_EQ(*restored.handover(), *reg_.handover());
  // Still frozen after the restore, and the approvals go on from where they were.
  EXPECT_FALSE(submit(restored, cluster_.propose(1)).valid);
  ASSERT_TRUE(
      submit(restored, make_epoch_approval(cluster_.key(0), 0, restored.handover()->statement))
          .valid);
  ASSERT_TRUE(
      submit(restored, make_epoch_approval(cluster_.key(2), 2, restored.handover()->statement))
          .valid);
  EXPECT_NE(restored.next_epoch(), nullptr);

  // Tampered handovers, re-encoded with a good checksum, are refused with the reason.
  const auto refused = [&](RegisterContents contents, std::string_view why) {
    auto decoded = decode_snapshot(config(), encode_snapshot(config(), contents));
    ASSERT_FALSE(decoded.ok()) << why;
    EXPECT_TRUE(contains(decoded.error().message, why)) << decoded.error().message;
  };
  auto good = decode_snapshot(config(), reg_.snapshot());
  ASSERT_TRUE(good.ok()) << good.error().message;
  auto contents = good.value();
  contents.handover->statement.state_digest = adapter_digest(5);
  refused(contents, "state digest is not that of the contents");
  contents = good.value();
  contents.handover->statement.switch_seq += 1;
  refused(contents, "does not switch at the last log record");
  contents = good.value();
  contents.handover->next.validators.pop_back();
  refused(contents, "the handover's set");
  contents = good.value();
  contents.handover->approvals.add(9, crypto::Signature{});
  refused(contents, "not of this set");
  contents = good.value();
  contents.handover.reset();
  refused(contents, "reconfigurations do not match");
}

// A new member (a new machine, no register of its own) starts from an old member's frozen register
// only when everything in it checks out from the genesis set it trusts.
TEST_F(RegisterEpochTest, ANewMemberJoinsOnlyFromAHandoffThatVerifiesFromGenesis) {
  release(reg_, config(), {&cluster_.key(0), &cluster_.key(1), &cluster_.key(2)}, 1);
  ASSERT_TRUE(reconfigure(replace_two()).valid);
  ASSERT_TRUE(approve(0).valid);
  ASSERT_TRUE(approve(3).valid);
  EXPECT_FALSE(reg_.handoff());  // not certified yet
  ASSERT_TRUE(approve(1).valid);
  auto handoff = reg_.handoff();
  ASSERT_TRUE(handoff);
  EXPECT_EQ(handoff->epoch, 7u);

  auto joined = join_next_epoch(config(), *handoff);
  ASSERT_TRUE(joined) << joined.error().message;
  EXPECT_EQ((*joined)->snapshot(), reg_.next_epoch()->snapshot());
  EXPECT_EQ((*joined)->config().epoch, 8u);
  EXPECT_EQ((*joined)->epoch_links().size(), 1u);

  const auto refused = [&](const EpochHandoff& bad, const std::string& why) {
    auto result = join_next_epoch(config(), bad);
    ASSERT_FALSE(result) << why;
    EXPECT_TRUE(contains(result.error().message, why)) << result.error().message;
  };
  auto tampered = *handoff;
  tampered.frozen_snapshot[tampered.frozen_snapshot.size() / 2] ^= 1;
  refused(tampered, "the handoff's register of epoch 7");
  auto other_set = *handoff;
  other_set.members.validators[1].public_key = new_key_.public_key();
  refused(other_set, "the handoff's register of epoch 7");
  auto other_epoch = *handoff;
  other_epoch.epoch = 8;
  refused(other_epoch, "the handoff's register of epoch 8");
  // Approvals that do not verify, in contents otherwise well formed (re-encoded, so the checksum
  // holds): only checking every signature from genesis finds them.
  auto contents = decode_snapshot(config(), handoff->frozen_snapshot);
  ASSERT_TRUE(contents);
  auto forged = contents->handover->approvals;
  crypto::QuorumSignatures resigned;
  for (auto id : forged.signers().ids())
    resigned.add(id, crypto::sign_epoch(new_key_, contents->handover->statement));
  contents->handover->approvals = resigned;
  auto unsigned_handoff = *handoff;
  unsigned_handoff.frozen_snapshot = encode_snapshot(config(), *contents);
  refused(unsigned_handoff, "the handoff's chain");
  // Another cluster's genesis (same ids, other keys) trusts none of it.
  RegisterTestCluster stranger(4);
  auto from_stranger = join_next_epoch(stranger.config(), *handoff);
  ASSERT_FALSE(from_stranger);
}

}  // namespace
}  // namespace bftgate::bft
