// Client sessions (PBFT's MAC authenticators): the wire form, what a validator's session layer
// accepts and refuses, and four Ed25519 replicas with sessions ordering MAC'd requests and
// answering with MAC'd replies.
#include "bftgate/cluster/client_sessions.hpp"

#include <gtest/gtest.h>

#include <deque>

#include "bftgate/cluster/ed25519_signer.hpp"
#include "bftgate/cluster/replica_config.hpp"
#include "bftgate/config/cluster_setup.hpp"
#include "bftgate/core/replica.hpp"

namespace bftgate::bft {
namespace {

crypto::SecretKey copy_of(const crypto::SecretKey& key) {
  std::array<std::uint8_t, crypto::kSeedSize> seed{};
  key.copy_seed_to(seed);
  auto copy = crypto::SecretKey::from_seed(seed);
  seed.fill(0);
  return copy;
}

class ClientSessions : public ::testing::Test {
 protected:
  ClientSessions() {
    ClusterSpec spec;
    spec.inference_nodes = 0;
    auto generated = generate_cluster(spec);
    EXPECT_TRUE(generated.ok());
    config_ = generated->config;
    for (const auto& key : generated->validator_keys) keys_.push_back(copy_of(key));
    operator_ =
        std::make_shared<Ed25519Signer>(kOperatorPrincipal, copy_of(generated->operator_key));
    principals_ = std::make_shared<Ed25519Verifier>(config_);
  }

  std::shared_ptr<ReplicaSessions> sessions(ReplicaId id, std::size_t capacity = 1024) const {
    return std::make_shared<ReplicaSessions>(config_, id, keys_[id], principals_, capacity);
  }

  ClusterConfig config_;
  std::vector<crypto::SecretKey> keys_;
  std::shared_ptr<Ed25519Signer> operator_;
  std::shared_ptr<Ed25519Verifier> principals_;
};

TEST_F(ClientSessions,
       AnAuthenticatedRequestRoundTripsOnTheWireAndOnlyRequestsAndRepliesMayCarryOne) {
  ClientSession session(config_, *operator_);
  auto request = session.make_request(Request{7, {1, 2, 3}});
  ASSERT_TRUE(request->authenticator.has_value());
  EXPECT_EQ(request->authenticator->macs.size(), config_.n());
  auto decoded = decode_message(request->wire());
  ASSERT_TRUE(decoded.ok()) << decoded.error().message;
  EXPECT_EQ((*decoded)->signed_bytes, request->signed_bytes);
  EXPECT_EQ((*decoded)->authenticator, request->authenticator);
  EXPECT_EQ((*decoded)->wire(), request->wire());

  // A signed request still decodes as one (a 64-byte trailer is a signature).
  auto signed_request = make_message(*operator_, Request{7, {1, 2, 3}});
  auto plain = decode_message(signed_request->wire());
  ASSERT_TRUE(plain.ok());
  EXPECT_FALSE((*plain)->authenticator.has_value());

  // A prepare must be signed: an authenticator trailer on one is refused.
  Ed25519Signer replica(0, copy_of(keys_[0]));
  auto prepare = make_message(replica, Prepare{0, 1, {}});
  auto wire = prepare->signed_bytes;
  auto trailer = request->wire();
  wire.insert(wire.end(),
              trailer.begin() + static_cast<std::ptrdiff_t>(request->signed_bytes.size()),
              trailer.end());
  auto refused = decode_message(wire);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("must be signed"), std::string::npos)
      << refused.error().message;
  // No truncation of an authenticated request decodes as one. (The signed part and the first
  // 64 bytes after it read as a signed request, whose "signature" then fails to verify.)
  auto full = request->wire();
  for (std::size_t size = 0; size < full.size(); ++size) {
    auto cut = decode_message(ByteView(full).first(size));
    ASSERT_TRUE(!cut.ok() || (!(*cut)->authenticator && !verify_signature(*principals_, **cut)))
        << size;
  }
  // The batch digest binds the authenticator, not only the request.
  auto again = session.make_request(Request{7, {1, 2, 3}});
  auto tampered = std::make_shared<SignedMessage>(*again);
  tampered->authenticator->macs[1].second.bytes[0] ^= 1;
  EXPECT_EQ(batch_digest_of({again}), batch_digest_of({again}));
  EXPECT_NE(batch_digest_of({again}), batch_digest_of({tampered}));
}

TEST_F(ClientSessions, EachValidatorChecksItsOwnMacInASessionTheClientSigned) {
  ClientSession session(config_, *operator_);
  auto request = session.make_request(Request{1, {9}});
  for (ReplicaId id = 0; id < config_.n(); ++id) {
    auto mine = sessions(id);
    SessionVerifier verifier(principals_, mine);
    EXPECT_TRUE(verify_signature(verifier, *request)) << id;
    EXPECT_EQ(mine->sessions_opened(), 1u);
    EXPECT_TRUE(verify_signature(verifier, *request)) << id;  // the session is remembered
    EXPECT_EQ(mine->sessions_opened(), 1u);
  }
  auto replica0 = sessions(0);
  SessionVerifier verifier(principals_, replica0);
  const auto refused = [&](const std::function<void(SignedMessage&)>& change) {
    auto copy = std::make_shared<SignedMessage>(*request);
    change(*copy);
    return !verify_signature(verifier, *copy);
  };
  EXPECT_TRUE(refused([](SignedMessage& m) { m.signed_bytes.back() ^= 1; }));
  EXPECT_TRUE(refused([](SignedMessage& m) { m.authenticator->macs[0].second.bytes[3] ^= 1; }));
  EXPECT_TRUE(refused(
      [](SignedMessage& m) { m.authenticator->macs.erase(m.authenticator->macs.begin()); }));
  EXPECT_TRUE(refused([](SignedMessage& m) {  // a second entry for the same replica
    m.authenticator->macs.push_back(m.authenticator->macs[0]);
  }));
  EXPECT_TRUE(refused([](SignedMessage& m) { m.authenticator->session_signature.bytes[0] ^= 1; }));
  EXPECT_TRUE(
      refused([](SignedMessage& m) { m.sender = kValidatorClientBase; }));  // not its session
  // A session that another principal signed is not the operator's, whatever its MACs.
  Ed25519Signer impostor(kOperatorPrincipal, crypto::SecretKey::generate());
  ClientSession forged(config_, impostor);
  EXPECT_FALSE(verify_signature(verifier, *forged.make_request(Request{1, {9}})));
  // A verifier without sessions refuses every authenticator.
  EXPECT_FALSE(verify_signature(*principals_, *request));
}

TEST_F(ClientSessions, RepliesAreMacdInTheRequestsSessionAndOnlyThatSessionAcceptsThem) {
  ClientSession session(config_, *operator_);
  ClientSession other(config_, *operator_);
  auto request = session.make_request(Request{1, {9}});
  auto mine = sessions(2);
  SessionSigner signer(std::make_shared<Ed25519Signer>(2, copy_of(keys_[2])), mine);
  auto reply = make_reply(signer, *request, Reply{kOperatorPrincipal, 1, 0, {4, 2}});
  ASSERT_TRUE(reply->authenticator.has_value());
  EXPECT_TRUE(session.verify_reply(*reply));
  EXPECT_FALSE(other.verify_reply(*reply));
  auto decoded = decode_message(reply->wire());
  ASSERT_TRUE(decoded.ok());
  EXPECT_TRUE(session.verify_reply(**decoded));
  auto changed = std::make_shared<SignedMessage>(*reply);
  changed->sender = 1;  // claimed by another validator: its key differs
  EXPECT_FALSE(session.verify_reply(*changed));
  // A signed request gets a signed reply, which no session accepts.
  auto signed_reply = make_reply(signer, *make_message(*operator_, Request{2, {}}),
                                 Reply{kOperatorPrincipal, 2, 0, {}});
  EXPECT_FALSE(signed_reply->authenticator.has_value());
  EXPECT_TRUE(verify_signature(*principals_, *signed_reply));
  EXPECT_FALSE(session.verify_reply(*signed_reply));
}

TEST_F(ClientSessions, AValidatorRemembersAtMostItsCapacityOfSessions) {
  auto mine = sessions(0, /*capacity=*/2);
  SessionVerifier verifier(principals_, mine);
  std::vector<std::unique_ptr<ClientSession>> clients;
  for (int i = 0; i < 3; ++i)
    clients.push_back(std::make_unique<ClientSession>(config_, *operator_));
  for (const auto& c : clients)
    EXPECT_TRUE(verify_signature(verifier, *c->make_request(Request{1, {}})));
  EXPECT_EQ(mine->sessions_opened(), 3u);
  // The first was forgotten: checking its request opens it again (its signature checked anew).
  EXPECT_TRUE(verify_signature(verifier, *clients[0]->make_request(Request{2, {}})));
  EXPECT_EQ(mine->sessions_opened(), 4u);
}

// Four replicas with Ed25519 and sessions, wired directly: MAC'd requests are ordered and
// executed by all, and every reply is a MAC the client's session accepts. A request whose MAC
// only f replicas cannot check still commits at the other 2f+1.
class CountingApp final : public StateMachine {
 public:
  Bytes apply(std::uint32_t, ByteView operation) override {
    ++applied;
    return Bytes(operation.begin(), operation.end());
  }
  Bytes snapshot() const override { return {static_cast<std::uint8_t>(applied)}; }
  Status restore(ByteView) override { return ok_status(); }
  std::size_t applied = 0;
};

TEST_F(ClientSessions, FourReplicasOrderMacdRequestsAndAnswerWithMacs) {
  auto options = replica_options(config_);
  std::vector<std::unique_ptr<CountingApp>> apps;
  std::vector<std::unique_ptr<Replica>> replicas;
  for (ReplicaId id = 0; id < config_.n(); ++id) {
    auto mine = sessions(id);
    apps.push_back(std::make_unique<CountingApp>());
    replicas.push_back(std::make_unique<Replica>(
        options,
        std::make_shared<SessionSigner>(std::make_shared<Ed25519Signer>(id, copy_of(keys_[id])),
                                        mine),
        std::make_shared<SessionVerifier>(principals_, mine), *apps.back()));
  }
  ClientSession session(config_, *operator_);
  std::deque<std::pair<ReplicaId, MessagePtr>> queue;
  std::vector<MessagePtr> replies;
  const auto deliver_all = [&] {
    for (int steps = 0; !queue.empty() && steps < 100000; ++steps) {
      auto [to, message] = queue.front();
      queue.pop_front();
      replicas[to]->step(message);
      for (ReplicaId from = 0; from < replicas.size(); ++from) {
        auto ready = replicas[from]->take_ready();
        for (const auto& out : ready.messages) {
          if (out.to == Outbound::To::kClient) {
            replies.push_back(out.message);
          } else if (out.to == Outbound::To::kAllReplicas) {
            for (ReplicaId r = 0; r < replicas.size(); ++r)
              if (r != from) queue.emplace_back(r, out.message);
          } else {
            queue.emplace_back(out.destination, out.message);
          }
        }
      }
    }
  };
  auto request = session.make_request(Request{1, {42}});
  for (ReplicaId r = 0; r < replicas.size(); ++r) queue.emplace_back(r, request);
  deliver_all();
  for (const auto& app : apps) EXPECT_EQ(app->applied, 1u);
  ASSERT_EQ(replies.size(), replicas.size());
  for (const auto& reply : replies) {
    EXPECT_TRUE(reply->authenticator.has_value());
    EXPECT_TRUE(session.verify_reply(*reply)) << describe(*reply);
  }

  // Replica 3's MAC is broken: it refuses the request and the batch, the other three commit it.
  auto broken = std::make_shared<SignedMessage>(*session.make_request(Request{2, {43}}));
  for (auto& [replica, tag] : broken->authenticator->macs)
    if (replica == 3) tag.bytes[0] ^= 1;
  replies.clear();
  for (ReplicaId r = 0; r < replicas.size(); ++r) queue.emplace_back(r, broken);
  deliver_all();
  for (ReplicaId r = 0; r < 3; ++r) EXPECT_EQ(apps[r]->applied, 2u) << r;
  EXPECT_EQ(apps[3]->applied, 1u);
  EXPECT_EQ(replies.size(), 3u);
}

}  // namespace
}  // namespace bftgate::bft
