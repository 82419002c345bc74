// Caps on the TCP connections a listening ZeroMQ socket keeps. libzmq accepts without limit, so
// one peer that holds connections open runs the process out of file descriptors: it can then
// neither fetch, write nor accept, and libzmq's accept loop spins. The guard watches the socket's
// monitor events (accepted, disconnected), knows each connection's peer address, its member (the
// ZAP "User-Id" of its messages, under CURVE) and when a message last arrived on it (ZMQ_SRCFD).
// Over a cap (per listener, per peer address) it shuts a connection down; libzmq then closes it
// as if the peer had (a ZeroMQ peer reconnects by itself). Which one:
//   1. one that never sent a message within the handshake grace, the oldest first (a stranger
//      stuck in the handshake, a silent holder of a slot);
//   2. else one of the member holding the most connections, its idlest (a fair share: a member
//      that keeps many connections busy loses its own, not a quiet member's only one; in
//      plaintext every connection is the same nobody, and this is the idlest of all).
// A newcomer is given the grace to speak before it is judged, so that a busy member cannot keep
// others out by holding every slot; past the cap by more than grace_slots, newcomers that have
// not spoken go first at once (descriptors stay bounded).
//
// Also here: the process's open-file limit raised to what the system allows, and memory that peers
// made the process allocate given back.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstddef>
#include <map>
#include <memory>
#include <string>
#include <zmq.hpp>

#include "bftgate/runtime/net/refusals.hpp"
#include "bftgate/runtime/net/zmq_reader.hpp"

namespace bftgate::runtime {

struct ConnectionLimits {
  std::size_t max_connections = 1024;  // per listening socket
  std::size_t max_per_address = 256;   // from one peer address
  // How long a new connection may take to send its first message before it counts as silent,
  // and how many such newcomers may wait beyond a cap meanwhile.
  std::chrono::milliseconds handshake_grace{2000};
  std::size_t grace_slots = 64;
  // The defaults, or less where the open-file limit (after raise_open_file_limit) is low: at most
  // half of it for one listener.
  static ConnectionLimits for_open_file_limit(std::uint64_t open_files);
};

class ConnectionGuard {
 public:
  // Call before `socket` binds (the monitor must see the first connection).
  ConnectionGuard(boost::asio::io_context& io, zmq::context_t& context, zmq::socket_t& socket,
                  ConnectionLimits limits, Refusals& refusals);
  ~ConnectionGuard();
  ConnectionGuard(const ConnectionGuard&) = delete;
  ConnectionGuard& operator=(const ConnectionGuard&) = delete;

  void start();
  // A message arrived: `frame` is one of its frames read from the network (not a ROUTER's
  // routing id), which names the connection.
  void seen(const zmq::message_t& frame);
  std::size_t connections() const { return connections_.size(); }
  std::uint64_t evicted() const { return evicted_; }
  // Connections by member, of those that spoke ("" in plaintext).
  std::map<std::string, std::size_t> members() const;

 private:
  struct Connection {
    std::string address;  // the peer's IP address (for IPv6 its /64)
    std::string peer;     // address and port, as getpeername says
    std::chrono::steady_clock::time_point accepted;
    std::chrono::steady_clock::time_point last_active;
    bool spoke = false;  // a message arrived on it
    std::string member;  // its messages' User-Id, once one arrived
  };
  void on_event(std::vector<zmq::message_t>& frames);
  // Evicts until no cap is exceeded, or until only newcomers within their grace exceed one (then
  // looks again when the first grace ends).
  void enforce();
  // The connection to close among those from `address` (all when null), or -1 to wait.
  int victim(const std::string* address, std::size_t cap) const;
  void evict(int fd, const char* why);

  boost::asio::steady_timer grace_timer_;

  ConnectionLimits limits_;
  Refusals& refusals_;
  zmq::socket_t& socket_;
  std::string monitor_endpoint_;
  zmq::socket_t monitor_;
  std::unique_ptr<ZmqReader> reader_;
  std::map<int, Connection> connections_;  // by file descriptor
  std::uint64_t evicted_ = 0;
};

// Raises the soft limit on open files to the hard limit (a validator holds a descriptor per
// connection, per peer and per file it writes); returns the limit now in force.
std::uint64_t raise_open_file_limit();

// Gives memory that is free inside the process back to the system (glibc keeps what a burst of
// queued messages used): called every few seconds, so what a peer made the process allocate is
// returned soon after it leaves.
void give_back_free_memory();

}  // namespace bftgate::runtime
