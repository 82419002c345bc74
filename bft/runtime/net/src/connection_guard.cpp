#include "bftgate/runtime/net/connection_guard.hpp"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <malloc.h>
#include <netinet/in.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <utility>

#include "bftgate/runtime/net/link_security.hpp"

namespace bftgate::runtime {

namespace {

std::atomic<std::uint64_t> next_monitor{0};

// The peer of a TCP socket: (IP address, "address:port"); empty when it is not one.
std::pair<std::string, std::string> peer_of(int fd) {
  sockaddr_storage storage{};
  socklen_t length = sizeof storage;
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&storage), &length) != 0) return {};
  char text[INET6_ADDRSTRLEN] = {};
  std::uint16_t port = 0;
  if (storage.ss_family == AF_INET) {
    const auto* a = reinterpret_cast<const sockaddr_in*>(&storage);
    ::inet_ntop(AF_INET, &a->sin_addr, text, sizeof text);
    port = ntohs(a->sin_port);
  } else if (storage.ss_family == AF_INET6) {
    const auto* a = reinterpret_cast<const sockaddr_in6*>(&storage);
    ::inet_ntop(AF_INET6, &a->sin6_addr, text, sizeof text);
    port = ntohs(a->sin6_port);
    // One party holds a whole /64: it counts as one address.
    if (!IN6_IS_ADDR_V4MAPPED(&a->sin6_addr)) {
      in6_addr prefix = a->sin6_addr;
      std::memset(&prefix.s6_addr[8], 0, 8);
      char net[INET6_ADDRSTRLEN] = {};
      ::inet_ntop(AF_INET6, &prefix, net, sizeof net);
      return {fmt::format("{}/64", net), fmt::format("[{}]:{}", text, port)};
    }
  } else {
    return {};
  }
  return {text, fmt::format("{}:{}", text, port)};
}

}  // namespace

ConnectionGuard::ConnectionGuard(boost::asio::io_context& io, zmq::context_t& context,
                                 zmq::socket_t& socket, ConnectionLimits limits, Refusals& refusals)
    : grace_timer_(io),
      limits_(limits),
      refusals_(refusals),
      socket_(socket),
      monitor_endpoint_(fmt::format("inproc://bftgate-connection-guard-{}", next_monitor++)),
      monitor_(context, zmq::socket_type::pair) {
  if (::zmq_socket_monitor(socket_.handle(), monitor_endpoint_.c_str(),
                           ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_DISCONNECTED) != 0) {
    throw zmq::error_t();
  }
  monitor_.set(zmq::sockopt::linger, 0);
  // Unbounded: libzmq's I/O thread sends events blocking, and must never wait for this reader.
  monitor_.set(zmq::sockopt::rcvhwm, 0);
  monitor_.connect(monitor_endpoint_);
  reader_ = std::make_unique<ZmqReader>(
      io, monitor_, [this](std::vector<zmq::message_t>& frames) { on_event(frames); }, refusals_);
}

ConnectionGuard::~ConnectionGuard() {
  reader_.reset();
  ::zmq_socket_monitor(socket_.handle(), nullptr, 0);
}

void ConnectionGuard::start() {
  reader_->start();
}

void ConnectionGuard::seen(const zmq::message_t& frame) {
  int fd = const_cast<zmq::message_t&>(frame).get(ZMQ_SRCFD);
  auto it = connections_.find(fd);
  if (it == connections_.end()) return;
  it->second.last_active = std::chrono::steady_clock::now();
  if (!it->second.spoke) {
    it->second.spoke = true;
    it->second.member = member_of(frame).value_or("");
    // A newcomer over a cap has spoken: the cap is enforced now that its member is known.
    if (connections_.size() > limits_.max_connections) enforce();
  }
}

std::map<std::string, std::size_t> ConnectionGuard::members() const {
  std::map<std::string, std::size_t> counts;
  for (const auto& [fd, c] : connections_) {
    if (c.spoke) ++counts[c.member];
  }
  return counts;
}

void ConnectionGuard::on_event(std::vector<zmq::message_t>& frames) {
  // [u16 event | u32 value] [endpoint]; for these events the value is the connection's fd.
  if (frames.empty() || frames[0].size() < 6) return;
  std::uint16_t event = 0;
  std::uint32_t value = 0;
  std::memcpy(&event, frames[0].data(), 2);
  std::memcpy(&value, static_cast<const char*>(frames[0].data()) + 2, 4);
  const int fd = static_cast<int>(value);
  if (event == ZMQ_EVENT_ACCEPTED) {
    auto [address, peer] = peer_of(fd);
    if (address.empty()) return;
    const auto now = std::chrono::steady_clock::now();
    connections_[fd] = Connection{address, peer, now, now, false, ""};
    enforce();
  } else if (event == ZMQ_EVENT_DISCONNECTED) {
    connections_.erase(fd);
  }
}

int ConnectionGuard::victim(const std::string* address, std::size_t cap) const {
  const auto now = std::chrono::steady_clock::now();
  std::size_t count = 0;
  std::map<std::string, std::size_t> per_member;
  for (const auto& [fd, c] : connections_) {
    if (address != nullptr && c.address != *address) continue;
    ++count;
    if (c.spoke) ++per_member[c.member];
  }
  if (count <= cap) return -1;
  // 1. Silent past its grace (or, too far over the cap, silent at all): the oldest first.
  const bool crowded = count > cap + limits_.grace_slots;
  int chosen = -1;
  for (const auto& [fd, c] : connections_) {
    if ((address != nullptr && c.address != *address) || c.spoke) continue;
    if (!crowded && now - c.accepted < limits_.handshake_grace) continue;
    if (chosen < 0 || c.accepted < connections_.at(chosen).accepted) chosen = fd;
  }
  if (chosen >= 0) return chosen;
  // 2. While those that spoke are themselves over the cap: the idlest connection of the member
  // holding the most. (Newcomers within their grace wait to be judged.)
  std::size_t spoke = 0;
  for (const auto& [member, n] : per_member) spoke += n;
  if (spoke <= cap) return -1;
  for (const auto& [fd, c] : connections_) {
    if ((address != nullptr && c.address != *address) || !c.spoke) continue;
    if (chosen < 0) {
      chosen = fd;
      continue;
    }
    const auto& best = connections_.at(chosen);
    // c goes first if its member holds more, or as many and c has been idle longer.
    if (std::pair(per_member[c.member], best.last_active) >
        std::pair(per_member[best.member], c.last_active)) {
      chosen = fd;
    }
  }
  return chosen;  // -1: only newcomers within their grace are over the cap
}

void ConnectionGuard::enforce() {
  for (;;) {
    int fd = -1;
    const char* why = "per-listener";
    // Per address first: the newest arrival's address is the likely one, but any may be over.
    std::map<std::string, std::size_t> per_address;
    for (const auto& [_, c] : connections_) ++per_address[c.address];
    for (const auto& [address, count] : per_address) {
      if (count <= limits_.max_per_address) continue;
      fd = victim(&address, limits_.max_per_address);
      why = "per-address";
      if (fd >= 0) break;
    }
    if (fd < 0) {
      fd = victim(nullptr, limits_.max_connections);
      why = "per-listener";
    }
    if (fd < 0) break;
    evict(fd, why);
  }
  // Newcomers within their grace may still hold a cap exceeded: look again when it ends.
  if (connections_.size() > limits_.max_connections ||
      connections_.size() > limits_.max_per_address) {
    grace_timer_.expires_after(limits_.handshake_grace);
    grace_timer_.async_wait([this](const boost::system::error_code& ec) {
      if (!ec) enforce();
    });
  }
}

void ConnectionGuard::evict(int fd, const char* why) {
  auto it = connections_.find(fd);
  if (it == connections_.end()) return;
  // Only the connection recorded under this descriptor: a descriptor closed meanwhile and
  // reused by another socket is left alone.
  if (peer_of(fd).second == it->second.peer) ::shutdown(fd, SHUT_RDWR);
  ++evicted_;
  refusals_.refuse(
      "connection-cap",
      fmt::format("{} connections ({} cap of {} / {} per address): closed {} from {}{}",
                  connections_.size(), why, limits_.max_connections, limits_.max_per_address,
                  it->second.spoke ? "the idlest of the member holding the most" : "a silent one",
                  it->second.peer,
                  it->second.member.empty() ? "" : fmt::format(" ({})", it->second.member)));
  connections_.erase(it);
}

ConnectionLimits ConnectionLimits::for_open_file_limit(std::uint64_t open_files) {
  ConnectionLimits limits;
  const auto half = static_cast<std::size_t>(std::max<std::uint64_t>(open_files / 2, 16));
  limits.max_connections = std::min(limits.max_connections, half);
  limits.max_per_address = std::min(limits.max_per_address, limits.max_connections);
  return limits;
}

std::uint64_t raise_open_file_limit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return 0;
  if (limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    (void)::setrlimit(RLIMIT_NOFILE, &limit);
    (void)::getrlimit(RLIMIT_NOFILE, &limit);
  }
  return limit.rlim_cur;
}

void give_back_free_memory() {
  ::malloc_trim(0);
}

}  // namespace bftgate::runtime
