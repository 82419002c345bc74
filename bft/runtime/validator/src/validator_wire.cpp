#include "validator_wire.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <boost/asio/steady_timer.hpp>
#include <string_view>
#include <vector>

#include "bftgate/base/strict_json.hpp"
#include "bftgate/core/messages.hpp"
#include "bftgate/runtime/net/envelope.hpp"

namespace bftgate::runtime {

namespace {

using bft::Outbound;

// The largest protocol frame is a state transfer; 64 MiB holds a register far larger than any
// experiment makes (the log is pruned to its newest records).
constexpr std::int64_t kMaxFrameBytes = 64 << 20;
// Messages one connection may queue in each direction (runtime/connection_guard.hpp caps the
// connections).
constexpr int kQueuedMessages = 256;
// Routes of clients awaiting replies, one per (client, request id); the oldest are forgotten.
constexpr std::size_t kMaxClientRoutes = 4096;
// ZMTP heartbeats on every link: a peer whose host died or was cut off (no FIN, no RST) is
// noticed within the timeout, and the link reconnects instead of queueing into a dead socket.
constexpr int kHeartbeatIntervalMs = 1000;
constexpr int kHeartbeatTimeoutMs = 5000;
// What peers' links to this validator are named (connect_peers); see remember_route.
constexpr std::string_view kPeerLinkPrefix = "validator-";

void set_heartbeats(zmq::socket_t& socket) {
  socket.set(zmq::sockopt::heartbeat_ivl, kHeartbeatIntervalMs);
  socket.set(zmq::sockopt::heartbeat_timeout, kHeartbeatTimeoutMs);
  socket.set(zmq::sockopt::heartbeat_ttl, kHeartbeatTimeoutMs);
}

std::string describe_destination(const Outbound& out) {
  switch (out.to) {
    case Outbound::To::kAllReplicas:
      return "all";
    case Outbound::To::kReplica:
      return fmt::format("replica {}", out.destination);
    case Outbound::To::kClient:
      return fmt::format("client {}", out.destination);
  }
  return "?";
}

}  // namespace

std::optional<std::string> role_refusal(const std::optional<std::string>& member,
                                        const bft::MessagePtr* message) {
  if (!member || member->starts_with("validator-")) return std::nullopt;
  if (*member != "operator") {
    return fmt::format("a protocol message from {}, which may only query", printable(*member));
  }
  if (message != nullptr && (*message)->as<bft::Request>() == nullptr) {
    return fmt::format("a {} from the operator, which may only send requests",
                       bft::describe(**message));
  }
  return std::nullopt;
}

ValidatorWire::ValidatorWire(boost::asio::io_context& io, std::uint32_t validator,
                             LinkFaults faults, Refusals& refusals, LinkSecurity security)
    : io_(io),
      validator_(validator),
      faults_(std::move(faults)),
      refusals_(refusals),
      security_(std::move(security)),
      router_(context_, zmq::socket_type::router) {}

ValidatorWire::~ValidatorWire() = default;

Status ValidatorWire::listen(const std::string& endpoint, const ConnectionLimits& limits) {
  router_.set(zmq::sockopt::linger, 0);
  router_.set(zmq::sockopt::router_mandatory, 0);
  router_.set(zmq::sockopt::maxmsgsize, kMaxFrameBytes);  // a bigger frame disconnects its sender
  // What one connection can queue here: replies and answers it does not read are dropped past
  // kQueuedMessages (it asked and did not read), and its messages wait in at most as many.
  router_.set(zmq::sockopt::sndhwm, kQueuedMessages);
  router_.set(zmq::sockopt::rcvhwm, kQueuedMessages);
  set_heartbeats(router_);
  zap_ = security_.zap_handler(io_, context_, refusals_);
  security_.secure_server(router_);
  guard_ = std::make_unique<ConnectionGuard>(io_, context_, router_, limits, refusals_);
  if (auto s = check_bindable(endpoint); !s) return s;
  try {
    router_.bind(endpoint);
  } catch (const zmq::error_t& e) {
    return Error{e.what()};
  }
  return ok_status();
}

Status ValidatorWire::connect_peers(const ClusterConfig& config) {
  for (const auto& peer : config.validators) {
    if (peer.id == validator_) continue;
    auto& link =
        peers_
            .emplace(peer.id, PeerLink{zmq::socket_t(context_, zmq::socket_type::dealer), nullptr})
            .first->second;
    auto& socket = link.socket;
    socket.set(zmq::sockopt::linger, 0);
    socket.set(zmq::sockopt::sndhwm, 100'000);
    // Nothing should come back on these links (peers answer on their own links): what does is
    // read, counted and dropped, and a frame over 64 KiB closes the link.
    socket.set(zmq::sockopt::rcvhwm, 16);
    socket.set(zmq::sockopt::maxmsgsize, std::int64_t{64} << 10);
    set_heartbeats(socket);
    // Unique per process (twins share an id): "validator-<id>-<pid>" (runtime/twin_router.hpp).
    socket.set(zmq::sockopt::routing_id,
               fmt::format("{}{}-{}", kPeerLinkPrefix, validator_, ::getpid()));
    if (!security_.secure_client(socket, peer.public_key)) {
      return Error{fmt::format("validator {}'s key has no X25519 form: no link to it", peer.id)};
    }
    socket.connect(peer.endpoint);
    link.reader = std::make_unique<ZmqReader>(
        io_, socket,
        [this, id = peer.id](std::vector<zmq::message_t>&) {
          refusals_.refuse("peer-link", fmt::format("a message back on the link to validator {}, "
                                                    "which carries nothing back",
                                                    id));
        },
        refusals_);
  }
  return ok_status();
}

void ValidatorWire::start(ZmqReader::Handler on_frames, ZmqReader::Drained on_drained) {
  reader_ = std::make_unique<ZmqReader>(io_, router_, std::move(on_frames), refusals_,
                                        std::move(on_drained));
  if (zap_) zap_->start();
  reader_->start();
  guard_->start();
  for (auto& [peer, link] : peers_) {
    if (link.reader) link.reader->start();
  }
}

void ValidatorWire::remember_route(RouteKey key, const std::string& route) {
  if (route.starts_with(kPeerLinkPrefix)) return;
  auto [it, inserted] = client_routes_.insert_or_assign(key, route);
  if (!inserted) return;
  route_order_.push_back(key);
  while (route_order_.size() > kMaxClientRoutes) {
    client_routes_.erase(route_order_.front());
    route_order_.pop_front();
  }
}

void ValidatorWire::send_route(const std::string& route, const Bytes& frame) {
  router_.send(zmq::buffer(route), zmq::send_flags::sndmore | zmq::send_flags::dontwait);
  router_.send(zmq::buffer(frame), zmq::send_flags::dontwait);
  reader_->drain();
}

bool ValidatorWire::send_reply(const RouteKey& key, const Bytes& frame) {
  auto route = client_routes_.find(key);
  if (route == client_routes_.end()) return false;
  send_route(route->second, frame);
  return true;
}

void ValidatorWire::send_to_peers(const Bytes& frame) {
  for (const auto& [peer, socket] : peers_) send_peer(peer, frame);
}

void ValidatorWire::send_timed(const bft::TimedOutbound& timed) {
  if (timed.delay.count() > 0) {
    auto timer = std::make_shared<boost::asio::steady_timer>(io_, timed.delay);
    timer->async_wait([this, timer, out = timed.outbound](const boost::system::error_code& ec) {
      if (!ec) send_out(out);
    });
  } else {
    send_out(timed.outbound);
  }
}

void ValidatorWire::send_out(const Outbound& out) {
  if (spdlog::should_log(spdlog::level::debug)) {
    spdlog::debug("validator {}: -> {} {}", validator_, describe_destination(out),
                  bft::describe(*out.message));
  }
  auto frame = make_envelope(EnvelopeKind::kProtocol, out.message->wire());
  switch (out.to) {
    case Outbound::To::kAllReplicas:
      send_to_peers(frame);
      break;
    case Outbound::To::kReplica:
      send_peer(out.destination, frame);
      break;
    case Outbound::To::kClient:
      if (const auto* reply = out.message->as<bft::Reply>())
        (void)send_reply({out.destination, reply->request_id}, frame);
      break;
  }
}

void ValidatorWire::send_peer(bft::ReplicaId peer, const Bytes& frame) {
  auto fate = faults_.outgoing(peer, std::chrono::steady_clock::now());
  if (!fate) return;  // injected loss or partition
  if (fate->count() > 0) {
    auto timer = std::make_shared<boost::asio::steady_timer>(io_, *fate);
    timer->async_wait([this, timer, peer, frame](const boost::system::error_code& ec) {
      if (!ec) send_peer_now(peer, frame);
    });
    return;
  }
  send_peer_now(peer, frame);
}

void ValidatorWire::send_peer_now(bft::ReplicaId peer, const Bytes& frame) {
  auto it = peers_.find(peer);
  if (it == peers_.end()) return;
  auto& link = it->second;
  // A full queue drops: retransmission covers it.
  (void)link.socket.send(zmq::buffer(frame), zmq::send_flags::dontwait);
  if (link.reader) link.reader->drain();  // a send may consume the socket's edge (zmq_reader.hpp)
}

}  // namespace bftgate::runtime
