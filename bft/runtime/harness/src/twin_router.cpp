#include "bftgate/runtime/harness/twin_router.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <charconv>
#include <csignal>
#include <map>
#include <thread>
#include <vector>
#include <zmq.hpp>

#include "bftgate/config/cluster_config.hpp"
#include "bftgate/runtime/net/link_security.hpp"

namespace bftgate::runtime {

namespace {

std::atomic<bool> g_stop{false};
void on_signal(int) {
  g_stop = true;
}

}  // namespace

char twin_side_of(std::string_view routing_id, const std::set<std::uint32_t>& side_b) {
  constexpr std::string_view kPrefix = "validator-";
  if (!routing_id.starts_with(kPrefix)) return 'A';
  routing_id.remove_prefix(kPrefix.size());
  std::uint32_t id = 0;
  auto [end, ec] = std::from_chars(routing_id.data(), routing_id.data() + routing_id.size(), id);
  if (ec != std::errc() || end == routing_id.data()) return 'A';
  return side_b.contains(id) ? 'B' : 'A';
}

int run_twin_router(const TwinRouterOptions& options) {
  auto config = ClusterConfig::load(options.config);
  if (!config) {
    spdlog::error("twin router: {}", config.error().message);
    return 1;
  }
  const auto* self = config->find_validator(options.id);
  if (self == nullptr) {
    spdlog::error("twin router: validator id {} is not in {}", options.id, options.config.string());
    return 1;
  }
  for (auto id : options.side_b) {
    if (config->find_validator(id) == nullptr || id == options.id) {
      spdlog::error("twin router: {} is not another validator of the cluster", id);
      return 1;
    }
  }
  auto security = LinkSecurity::insecure_plaintext();
  if (!options.insecure_plaintext) {
    if (options.key.empty()) {
      spdlog::error("twin router: give validator {}'s key (--key), or --insecure-plaintext",
                    options.id);
      return 1;
    }
    auto secured = LinkSecurity::for_member(*config, options.key);
    if (!secured) {
      spdlog::error("twin router: {}", secured.error().message);
      return 1;
    }
    if (secured->member_name() != fmt::format("validator-{}", options.id)) {
      spdlog::error("twin router: {} is not validator {}'s key", options.key.string(), options.id);
      return 1;
    }
    security = std::move(secured.value());
  }
  std::signal(SIGTERM, on_signal);
  std::signal(SIGINT, on_signal);

  zmq::context_t context;
  // The ZAP handler answers on its own thread: this loop polls sockets, not an io_context.
  Refusals refusals("twin router");
  boost::asio::io_context zap_io;
  auto zap = security.zap_handler(zap_io, context, refusals);
  std::thread zap_thread;
  if (zap) {
    zap->start();
    zap_thread = std::thread([&zap_io] { zap_io.run(); });
  }
  struct StopZap {
    boost::asio::io_context& io;
    std::thread& thread;
    ~StopZap() {
      io.stop();
      if (thread.joinable()) thread.join();
    }
  } stop_zap{zap_io, zap_thread};
  zmq::socket_t front(context, zmq::socket_type::router);
  front.set(zmq::sockopt::linger, 0);
  security.secure_server(front);
  if (auto s = check_bindable(self->endpoint); !s) {
    spdlog::error("twin router: cannot listen on {}: {}", self->endpoint, s.error().message);
    return 1;
  }
  try {
    front.bind(self->endpoint);
  } catch (const zmq::error_t& e) {
    spdlog::error("twin router: cannot listen on {}: {}", self->endpoint, e.what());
    return 1;
  }
  // One DEALER per sender, towards its twin, carrying the sender's own routing id: the twin sees
  // each sender as a distinct peer and its replies come back on that socket.
  struct Link {
    std::string route;
    zmq::socket_t socket;
  };
  std::vector<Link> links;
  std::map<std::string, std::size_t> link_of;
  std::uint64_t forwarded_a = 0;
  std::uint64_t forwarded_b = 0;
  spdlog::info(
      "twin router: validator {} at {} split: validators {} -> twin B {}, everyone else -> twin A "
      "{}",
      options.id, self->endpoint, fmt::join(options.side_b, ","), options.twin_b, options.twin_a);

  while (!g_stop) {
    std::vector<zmq::pollitem_t> items{{front.handle(), 0, ZMQ_POLLIN, 0}};
    for (auto& link : links) items.push_back({link.socket.handle(), 0, ZMQ_POLLIN, 0});
    try {
      zmq::poll(items, std::chrono::milliseconds(100));
    } catch (const zmq::error_t& e) {
      if (e.num() == EINTR) continue;
      throw;
    }
    if (items[0].revents & ZMQ_POLLIN) {
      for (;;) {
        zmq::message_t route;
        if (!front.recv(route, zmq::recv_flags::dontwait)) break;
        zmq::message_t payload;
        if (!route.more() || !front.recv(payload, zmq::recv_flags::dontwait)) continue;
        while (payload.more()) {  // only [route][payload] frames are ours; drop the rest
          zmq::message_t extra;
          if (!front.recv(extra, zmq::recv_flags::dontwait)) break;
        }
        std::string id = route.to_string();
        char side = twin_side_of(id, options.side_b);
        auto key = id + '\0' + side;
        auto it = link_of.find(key);
        if (it == link_of.end()) {
          zmq::socket_t socket(context, zmq::socket_type::dealer);
          socket.set(zmq::sockopt::linger, 0);
          socket.set(zmq::sockopt::routing_id, id);
          // The twins listen under the identity's key, and admit it (it is a member).
          (void)security.secure_client(socket, self->public_key);
          socket.connect(side == 'B' ? options.twin_b : options.twin_a);
          links.push_back({id, std::move(socket)});
          it = link_of.emplace(key, links.size() - 1).first;
        }
        (void)links[it->second].socket.send(payload, zmq::send_flags::dontwait);
        ++(side == 'B' ? forwarded_b : forwarded_a);
      }
    }
    for (std::size_t i = 1; i < items.size(); ++i) {
      if (!(items[i].revents & ZMQ_POLLIN)) continue;
      auto& link = links[i - 1];
      zmq::message_t payload;
      while (link.socket.recv(payload, zmq::recv_flags::dontwait)) {
        (void)front.send(zmq::buffer(link.route),
                         zmq::send_flags::sndmore | zmq::send_flags::dontwait);
        (void)front.send(payload, zmq::send_flags::dontwait);
      }
    }
  }
  spdlog::info("twin router: stopped ({} frames to twin A, {} to twin B, {} senders)", forwarded_a,
               forwarded_b, links.size());
  return 0;
}

}  // namespace bftgate::runtime
