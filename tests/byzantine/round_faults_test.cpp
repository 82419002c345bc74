// The round-bound faults of the schedule search: which messages a round names, what each
// mutation kind makes of a message, and who receives the mutated copy.
#include "bftgate/byzantine/round_faults.hpp"

#include <gtest/gtest.h>

#include "bftgate/byzantine/byzantine.hpp"
#include "bftgate/cluster/replica_config.hpp"
#include "bftgate/config/cluster_setup.hpp"
#include "bftgate/sim/mac_signer.hpp"

namespace bftgate::bft {
namespace {

class MutateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto generated = generate_cluster({.validators = 4, .inference_nodes = 0});
    ASSERT_TRUE(generated.ok());
    cluster_ = std::make_unique<GeneratedCluster>(std::move(generated.value()));
    register_ = std::make_unique<AdapterRegister>(cluster_->config);
    options_ = replica_options(cluster_->config);
    // Messages are made and checked as the replicas of this epoch make and check them.
    for (ReplicaId id = 0; id < 4; ++id) {
      signers_.push_back(std::make_shared<EpochSigner>(
          std::make_shared<sim::MacSigner>(id, keyring_->key(id)), options_.epoch));
    }
    auto macs = std::make_shared<sim::MacVerifier>(keyring_);
    verifier_ = std::make_shared<EpochVerifier>(macs, options_.epoch);
    replica_ = std::make_unique<Replica>(
        options_, std::make_shared<sim::MacSigner>(kSelf, keyring_->key(kSelf)), macs, *register_);
  }

  StrategyContext context() { return {kSelf, *replica_, options_.replicas, rng_, Time(0)}; }
  MessagePtr prepare(View view, Seq seq, ReplicaId from = kSelf) {
    return make_message(*signers_[from], Prepare{view, seq, crypto::sha256(as_bytes("batch"))});
  }
  // What `strategy` sends for one broadcast, by receiver.
  std::map<ReplicaId, std::vector<MessagePtr>> sent(ByzantineStrategy& strategy, MessagePtr m) {
    auto ctx = context();
    std::vector<Outbound> out{{Outbound::To::kAllReplicas, 0, std::move(m)}};
    std::map<ReplicaId, std::vector<MessagePtr>> by_receiver;
    for (auto& t : strategy.transform(ctx, std::move(out))) {
      if (t.outbound.to == Outbound::To::kAllReplicas) {
        for (ReplicaId id : {0u, 2u, 3u}) by_receiver[id].push_back(t.outbound.message);
      } else {
        EXPECT_EQ(t.outbound.to, Outbound::To::kReplica);
        by_receiver[t.outbound.destination].push_back(t.outbound.message);
      }
    }
    return by_receiver;
  }
  bool verifies(const MessagePtr& m) { return verify_signature(*verifier_, *m); }

  static constexpr ReplicaId kSelf = 1;
  std::unique_ptr<GeneratedCluster> cluster_;
  std::unique_ptr<AdapterRegister> register_;
  ReplicaOptions options_;
  std::shared_ptr<sim::MacKeyring> keyring_ = std::make_shared<sim::MacKeyring>(7);
  std::vector<std::shared_ptr<EpochSigner>> signers_;
  std::shared_ptr<EpochVerifier> verifier_;
  std::unique_ptr<Replica> replica_;
  std::mt19937_64 rng_{1};
};

TEST(MessageRound, OrderingMessagesHaveViewAndSeqOthersTheirViewOrNone) {
  sim::MacKeyring keyring(1);
  sim::MacSigner signer(0, keyring.key(0));
  auto commit = make_message(signer, Commit{3, 9, {}});
  EXPECT_EQ(round_of(*commit)->view, 3u);
  EXPECT_EQ(round_of(*commit)->seq, std::optional<Seq>(9));
  auto view_change = make_message(signer, ViewChange{4, 0, {}, {}});
  EXPECT_EQ(round_of(*view_change)->view, 4u);
  EXPECT_FALSE(round_of(*view_change)->seq);
  EXPECT_FALSE(round_of(*make_message(signer, Checkpoint{8, {}})));
  EXPECT_FALSE(round_of(*make_message(signer, Request{1, {}})));

  EXPECT_TRUE((RoundSelector{3, std::nullopt}.matches(*commit)));
  EXPECT_TRUE((RoundSelector{3, 9}.matches(*commit)));
  EXPECT_FALSE((RoundSelector{3, 8}.matches(*commit)));
  EXPECT_FALSE((RoundSelector{2, std::nullopt}.matches(*commit)));
  EXPECT_FALSE((RoundSelector{4, 0}.matches(*view_change)));  // a seq names ordering messages
  auto checkpoint = make_message(signer, Checkpoint{8, {}});  // ...and checkpoints, in any view
  EXPECT_TRUE((RoundSelector{5, 8}.matches(*checkpoint)));
  EXPECT_FALSE((RoundSelector{5, std::nullopt}.matches(*checkpoint)));

  RoundPartition partition{{0, std::nullopt}, {{0, 1}, {2}}};
  EXPECT_TRUE(partition.separates(0, 2));
  EXPECT_FALSE(partition.separates(0, 1));
  EXPECT_FALSE(partition.separates(0, 3));  // in no group: reaches everyone
}

TEST(MutationKinds, EveryNameParsesBackAndSmallScopeIsTheByzzFuzzSet) {
  std::size_t small = 0;
  for (const auto& info : mutation_kinds()) {
    EXPECT_EQ(parse_mutation_kind(info.name), info.kind);
    EXPECT_EQ(to_string(info.kind), info.name);
    if (info.small_scope) ++small;
  }
  EXPECT_EQ(small, 10u);
  EXPECT_FALSE(parse_mutation_kind("seq+2"));
}

TEST_F(MutateTest, ASeqMutationToSomeReceiversIsAnEquivocationSignedByItself) {
  auto strategy =
      make_strategy("mutate", Duration(0), {{kSelf, MutationKind::kSeqUp, {0, 5}, 0, {2}, 0}});
  auto original = prepare(0, 5);
  auto by_receiver = sent(*strategy, original);
  ASSERT_EQ(by_receiver.size(), 3u);
  EXPECT_EQ(by_receiver[0], std::vector<MessagePtr>{original});
  EXPECT_EQ(by_receiver[3], std::vector<MessagePtr>{original});
  ASSERT_EQ(by_receiver[2].size(), 1u);
  const auto* mutated = by_receiver[2][0]->as<Prepare>();
  ASSERT_NE(mutated, nullptr);
  EXPECT_EQ(mutated->seq, 6u);
  EXPECT_EQ(mutated->view, 0u);
  EXPECT_EQ(by_receiver[2][0]->sender, kSelf);
  EXPECT_TRUE(verifies(by_receiver[2][0]));  // a Byzantine replica signs its own lies

  // Another round is left alone.
  auto other = prepare(0, 4);
  for (auto& [receiver, messages] : sent(*strategy, other))
    EXPECT_EQ(messages, std::vector<MessagePtr>{other}) << "receiver " << receiver;
}

TEST_F(MutateTest, DropDuplicateAndDigestChangeWhatReceiversGet) {
  auto drop = make_strategy("mutate", Duration(0),
                            {{kSelf, MutationKind::kDrop, {2, std::nullopt}, 0, {0, 3}, 0}});
  auto m = prepare(2, 1);
  auto dropped = sent(*drop, m);
  EXPECT_FALSE(dropped.contains(0));
  EXPECT_FALSE(dropped.contains(3));
  EXPECT_EQ(dropped[2].size(), 1u);

  auto duplicate =
      make_strategy("mutate", Duration(0), {{kSelf, MutationKind::kDuplicate, {2, 1}, 0, {}, 0}});
  for (auto& [receiver, messages] : sent(*duplicate, m)) EXPECT_EQ(messages.size(), 2u);

  auto digest =
      make_strategy("mutate", Duration(0), {{kSelf, MutationKind::kDigest, {2, 1}, 0, {}, 77}});
  for (auto& [receiver, messages] : sent(*digest, m)) {
    ASSERT_EQ(messages.size(), 1u);
    EXPECT_NE(messages[0]->as<Prepare>()->batch_digest, m->as<Prepare>()->batch_digest);
    EXPECT_TRUE(verifies(messages[0]));
  }
}

TEST_F(MutateTest, AStolenSignatureDoesNotVerifyForTheMessageItIsPutOn) {
  auto strategy = make_strategy("mutate", Duration(0),
                                {{kSelf, MutationKind::kSignature, {0, std::nullopt}, 0, {}, 0}});
  auto ctx = context();
  strategy->accept(ctx, prepare(0, 1, /*from=*/3));  // replica 3's signature, on its message
  for (auto& [receiver, messages] : sent(*strategy, prepare(0, 2))) {
    ASSERT_EQ(messages.size(), 1u);
    EXPECT_EQ(messages[0]->sender, 3u);
    EXPECT_FALSE(verifies(messages[0]));
  }
}

TEST_F(MutateTest, AVoteFlipFlipsOnlyItsVersion) {
  auto strategy = make_strategy("mutate", Duration(0),
                                {{kSelf, MutationKind::kVoteFlip, {}, /*version=*/2, {}, 0}});
  EXPECT_EQ(strategy->vote(Verdict::kPass, 1), Verdict::kPass);
  EXPECT_EQ(strategy->vote(Verdict::kPass, 2), Verdict::kFail);
  EXPECT_EQ(strategy->vote(Verdict::kFail, 2), Verdict::kPass);
  EXPECT_EQ(strategy->vote_copies(2), 1u);
  auto again = make_strategy("mutate", Duration(0),
                             {{kSelf, MutationKind::kVoteAgain, {}, /*version=*/3, {}, 0}});
  EXPECT_EQ(again->vote_copies(3), 2u);
  EXPECT_EQ(again->vote_copies(2), 1u);
}

}  // namespace
}  // namespace bftgate::bft
