// CurveZMQ links and the ZAP handler (runtime/net/link_security.hpp), over real TCP sockets.
#include "bftgate/runtime/net/link_security.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "bftgate/runtime/harness/local_processes.hpp"
#include "run_loop_until.hpp"

namespace bftgate::runtime {
namespace {

using namespace std::chrono_literals;
using testing::run_loop_until;

TEST(LinkIdentity, ItsPublicKeyIsTheEd25519IdentityInX25519Form) {
  auto key = crypto::SecretKey::generate();
  LinkIdentity link(key);
  auto expected = crypto::kx_identity(key.public_key());
  ASSERT_TRUE(expected.has_value());
  EXPECT_EQ(link.public_key(), *expected);
}

TEST(LinkMembers, NameEveryMemberTheConfigHoldsAKeyFor) {
  ClusterConfig config;
  auto v = crypto::SecretKey::generate();
  auto op = crypto::SecretKey::generate();
  auto store = crypto::SecretKey::generate();
  auto node = crypto::SecretKey::generate();
  ValidatorInfo validator;
  validator.id = 3;
  validator.public_key = v.public_key();
  config.validators = {validator};
  config.operator_public_key = op.public_key();
  config.artifact_store_public_key = store.public_key();
  InferenceNodeInfo node_info;
  node_info.id = 2;
  node_info.public_key = node.public_key();
  config.inference_nodes = {node_info};
  auto members = LinkMembers::of(config);
  EXPECT_EQ(members.size(), 4u);
  auto name = [&](const crypto::SecretKey& key) {
    const auto* found = members.find(LinkIdentity(key).public_key());
    return found == nullptr ? std::string("(none)") : *found;
  };
  EXPECT_EQ(name(v), "validator-3");
  EXPECT_EQ(name(op), "operator");
  EXPECT_EQ(name(store), "store");
  EXPECT_EQ(name(node), "node-2");
  EXPECT_EQ(name(crypto::SecretKey::generate()), "(none)");
}

// A server that admits one member; what reaches its application, with the sender's name.
struct Server {
  explicit Server(std::uint16_t port, const crypto::PublicKey& member)
      : identity(server_key), router(context, zmq::socket_type::router) {
    LinkMembers members;
    members.add(member, "validator-1");
    zap = std::make_unique<ZapHandler>(io, context, std::move(members), refusals);
    zap->start();
    router.set(zmq::sockopt::linger, 0);
    identity.make_server(router);
    router.bind("tcp://127.0.0.1:" + std::to_string(port));
    reader = std::make_unique<ZmqReader>(
        io, router,
        [this](std::vector<zmq::message_t>& frames) {
          received.push_back({frames.back().to_string(), member_of(frames.back()).value_or("")});
        },
        refusals);
    reader->start();
  }
  crypto::SecretKey server_key = crypto::SecretKey::generate();
  LinkIdentity identity;
  boost::asio::io_context io;
  zmq::context_t context;
  Refusals refusals{"test server"};
  std::unique_ptr<ZapHandler> zap;
  zmq::socket_t router;
  std::unique_ptr<ZmqReader> reader;
  std::vector<std::pair<std::string, std::string>> received;  // (payload, member)
};

// A client of the server on `port`: under `key` (none: plaintext), claiming `claimed` as its
// public key where given (an impostor, who holds another key's secret).
zmq::socket_t dealer(zmq::context_t& context, std::uint16_t port, const crypto::SecretKey* key,
                     const crypto::PublicKey* server,
                     const crypto::KxPublicKey* claimed = nullptr) {
  zmq::socket_t socket(context, zmq::socket_type::dealer);
  socket.set(zmq::sockopt::linger, 0);
  if (key != nullptr) {
    LinkIdentity link(*key);
    EXPECT_TRUE(link.make_client(socket, *server));
  }
  if (claimed != nullptr)
    socket.set(zmq::sockopt::curve_publickey,
               zmq::buffer(claimed->bytes.data(), claimed->bytes.size()));
  socket.connect("tcp://127.0.0.1:" + std::to_string(port));
  return socket;
}

TEST(ZapHandler, AdmitsAMemberAndNamesItOnEveryMessage) {
  auto port = free_port_range(1);
  ASSERT_TRUE(port.has_value());
  auto member = crypto::SecretKey::generate();
  Server server(*port, member.public_key());
  zmq::context_t client_context;
  auto client = dealer(client_context, *port, &member, &server.server_key.public_key());
  (void)client.send(zmq::buffer(std::string("hello")), zmq::send_flags::none);
  ASSERT_TRUE(run_loop_until(
      server.io, [&] { return !server.received.empty(); }, 5s));
  EXPECT_EQ(server.received.front().first, "hello");
  EXPECT_EQ(server.received.front().second, "validator-1");
  EXPECT_EQ(server.zap->admitted(), 1u);
  EXPECT_EQ(server.refusals.count("unknown-key"), 0u);
}

// A key outside the config, or no CURVE at all: not one frame reaches the application, and the
// stranger's key is counted.
TEST(ZapHandler, RefusesStrangersBeforeAnyFrameIsRead) {
  auto port = free_port_range(1);
  ASSERT_TRUE(port.has_value());
  auto member = crypto::SecretKey::generate();
  Server server(*port, member.public_key());
  zmq::context_t client_context;
  auto stranger_key = crypto::SecretKey::generate();
  auto stranger = dealer(client_context, *port, &stranger_key, &server.server_key.public_key());
  auto plaintext = dealer(client_context, *port, nullptr, nullptr);
  // One who knows a member's public key but not its secret cannot pass for it either.
  auto impostor_key = crypto::SecretKey::generate();
  auto member_public = LinkIdentity(member).public_key();
  auto impostor =
      dealer(client_context, *port, &impostor_key, &server.server_key.public_key(), &member_public);
  for (auto* socket : {&stranger, &plaintext, &impostor}) {
    (void)socket->send(zmq::buffer(std::string("let me in")), zmq::send_flags::dontwait);
  }
  EXPECT_TRUE(run_loop_until(
      server.io, [&] { return server.refusals.count("unknown-key") >= 1; }, 5s));
  (void)run_loop_until(
      server.io, [] { return false; }, 1500ms);
  EXPECT_TRUE(server.received.empty()) << server.received.front().first;
  EXPECT_EQ(server.zap->admitted(), 0u);
  EXPECT_GE(server.zap->refused(), 1u);
}

}  // namespace
}  // namespace bftgate::runtime
