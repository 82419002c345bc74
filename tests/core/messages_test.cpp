#include "bftgate/core/messages.hpp"

#include <gtest/gtest.h>

#include "bftgate/cluster/ed25519_signer.hpp"
#include "bftgate/config/cluster_setup.hpp"

namespace bftgate::bft {
namespace {

class MessagesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto cluster = generate_cluster({.validators = 4, .inference_nodes = 0});
    ASSERT_TRUE(cluster.ok());
    config_ = cluster->config;
    for (std::uint32_t i = 0; i < 4; ++i) {
      std::array<std::uint8_t, 32> seed{};
      cluster->validator_keys[i].copy_seed_to(seed);
      signers_.push_back(std::make_shared<Ed25519Signer>(i, crypto::SecretKey::from_seed(seed)));
    }
    std::array<std::uint8_t, 32> seed{};
    cluster->operator_key.copy_seed_to(seed);
    client_ =
        std::make_shared<Ed25519Signer>(kOperatorPrincipal, crypto::SecretKey::from_seed(seed));
    verifier_ = std::make_shared<Ed25519Verifier>(config_);
  }

  // One message of every type, nested ones included.
  std::vector<MessagePtr> samples() {
    auto request = make_message(*client_, Request{7, Bytes{1, 2, 3}});
    std::vector<MessagePtr> batch{request};
    auto pp = make_message(*signers_[0], PrePrepare{0, 1, batch_digest_of(batch), batch});
    auto prepare1 = make_message(*signers_[1], Prepare{0, 1, batch_digest_of(batch)});
    auto prepare2 = make_message(*signers_[2], Prepare{0, 1, batch_digest_of(batch)});
    auto commit = make_message(*signers_[1], Commit{0, 1, batch_digest_of(batch)});
    auto checkpoint = make_message(*signers_[3], Checkpoint{4, crypto::sha256(as_bytes("state"))});
    auto vc =
        make_message(*signers_[2], ViewChange{1, 0, {}, {PreparedProof{pp, {prepare1, prepare2}}}});
    auto nv = make_message(*signers_[1], NewView{1, {vc}, {pp}});
    auto status = make_message(*signers_[3], ReplicaStatus{2, false, 9, 8});
    auto catch_up = make_message(
        *signers_[0], CatchUp{4, Bytes{9, 9}, {checkpoint}, {CommitProof{pp, {commit}}}, nv});
    auto reply = make_message(*signers_[2], Reply{kOperatorPrincipal, 7, 0, Bytes{4}});
    return {request, pp, prepare1, commit, checkpoint, vc, nv, status, catch_up, reply};
  }

  ClusterConfig config_;
  std::vector<std::shared_ptr<Signer>> signers_;
  std::shared_ptr<Signer> client_;
  std::shared_ptr<Verifier> verifier_;
};

TEST_F(MessagesTest, EveryTypeRoundTripsThroughTheWire) {
  for (const auto& message : samples()) {
    SCOPED_TRACE(std::string(to_string(message->type())));
    auto decoded = decode_message(message->wire());
    ASSERT_TRUE(decoded.ok()) << decoded.error().message;
    EXPECT_EQ((*decoded)->type(), message->type());
    EXPECT_EQ((*decoded)->sender, message->sender);
    EXPECT_EQ((*decoded)->signed_bytes, message->signed_bytes);
    EXPECT_EQ((*decoded)->wire(), message->wire());
    EXPECT_TRUE(verify_signature(*verifier_, **decoded));
  }
}

TEST_F(MessagesTest, TruncatedOrExtendedWireIsRefused) {
  for (const auto& message : samples()) {
    auto wire = message->wire();
    for (std::size_t cut = 0; cut < wire.size();
         cut += std::max<std::size_t>(1, wire.size() / 40)) {
      EXPECT_FALSE(decode_message(ByteView(wire).first(cut)).ok())
          << to_string(message->type()) << " cut " << cut;
    }
    auto longer = wire;
    longer.insert(longer.end() - crypto::kSignatureSize, 0);
    EXPECT_FALSE(decode_message(longer).ok());
  }
  Bytes unknown_type = {99, 0, 0, 0, 0};
  unknown_type.resize(unknown_type.size() + crypto::kSignatureSize);
  auto result = decode_message(unknown_type);
  ASSERT_FALSE(result.ok());
  EXPECT_NE(result.error().message.find("unknown message type"), std::string::npos);
}

// Protocol messages and checkpoints bind the signer's epoch; requests and replies do not (a
// client need not know the epoch to check a reply, nor to have its request ordered).
TEST_F(MessagesTest, ProtocolMessagesAndCheckpointsBindTheEpochRequestsAndRepliesDoNot) {
  auto in_three = bind_epoch(std::shared_ptr<const Signer>(signers_[1]), 3);
  auto checks_three = bind_epoch(std::shared_ptr<const Verifier>(verifier_), 3);
  auto checks_four = bind_epoch(std::shared_ptr<const Verifier>(verifier_), 4);
  for (const auto& bound :
       {make_message(*in_three, Prepare{0, 1, crypto::sha256(as_bytes("a"))}),
        make_message(*in_three, Checkpoint{4, crypto::sha256(as_bytes("s"))})}) {
    EXPECT_TRUE(verify_signature(*checks_three, *bound));
    EXPECT_FALSE(verify_signature(*checks_four, *bound));
    EXPECT_FALSE(verify_signature(*verifier_, *bound));
  }
  auto request =
      make_message(*bind_epoch(std::shared_ptr<const Signer>(client_), 3), Request{7, Bytes{1}});
  EXPECT_TRUE(verify_signature(*checks_four, *request));
  EXPECT_TRUE(verify_signature(*verifier_, *request));
  auto reply = make_reply(*in_three, *request, Reply{kOperatorPrincipal, 7, 0, Bytes{2}});
  EXPECT_EQ(domain_of(MessageType::kReply), crypto::Domain::kReplicaReply);
  EXPECT_TRUE(verify_signature(*verifier_, *reply));
  EXPECT_TRUE(verify_signature(*checks_four, *reply));
  EXPECT_FALSE(binds_epoch(crypto::Domain::kClientRequest));
  EXPECT_TRUE(binds_epoch(crypto::Domain::kProtocolMessage));
}

TEST_F(MessagesTest, SignatureCoversSenderAndBody) {
  auto prepare = make_message(*signers_[1], Prepare{0, 1, crypto::sha256(as_bytes("a"))});
  EXPECT_TRUE(verify_signature(*verifier_, *prepare));
  // The same body and signature claimed by another replica does not verify.
  auto claimed = make_message_as(2, prepare->body, prepare->signature);
  EXPECT_FALSE(verify_signature(*verifier_, *claimed));
  // A changed body does not verify under the old signature.
  auto changed =
      make_message_as(1, Prepare{0, 2, crypto::sha256(as_bytes("a"))}, prepare->signature);
  EXPECT_FALSE(verify_signature(*verifier_, *changed));
  // A checkpoint signature is not a protocol-message signature (domain separation).
  auto checkpoint = make_message(*signers_[1], Checkpoint{4, crypto::sha256(as_bytes("s"))});
  EXPECT_EQ(domain_of(MessageType::kCheckpoint), crypto::Domain::kCheckpoint);
  EXPECT_TRUE(verify_signature(*verifier_, *checkpoint));
  EXPECT_FALSE(verifier_->verify(1, crypto::Domain::kProtocolMessage, checkpoint->signed_bytes,
                                 checkpoint->signature));
}

TEST_F(MessagesTest, DeepNestingIsRefused) {
  // Wrap a request in pre-prepares inside new views inside catch-ups past the depth limit.
  MessagePtr inner = make_message(*client_, Request{1, {}});
  for (int depth = 0; depth < 6; ++depth) {
    std::vector<MessagePtr> batch{inner};
    inner = make_message(*signers_[0], NewView{1, {}, batch});
  }
  EXPECT_FALSE(decode_message(inner->wire()).ok());
}

}  // namespace
}  // namespace bftgate::bft
