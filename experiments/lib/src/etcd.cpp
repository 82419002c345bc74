#include "bftgate/experiments/etcd.hpp"

#include <fmt/format.h>
#include <signal.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <cstdlib>
#include <random>
#include <sstream>
#include <thread>

#include "bftgate/base/strict_json.hpp"
#include "bftgate/experiments/experiment.hpp"
#include "bftgate/runtime/client/operator.hpp"
#include "bftgate/runtime/harness/local_processes.hpp"
#include "bftgate/runtime/net/http_get.hpp"

namespace bftgate::experiments::etcd {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using asio::awaitable;
using asio::use_awaitable;
using asio::ip::tcp;
using Clock = std::chrono::steady_clock;

std::optional<std::filesystem::path> find_binary() {
  return find_on_path("etcd");
}

namespace {

tcp::endpoint loopback(std::uint16_t port) {
  return {asio::ip::make_address_v4("127.0.0.1"), port};
}

// Who dialled a peer connection: the X-Server-From header of its first request (etcd member ids
// are hex); 0 when the request has none.
std::uint64_t dialler_of(std::string_view head) {
  constexpr std::string_view kHeader = "X-Server-From: ";
  auto at = head.find(kHeader);
  if (at == std::string_view::npos) return 0;
  auto end = head.find("\r\n", at);
  auto hex =
      head.substr(at + kHeader.size(), end == std::string_view::npos ? std::string_view::npos
                                                                     : end - at - kHeader.size());
  std::uint64_t id = 0;
  for (char c : hex) {
    int digit = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    if (digit < 0) return 0;
    id = id * 16 + static_cast<std::uint64_t>(digit);
  }
  return id;
}

// Shared by every proxy: the members' ids, the straggler and the byte count.
struct Fabric {
  std::vector<std::atomic<std::uint64_t>> ids;
  std::atomic<std::uint64_t> straggler{0};
  std::atomic<std::int64_t> straggler_max_us{0};
  std::atomic<std::uint64_t> bytes{0};
  explicit Fabric(std::size_t members) : ids(members) {}
};

struct Link {
  tcp::socket client;  // the dialling member
  tcp::socket server;  // the member this proxy stands for
  std::uint64_t dialler = 0;
  bool sniffed = false;
  Link(tcp::socket c, tcp::socket s) : client(std::move(c)), server(std::move(s)) {}
  void close() {
    boost::system::error_code ec;
    client.close(ec);
    server.close(ec);
  }
};

// One direction of a link. Toward the straggler, each chunk first waits its delay, one chunk
// after another, as a loop that processes one message at a time.
awaitable<void> pump(std::shared_ptr<Link> link, bool to_member, std::size_t member,
                     std::shared_ptr<Fabric> fabric) {
  auto& from = to_member ? link->client : link->server;
  auto& to = to_member ? link->server : link->client;
  std::vector<char> buffer(64 << 10);
  asio::steady_timer timer(co_await asio::this_coro::executor);
  std::mt19937_64 rng(std::random_device{}());
  try {
    for (;;) {
      auto n = co_await from.async_read_some(asio::buffer(buffer), use_awaitable);
      if (to_member && !link->sniffed) {
        link->sniffed = true;
        link->dialler = dialler_of(std::string_view(buffer.data(), n));
      }
      const auto straggler = fabric->straggler.load();
      const auto receiver = to_member ? fabric->ids[member].load() : link->dialler;
      if (straggler != 0 && receiver == straggler) {
        timer.expires_after(std::chrono::microseconds(
            std::uniform_int_distribution<std::int64_t>(0, fabric->straggler_max_us.load())(rng)));
        co_await timer.async_wait(use_awaitable);
      }
      co_await asio::async_write(to, asio::buffer(buffer.data(), n), use_awaitable);
      fabric->bytes += n;
    }
  } catch (const std::exception&) {
    // Either side closed: the link is over.
  }
  link->close();
}

awaitable<void> accept_links(tcp::acceptor& acceptor, std::uint16_t target, std::size_t member,
                             std::shared_ptr<Fabric> fabric) {
  auto executor = co_await asio::this_coro::executor;
  for (;;) {
    tcp::socket client(executor);
    try {
      client = co_await acceptor.async_accept(use_awaitable);
    } catch (const std::exception&) {
      co_return;  // the acceptor closed
    }
    tcp::socket server(executor);
    boost::system::error_code ec;
    co_await server.async_connect(loopback(target), asio::redirect_error(use_awaitable, ec));
    if (ec) continue;  // the member is down: the dialler sees the connection close
    client.set_option(tcp::no_delay(true), ec);
    server.set_option(tcp::no_delay(true), ec);
    auto link = std::make_shared<Link>(std::move(client), std::move(server));
    asio::co_spawn(executor, pump(link, true, member, fabric), asio::detached);
    asio::co_spawn(executor, pump(link, false, member, fabric), asio::detached);
  }
}

Result<nlohmann::json> stats_self(std::uint16_t client_port) {
  auto body = runtime::http_get(client_port, "/v2/stats/self");
  if (!body) return body.error();
  auto parsed = parse_json(*body);
  if (!parsed || !parsed->is_object()) return Error{"etcd's /v2/stats/self is not a JSON object"};
  return *parsed;
}

}  // namespace

struct Cluster::State {
  ClusterOptions options;
  std::uint16_t base = 0;  // clients at base + i, members' peer listeners at base + n + i,
                           // their proxies at base + 2n + i
  std::size_t leader = 0;
  std::shared_ptr<Fabric> fabric;
  asio::io_context io;
  std::vector<std::unique_ptr<tcp::acceptor>> acceptors;
  std::thread proxies;
  runtime::ChildProcesses processes;

  std::size_t n() const { return options.members; }
  std::uint16_t client_port(std::size_t i) const { return static_cast<std::uint16_t>(base + i); }
  std::uint16_t peer_port(std::size_t i) const {
    return static_cast<std::uint16_t>(base + n() + i);
  }
  std::uint16_t proxy_port(std::size_t i) const {
    return static_cast<std::uint16_t>(base + 2 * n() + i);
  }
  static std::string name(std::size_t i) { return fmt::format("etcd-{}", i); }

  void stop_proxies() {
    if (!proxies.joinable()) return;
    io.stop();
    proxies.join();
  }
};

Cluster::Cluster(std::unique_ptr<State> state) : state_(std::move(state)) {}

Cluster::~Cluster() {
  stop();
}

Result<std::unique_ptr<Cluster>> Cluster::start(const ClusterOptions& options) {
  auto state = std::make_unique<State>();
  state->options = options;
  const auto n = options.members;
  auto base = runtime::free_port_range(static_cast<int>(3 * n));
  if (!base) return Error{"no free port range on 127.0.0.1 for etcd"};
  state->base = *base;
  state->fabric = std::make_shared<Fabric>(n);
  try {
    for (std::size_t i = 0; i < n && options.proxied; ++i) {
      auto acceptor = std::make_unique<tcp::acceptor>(state->io, loopback(state->proxy_port(i)));
      asio::co_spawn(state->io, accept_links(*acceptor, state->peer_port(i), i, state->fabric),
                     asio::detached);
      state->acceptors.push_back(std::move(acceptor));
    }
  } catch (const std::exception& e) {
    return Error{fmt::format("etcd peer proxies: {}", e.what())};
  }
  auto* io = &state->io;
  if (options.proxied) state->proxies = std::thread([io] { io->run(); });
  std::unique_ptr<Cluster> cluster(new Cluster(std::move(state)));
  auto& s = *cluster->state_;

  // What each member advertises to its peers: its proxy, or its own peer listener.
  const auto advertised = [&](std::size_t i) {
    return fmt::format("http://127.0.0.1:{}", options.proxied ? s.proxy_port(i) : s.peer_port(i));
  };
  std::string initial;
  for (std::size_t i = 0; i < n; ++i) {
    initial += fmt::format("{}{}={}", i ? "," : "", State::name(i), advertised(i));
  }
  std::error_code ec;
  std::filesystem::create_directories(options.dir, ec);
  if (ec) return Error{fmt::format("cannot create {}: {}", options.dir.string(), ec.message())};
  for (std::size_t i = 0; i < n; ++i) {
    const auto client = fmt::format("http://127.0.0.1:{}", s.client_port(i));
    auto spawned = s.processes.spawn(State::name(i),
                                     {options.binary.string(),
                                      "--name",
                                      State::name(i),
                                      "--data-dir",
                                      (options.dir / State::name(i)).string(),
                                      "--listen-client-urls",
                                      client,
                                      "--advertise-client-urls",
                                      client,
                                      "--listen-peer-urls",
                                      fmt::format("http://127.0.0.1:{}", s.peer_port(i)),
                                      "--initial-advertise-peer-urls",
                                      advertised(i),
                                      "--initial-cluster",
                                      initial,
                                      "--initial-cluster-token",
                                      fmt::format("bftgate-{}", s.base),
                                      "--initial-cluster-state",
                                      "new",
                                      "--enable-v2",
                                      "--logger",
                                      "zap",
                                      "--log-level",
                                      "warn"},
                                     options.dir / (State::name(i) + ".log"));
    if (!spawned) return spawned.error();
  }
  // Up: every member reports its id and one of them leads.
  const auto deadline = Clock::now() + options.start_timeout;
  for (;;) {
    std::optional<std::size_t> leader;
    std::size_t up = 0;
    for (std::size_t i = 0; i < n; ++i) {
      auto stats = stats_self(s.client_port(i));
      if (!stats) continue;
      auto id = stats->value("id", std::string());
      std::uint64_t parsed = dialler_of("X-Server-From: " + id + "\r\n");
      if (parsed == 0) continue;
      s.fabric->ids[i] = parsed;
      ++up;
      if (stats->value("state", std::string()) == "StateLeader") leader = i;
    }
    if (up == n && leader) {
      s.leader = *leader;
      break;
    }
    if (Clock::now() > deadline) {
      return Error{fmt::format("etcd did not elect a leader within {} s (logs in {})",
                               options.start_timeout.count(), options.dir.string())};
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  auto probe = run_puts(s.client_port(s.leader), 1, 1, 8, nullptr, std::chrono::seconds(10));
  if (!probe) return Error{"etcd's leader does not take puts: " + probe.error().message};
  return cluster;
}

std::size_t Cluster::members() const {
  return state_->n();
}
std::size_t Cluster::leader() const {
  return state_->leader;
}
std::uint16_t Cluster::client_port(std::size_t member) const {
  return state_->client_port(member);
}

void Cluster::make_straggler(std::size_t member, std::chrono::microseconds max) {
  state_->fabric->straggler_max_us = max.count();
  state_->fabric->straggler = state_->fabric->ids.at(member).load();
}

void Cluster::crash(std::size_t member) {
  state_->processes.signal_and_wait(State::name(member), SIGKILL);
}

std::vector<std::string> Cluster::stop() {
  if (!state_) return {};
  // etcd answers SIGTERM by shutting down and re-raising it: 128 + SIGTERM is its clean exit.
  auto failed = state_->processes.stop_all(std::chrono::milliseconds(10'000), {0, 128 + SIGTERM});
  state_->stop_proxies();
  return failed;
}

bool Cluster::running() const {
  return state_->processes.size() > 0;
}

std::uint64_t Cluster::peer_bytes() const {
  return state_->fabric->bytes.load();
}

Result<std::vector<double>> run_puts(std::uint16_t client_port, std::size_t count,
                                     std::size_t in_flight, std::size_t value_bytes,
                                     const std::function<void(std::size_t)>& on_complete,
                                     std::chrono::seconds timeout) {
  asio::io_context io;
  std::vector<double> latencies;
  std::size_t next = 0;
  std::optional<std::string> failure;
  const std::string body = "value=" + std::string(value_bytes, 'v');
  auto worker = [&]() -> awaitable<void> {
    tcp::socket socket(co_await asio::this_coro::executor);
    co_await socket.async_connect(loopback(client_port), use_awaitable);
    socket.set_option(tcp::no_delay(true));
    boost::beast::flat_buffer buffer;
    while (next < count && !failure) {
      const auto k = next++;
      http::request<http::string_body> request{http::verb::put,
                                               fmt::format("/v2/keys/bftgate/k{}", k % 1024), 11};
      request.set(http::field::host, "127.0.0.1");
      request.set(http::field::content_type, "application/x-www-form-urlencoded");
      request.body() = body;
      request.prepare_payload();
      const auto start = Clock::now();
      co_await http::async_write(socket, request, use_awaitable);
      http::response<http::string_body> response;
      co_await http::async_read(socket, buffer, response, use_awaitable);
      if (response.result() != http::status::ok && response.result() != http::status::created) {
        failure = fmt::format("put answered HTTP {}: {}", response.result_int(),
                              printable(response.body(), 200));
        co_return;
      }
      latencies.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
      if (on_complete) on_complete(latencies.size());
    }
  };
  for (std::size_t c = 0; c < std::min(in_flight, count); ++c) {
    asio::co_spawn(io, worker(), [&](std::exception_ptr error) {
      if (!error || failure) return;
      try {
        std::rethrow_exception(error);
      } catch (const std::exception& e) {
        failure = fmt::format("etcd client: {}", e.what());
      }
    });
  }
  io.run_for(timeout);
  if (failure) return Error{*failure};
  if (latencies.size() < count) {
    return Error{fmt::format("{} of {} puts completed within {} s", latencies.size(), count,
                             timeout.count())};
  }
  return latencies;
}

}  // namespace bftgate::experiments::etcd
