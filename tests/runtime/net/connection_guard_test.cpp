// Caps on a listener's connections (runtime/net/connection_guard.hpp), over real TCP under CURVE:
// at the cap a member that keeps many connections busy loses its own, not a quiet member's only
// one, and a connection that never speaks is closed once its grace is over.
#include "bftgate/runtime/net/connection_guard.hpp"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "bftgate/runtime/harness/local_processes.hpp"
#include "bftgate/runtime/net/link_security.hpp"
#include "run_loop_until.hpp"

namespace bftgate::runtime {
namespace {

using namespace std::chrono_literals;
using testing::run_loop_until;

// A CURVE server admitting two members, "validator-1" (busy) and "validator-2" (quiet), with a
// guard of `limits`; it reads and drops every message.
struct GuardedServer {
  GuardedServer(std::uint16_t port, ConnectionLimits limits)
      : identity(server_key), router(context, zmq::socket_type::router) {
    LinkMembers members;
    members.add(busy_key.public_key(), "validator-1");
    members.add(quiet_key.public_key(), "validator-2");
    zap = std::make_unique<ZapHandler>(io, context, std::move(members), refusals);
    zap->start();
    router.set(zmq::sockopt::linger, 0);
    identity.make_server(router);
    guard = std::make_unique<ConnectionGuard>(io, context, router, limits, refusals);
    router.bind("tcp://127.0.0.1:" + std::to_string(port));
    reader = std::make_unique<ZmqReader>(
        io, router,
        [this](std::vector<zmq::message_t>& frames) {
          guard->seen(frames.back());
          ++received;
        },
        refusals);
    reader->start();
    guard->start();
  }
  std::size_t of(const std::string& member) const {
    auto members = guard->members();
    auto it = members.find(member);
    return it == members.end() ? 0 : it->second;
  }

  crypto::SecretKey server_key = crypto::SecretKey::generate();
  crypto::SecretKey busy_key = crypto::SecretKey::generate();
  crypto::SecretKey quiet_key = crypto::SecretKey::generate();
  LinkIdentity identity;
  boost::asio::io_context io;
  zmq::context_t context;
  Refusals refusals{"guarded server"};
  std::unique_ptr<ZapHandler> zap;
  zmq::socket_t router;
  std::unique_ptr<ConnectionGuard> guard;
  std::unique_ptr<ZmqReader> reader;
  std::size_t received = 0;
};

zmq::socket_t member_dealer(zmq::context_t& context, const crypto::SecretKey& key,
                            const crypto::PublicKey& server, std::uint16_t port) {
  zmq::socket_t socket(context, zmq::socket_type::dealer);
  socket.set(zmq::sockopt::linger, 0);
  socket.set(zmq::sockopt::reconnect_ivl, 50);
  EXPECT_TRUE(LinkIdentity(key).make_client(socket, server));
  socket.connect("tcp://127.0.0.1:" + std::to_string(port));
  return socket;
}

// A TCP connection to 127.0.0.1:port that will never send a byte; -1 on failure.
int open_silent_tcp(std::uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

TEST(ConnectionGuard, ABusyMemberAtTheCapLosesItsOwnConnectionsNotAQuietMembersOnlyOne) {
  auto port = free_port_range(1);
  ASSERT_TRUE(port.has_value());
  GuardedServer server(
      *port,
      {.max_connections = 4, .max_per_address = 100, .handshake_grace = 500ms, .grace_slots = 64});
  zmq::context_t clients;
  // The busy member fills every slot and keeps each connection talking.
  std::vector<zmq::socket_t> busy;
  for (int i = 0; i < 4; ++i) {
    busy.push_back(member_dealer(clients, server.busy_key, server.server_key.public_key(), *port));
  }
  const auto chatter = [&] {
    for (auto& socket : busy)
      (void)socket.send(zmq::buffer(std::string("busy")), zmq::send_flags::dontwait);
  };
  ASSERT_TRUE(run_loop_until(
      server.io,
      [&] {
        chatter();
        return server.of("validator-1") == 4;
      },
      5s));
  // The quiet member connects, says one thing, and says nothing more.
  auto quiet = member_dealer(clients, server.quiet_key, server.server_key.public_key(), *port);
  (void)quiet.send(zmq::buffer(std::string("hello")), zmq::send_flags::none);
  ASSERT_TRUE(run_loop_until(
      server.io,
      [&] {
        chatter();
        return server.of("validator-2") == 1;
      },
      5s))
      << "the quiet member's connection was never let in";
  // For a while the busy member keeps talking (and reconnecting what was closed): the quiet
  // member keeps its one connection, and the cap holds.
  int samples_with_quiet = 0;
  for (int sample = 0; sample < 10; ++sample) {
    run_loop_until(
        server.io,
        [&] {
          chatter();
          return false;
        },
        100ms);
    samples_with_quiet += server.of("validator-2") == 1 ? 1 : 0;
    EXPECT_LE(server.guard->connections(), 4u + 64u);
  }
  EXPECT_EQ(samples_with_quiet, 10);
  EXPECT_GE(server.guard->evicted(), 1u);
  EXPECT_LE(server.of("validator-1"), 3u);
}

TEST(ConnectionGuard, AConnectionThatNeverSpeaksIsClosedOnceItsGraceIsOver) {
  auto port = free_port_range(1);
  ASSERT_TRUE(port.has_value());
  GuardedServer server(
      *port,
      {.max_connections = 2, .max_per_address = 100, .handshake_grace = 300ms, .grace_slots = 64});
  zmq::context_t clients;
  auto talker = member_dealer(clients, server.busy_key, server.server_key.public_key(), *port);
  (void)talker.send(zmq::buffer(std::string("hi")), zmq::send_flags::none);
  ASSERT_TRUE(run_loop_until(
      server.io, [&] { return server.of("validator-1") == 1; }, 5s));
  // Two raw TCP connections that never send a byte (no handshake at all).
  std::vector<int> silent;
  for (int i = 0; i < 2; ++i) {
    int fd = open_silent_tcp(*port);
    ASSERT_GE(fd, 0);
    silent.push_back(fd);
  }
  EXPECT_TRUE(run_loop_until(
      server.io, [&] { return server.guard->connections() == 2; }, 5s))
      << server.guard->connections() << " connections";
  EXPECT_GE(server.guard->evicted(), 1u);
  EXPECT_EQ(server.of("validator-1"), 1u);  // the member that spoke stayed
  for (int fd : silent) ::close(fd);
}

}  // namespace
}  // namespace bftgate::runtime
