// The validator's links to its peers (bft/runtime/validator/src/validator_wire.cpp), against a
// stand-in peer: a ROUTER bound where the config says the peer listens.
#include "validator_wire.hpp"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "bftgate/runtime/harness/local_processes.hpp"
#include "run_loop_until.hpp"

namespace bftgate::runtime {
namespace {

using namespace std::chrono_literals;
using testing::run_loop_until;

ClusterConfig two_validators(std::uint16_t peer_port) {
  ClusterConfig config;
  ValidatorInfo self;
  self.id = 0;
  self.endpoint = "tcp://127.0.0.1:1";
  ValidatorInfo peer;
  peer.id = 1;
  peer.endpoint = "tcp://127.0.0.1:" + std::to_string(peer_port);
  config.validators = {self, peer};
  return config;
}

zmq::socket_t stand_in_peer(zmq::context_t& context, std::uint16_t port) {
  zmq::socket_t router(context, zmq::socket_type::router);
  router.set(zmq::sockopt::linger, 0);
  router.set(zmq::sockopt::sndhwm, 0);  // it queues all it sends
  // A closed socket lets go of its port a little later (libzmq closes it in its I/O thread).
  for (int attempt = 0;; ++attempt) {
    try {
      router.bind("tcp://127.0.0.1:" + std::to_string(port));
      return router;
    } catch (const zmq::error_t& e) {
      if (e.num() != EADDRINUSE || attempt == 100) throw;
      std::this_thread::sleep_for(20ms);
    }
  }
}

// [routing id][payload] from the stand-in peer, or nothing.
std::optional<std::pair<std::string, std::string>> receive(zmq::socket_t& router) {
  zmq::message_t route;
  zmq::message_t payload;
  if (!router.recv(route, zmq::recv_flags::dontwait)) return std::nullopt;
  if (!router.recv(payload, zmq::recv_flags::dontwait)) return std::nullopt;
  return std::pair{route.to_string(), payload.to_string()};
}

// Whatever comes back on a link to a peer (here: thousands of messages, as when a primary
// answered requests this validator relayed) must not stop the link from noticing that the peer
// went away: once the peer is back on its port, messages reach it again.
TEST(ValidatorWire, APeerLinkReconnectsAfterAPeerRestartEvenWhenMessagesCameBackOnIt) {
  auto port = free_port_range(2);  // the peer's, then this validator's
  ASSERT_TRUE(port.has_value());
  boost::asio::io_context io;
  Refusals refusals("validator 0");
  ValidatorWire wire(io, 0, LinkFaults{}, refusals, LinkSecurity::insecure_plaintext());
  ASSERT_TRUE(wire.listen("tcp://127.0.0.1:" + std::to_string(*port + 1), ConnectionLimits{}).ok());
  ASSERT_TRUE(wire.connect_peers(two_validators(*port)).ok());
  wire.start([](std::vector<zmq::message_t>&) {}, [] {});

  zmq::context_t context;
  auto peer = stand_in_peer(context, *port);
  const Bytes hello{'h', 'i'};
  std::string route;
  ASSERT_TRUE(run_loop_until(
      io,
      [&] {
        wire.send_to_peers(hello);
        if (auto got = receive(peer)) route = got->first;
        return !route.empty();
      },
      5s));
  EXPECT_TRUE(route.starts_with("validator-0-")) << route;
  // The peer talks back on the link, far past what its queues hold.
  const std::string reply(200, 'r');
  for (int i = 0; i < 5000; ++i) {
    (void)peer.send(zmq::buffer(route), zmq::send_flags::sndmore | zmq::send_flags::dontwait);
    (void)peer.send(zmq::buffer(reply), zmq::send_flags::dontwait);
  }
  ASSERT_TRUE(run_loop_until(
      io, [&] { return refusals.count("peer-link") >= 5000; }, 10s))
      << refusals.count("peer-link") << " of 5000 read";
  // The peer restarts on the same port.
  peer.close();
  auto restarted = stand_in_peer(context, *port);
  bool reached = run_loop_until(
      io,
      [&] {
        wire.send_to_peers(hello);
        return receive(restarted).has_value();
      },
      10s);
  EXPECT_TRUE(reached) << "the link to the restarted peer never came back";
}

// A request a peer relayed to this validator does not take the client's route: the reply
// goes to the client, which reads it, not back along the peer's link.
TEST(ValidatorWire, ARelayedRequestLeavesTheClientsRoute) {
  auto port = free_port_range(1);
  ASSERT_TRUE(port.has_value());
  boost::asio::io_context io;
  Refusals refusals("validator 0");
  ValidatorWire wire(io, 0, LinkFaults{}, refusals, LinkSecurity::insecure_plaintext());
  ASSERT_TRUE(wire.listen("tcp://127.0.0.1:" + std::to_string(*port), ConnectionLimits{}).ok());
  std::vector<std::string> routes;
  wire.start(
      [&](std::vector<zmq::message_t>& frames) { routes.push_back(frames.front().to_string()); },
      [] {});
  zmq::context_t context;
  auto client_link = [&](const std::string& id) {
    zmq::socket_t dealer(context, zmq::socket_type::dealer);
    dealer.set(zmq::sockopt::linger, 0);
    dealer.set(zmq::sockopt::routing_id, id);
    dealer.connect("tcp://127.0.0.1:" + std::to_string(*port));
    return dealer;
  };
  auto client = client_link("client-7");
  auto relaying_peer = client_link("validator-2-4242");
  (void)client.send(zmq::buffer(std::string("request")), zmq::send_flags::none);
  (void)relaying_peer.send(zmq::buffer(std::string("relayed")), zmq::send_flags::none);
  ASSERT_TRUE(run_loop_until(
      io, [&] { return routes.size() == 2; }, 5s));
  const ValidatorWire::RouteKey key{7, 1};
  wire.remember_route(key, "client-7");
  wire.remember_route(key, "validator-2-4242");  // the peer relays the client's request
  EXPECT_TRUE(wire.send_reply(key, Bytes{'o', 'k'}));
  zmq::message_t reply;
  bool got = run_loop_until(
      io, [&] { return client.recv(reply, zmq::recv_flags::dontwait).has_value(); }, 5s);
  ASSERT_TRUE(got) << "the client got no reply";
  EXPECT_EQ(reply.to_string(), "ok");
  EXPECT_FALSE(relaying_peer.recv(reply, zmq::recv_flags::dontwait).has_value());
}

// Over CURVE: a peer's messages arrive on the validator's socket named as the member they come
// from, and the validator's own link to the peer is encrypted under the peer's config key; a
// connection from a key outside the config delivers nothing.
TEST(ValidatorWire, LinksAreCurveBetweenMembersAndStrangersAreRefused) {
  auto ports = free_port_range(2);  // validator 0's, then the stand-in peer's
  ASSERT_TRUE(ports.has_value());
  auto key0 = crypto::SecretKey::generate();
  auto key1 = crypto::SecretKey::generate();
  ClusterConfig config;
  ValidatorInfo v0;
  v0.id = 0;
  v0.endpoint = "tcp://127.0.0.1:" + std::to_string(*ports);
  v0.public_key = key0.public_key();
  ValidatorInfo v1;
  v1.id = 1;
  v1.endpoint = "tcp://127.0.0.1:" + std::to_string(*ports + 1);
  v1.public_key = key1.public_key();
  config.validators = {v0, v1};
  config.operator_public_key = crypto::SecretKey::generate().public_key();

  boost::asio::io_context io;
  Refusals refusals("validator 0");
  ValidatorWire wire(io, 0, LinkFaults{}, refusals, LinkSecurity::curve(key0, config));
  ASSERT_TRUE(wire.listen(v0.endpoint, ConnectionLimits{}).ok());
  ASSERT_TRUE(wire.connect_peers(config).ok());
  std::vector<std::pair<std::string, std::string>> received;  // (payload, member)
  wire.start(
      [&](std::vector<zmq::message_t>& frames) {
        received.push_back({frames.back().to_string(), member_of(frames.back()).value_or("")});
      },
      [] {});

  // The stand-in for validator 1: a CURVE server under its key (its own ZAP handler admits
  // validator 0), and a CURVE client to validator 0.
  zmq::context_t context;
  Refusals peer_refusals("validator 1");
  auto security1 = LinkSecurity::curve(key1, config);
  auto zap1 = security1.zap_handler(io, context, peer_refusals);
  zap1->start();
  zmq::socket_t peer_server(context, zmq::socket_type::router);
  peer_server.set(zmq::sockopt::linger, 0);
  security1.secure_server(peer_server);
  peer_server.bind(v1.endpoint);
  zmq::socket_t peer_client(context, zmq::socket_type::dealer);
  peer_client.set(zmq::sockopt::linger, 0);
  ASSERT_TRUE(security1.secure_client(peer_client, key0.public_key()));
  peer_client.connect(v0.endpoint);
  (void)peer_client.send(zmq::buffer(std::string("from validator 1")), zmq::send_flags::none);
  ASSERT_TRUE(run_loop_until(
      io, [&] { return !received.empty(); }, 5s));
  EXPECT_EQ(received.front(),
            (std::pair<std::string, std::string>{"from validator 1", "validator-1"}));
  // Validator 0's link to validator 1 reaches it, named as validator 0.
  std::string member;
  ASSERT_TRUE(run_loop_until(
      io,
      [&] {
        wire.send_to_peers(Bytes{'h', 'i'});
        zmq::message_t route;
        zmq::message_t payload;
        if (!peer_server.recv(route, zmq::recv_flags::dontwait)) return false;
        if (!peer_server.recv(payload, zmq::recv_flags::dontwait)) return false;
        member = member_of(payload).value_or("");
        return true;
      },
      5s));
  EXPECT_EQ(member, "validator-0");
  // A stranger gets nothing through.
  zmq::socket_t stranger(context, zmq::socket_type::dealer);
  stranger.set(zmq::sockopt::linger, 0);
  auto stranger_key = crypto::SecretKey::generate();
  ASSERT_TRUE(LinkSecurity::curve(stranger_key, config).secure_client(stranger, key0.public_key()));
  stranger.connect(v0.endpoint);
  (void)stranger.send(zmq::buffer(std::string("let me in")), zmq::send_flags::dontwait);
  EXPECT_TRUE(run_loop_until(
      io, [&] { return refusals.count("unknown-key") >= 1; }, 5s));
  (void)run_loop_until(
      io, [] { return false; }, 500ms);
  EXPECT_EQ(received.size(), 1u);
}

}  // namespace
}  // namespace bftgate::runtime
