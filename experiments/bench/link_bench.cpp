// What CurveZMQ costs a link (runtime/net/link_security.hpp), A/B in one run: a DEALER client
// and a ROUTER that echoes, on 127.0.0.1, in plaintext and under CURVE with the ZAP handler
// admitting the client's key (the handshake happens before timing starts).
//
//   RoundTrip     one 256-byte message there and back, the two links interleaved in every
//                 iteration (the side that goes first alternates): counters plaintext_us,
//                 curve_us (medians) and ratio_curve_vs_plaintext (median of the per-iteration
//                 ratios). The time reported (manual) is the CURVE side.
//   Pipelined     1,000 messages of 1 KiB sent back to back, then their 1,000 echoes: items/s
//                 and bytes/s (both directions) for each link, as two benchmarks.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>
#include <zmq.hpp>

#include "bftgate/runtime/harness/local_processes.hpp"
#include "bftgate/runtime/net/link_security.hpp"

namespace {

using bftgate::runtime::LinkIdentity;
using bftgate::runtime::LinkMembers;
using Clock = std::chrono::steady_clock;

// A ROUTER that echoes every message, and a DEALER client connected to it.
class EchoLink {
 public:
  explicit EchoLink(bool curve)
      : server_key_(bftgate::crypto::SecretKey::generate()),
        client_key_(bftgate::crypto::SecretKey::generate()),
        router_(server_context_, zmq::socket_type::router),
        dealer_(client_context_, zmq::socket_type::dealer) {
    auto port = bftgate::runtime::free_port_range(1);
    if (!port) throw std::runtime_error("no free port on 127.0.0.1");
    const auto endpoint = "tcp://127.0.0.1:" + std::to_string(*port);
    LinkMembers members;
    members.add(client_key_.public_key(), "validator-0");
    if (curve) {
      zap_ = std::make_unique<bftgate::runtime::ZapHandler>(io_, server_context_,
                                                            std::move(members), refusals_);
      zap_->start();
    }
    zap_thread_ = std::thread([this] {
      auto work = boost::asio::make_work_guard(io_);
      io_.run();
    });
    router_.set(zmq::sockopt::linger, 0);
    router_.set(zmq::sockopt::sndhwm, 0);
    router_.set(zmq::sockopt::rcvhwm, 0);
    if (curve) LinkIdentity(server_key_).make_server(router_);
    router_.bind(endpoint);
    echo_thread_ = std::thread([this] { echo(); });
    dealer_.set(zmq::sockopt::linger, 0);
    dealer_.set(zmq::sockopt::sndhwm, 0);
    dealer_.set(zmq::sockopt::rcvhwm, 0);
    if (curve && !LinkIdentity(client_key_).make_client(dealer_, server_key_.public_key()))
      throw std::runtime_error("the server key has no X25519 form");
    dealer_.connect(endpoint);
    round_trip(std::string(16, 'w'));  // the handshake, before any timing
  }
  ~EchoLink() {
    stop_ = true;
    echo_thread_.join();
    io_.stop();
    zap_thread_.join();
  }

  void round_trip(const std::string& payload) {
    (void)dealer_.send(zmq::buffer(payload), zmq::send_flags::none);
    zmq::message_t echo;
    (void)dealer_.recv(echo, zmq::recv_flags::none);
  }
  void pipelined(const std::string& payload, int count) {
    for (int i = 0; i < count; ++i) (void)dealer_.send(zmq::buffer(payload), zmq::send_flags::none);
    zmq::message_t echo;
    for (int i = 0; i < count; ++i) (void)dealer_.recv(echo, zmq::recv_flags::none);
  }

 private:
  void echo() {
    std::vector<zmq::pollitem_t> items = {{router_.handle(), 0, ZMQ_POLLIN, 0}};
    while (!stop_) {
      if (zmq::poll(items, std::chrono::milliseconds(50)) <= 0) continue;
      for (;;) {
        zmq::message_t route;
        if (!router_.recv(route, zmq::recv_flags::dontwait)) break;
        zmq::message_t payload;
        (void)router_.recv(payload, zmq::recv_flags::none);
        (void)router_.send(route, zmq::send_flags::sndmore);
        (void)router_.send(payload, zmq::send_flags::none);
      }
    }
  }

  bftgate::crypto::SecretKey server_key_;
  bftgate::crypto::SecretKey client_key_;
  boost::asio::io_context io_;
  bftgate::runtime::Refusals refusals_{"link bench"};
  zmq::context_t server_context_;
  zmq::context_t client_context_;
  std::unique_ptr<bftgate::runtime::ZapHandler> zap_;
  zmq::socket_t router_;
  zmq::socket_t dealer_;
  std::atomic<bool> stop_ = false;
  std::thread zap_thread_;
  std::thread echo_thread_;
};

double median(std::vector<double> values) {
  if (values.empty()) return 0;
  const auto middle = values.begin() + static_cast<std::ptrdiff_t>(values.size() / 2);
  std::nth_element(values.begin(), middle, values.end());
  return *middle;
}

void BM_LinkRoundTrip(benchmark::State& state) {
  EchoLink plaintext(false);
  EchoLink curve(true);
  const std::string payload(256, 'p');
  std::vector<double> plaintext_us, curve_us, ratios;
  bool curve_first = false;
  for (auto _ : state) {
    auto time = [&](EchoLink& link) {
      auto start = Clock::now();
      link.round_trip(payload);
      return std::chrono::duration<double, std::micro>(Clock::now() - start).count();
    };
    double p = 0, c = 0;
    if (curve_first) {
      c = time(curve);
      p = time(plaintext);
    } else {
      p = time(plaintext);
      c = time(curve);
    }
    curve_first = !curve_first;
    plaintext_us.push_back(p);
    curve_us.push_back(c);
    ratios.push_back(c / p);
    state.SetIterationTime(c / 1e6);
  }
  state.counters["plaintext_us"] = median(plaintext_us);
  state.counters["curve_us"] = median(curve_us);
  state.counters["ratio_curve_vs_plaintext"] = median(ratios);
}
BENCHMARK(BM_LinkRoundTrip)->UseManualTime()->Unit(benchmark::kMicrosecond);

void BM_LinkPipelined(benchmark::State& state) {
  const bool curve = state.range(0) != 0;
  EchoLink link(curve);
  const std::string payload(1024, 'p');
  constexpr int kMessages = 1000;
  for (auto _ : state) link.pipelined(payload, kMessages);
  state.SetItemsProcessed(state.iterations() * kMessages);
  state.SetBytesProcessed(state.iterations() * kMessages * 2 * 1024);
  state.SetLabel(curve ? "curve" : "plaintext");
}
// Real time: the work is in the echo thread and libzmq's I/O threads, not this one.
BENCHMARK(BM_LinkPipelined)->Arg(0)->Arg(1)->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
