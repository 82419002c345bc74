// The loopback benchmarks' cluster (loopback_bench.cpp): n = 4 `bftgate validator` processes on
// 127.0.0.1 and a client in this process, kept for the whole run, and the two measures taken on
// it: one decision at a time and a window of requests in flight.
#pragma once

#include <benchmark/benchmark.h>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <unordered_set>
#include <vector>

#include "bftgate/cluster/ed25519_signer.hpp"
#include "bftgate/config/cluster_setup.hpp"
#include "bftgate/core/messages.hpp"
#include "bftgate/core/signer.hpp"
#include "bftgate/crypto/ed25519.hpp"
#include "bftgate/runtime/client/cluster_client.hpp"
#include "bftgate/runtime/client/operator.hpp"
#include "bftgate/runtime/client/request_pipeline.hpp"
#include "bftgate/runtime/harness/local_processes.hpp"
#include "bftgate/runtime/net/envelope.hpp"
#include "bftgate/runtime/net/http_get.hpp"

namespace bftgate::loopback_bench {

using Clock = std::chrono::steady_clock;

inline constexpr std::size_t kValidators = 4;

// The validators run this build's bftgate, or the one BFTGATE_BENCH_VALIDATOR names (to measure
// another build of the validator against this one, A/B; it must take the same flags, CURVE links
// included).
inline std::string validator_binary() {
  const char* other = std::getenv("BFTGATE_BENCH_VALIDATOR");
  return other != nullptr && *other != '\0' ? other : BFTGATE_BINARY;
}

// A cluster of validator processes and a client with requests in flight. Its links are CURVE
// (the client holds the operator's key), or plaintext everywhere with `plaintext`
// (--insecure-plaintext: what CURVE costs, A/B).
class LoopbackCluster {
 public:
  explicit LoopbackCluster(bool wal_on_tmpfs, bool plaintext = false) {
    auto root =
        wal_on_tmpfs ? std::filesystem::path("/dev/shm") : std::filesystem::temp_directory_path();
    dir_ = root / fmt::format("bftgate-loopback-{}-{}", ::getpid(), plaintext ? "plain" : "curve");
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    // The validators, the (unused) store, then each validator's /metrics.
    auto base = runtime::free_port_range(static_cast<int>(2 * kValidators) + 2);
    if (!base) throw std::runtime_error("no free port range on 127.0.0.1");
    ClusterSpec spec;
    spec.validators = kValidators;
    spec.inference_nodes = 0;
    spec.base_port = *base;
    spec.cluster_id = "loopback-bench";
    auto generated = generate_cluster(spec);
    if (!generated) throw std::runtime_error(generated.error().message);
    auto files = write_cluster(*generated, dir_);
    if (!files) throw std::runtime_error(files.error().message);
    config_ = generated->config;
    std::array<std::uint8_t, crypto::kSeedSize> seed{};
    generated->operator_key.copy_seed_to(seed);
    for (std::size_t i = 0; i < kValidators; ++i) {
      auto id = std::to_string(i);
      std::vector<std::string> argv = {validator_binary(),
                                       "validator",
                                       "--config",
                                       files->config.string(),
                                       "--id",
                                       id,
                                       "--key",
                                       files->validator_keys[i].string(),
                                       "--data",
                                       (dir_ / ("data-" + id)).string(),
                                       "--validate-cmd",
                                       "true",
                                       "--log-level",
                                       "warn"};
      if (plaintext) argv.emplace_back("--insecure-plaintext");
      // Another build may not have /metrics: only this one's validators are asked for it.
      if (validator_binary() == BFTGATE_BINARY) {
        metrics_ports_.push_back(static_cast<std::uint16_t>(*base + kValidators + 2 + i));
        argv.insert(argv.end(), {"--metrics-port", std::to_string(metrics_ports_.back())});
      }
      auto status = processes_.spawn(id, argv, dir_ / ("validator-" + id + ".log"));
      if (!status) throw std::runtime_error(status.error().message);
    }
    link_ = plaintext ? runtime::LinkSecurity::insecure_plaintext()
                      : runtime::LinkSecurity::curve(generated->operator_key, config_);
    auto signer = std::make_shared<bft::Ed25519Signer>(bft::kOperatorPrincipal,
                                                       crypto::SecretKey::from_seed(seed));
    signed_ = std::make_unique<runtime::RequestPipeline>(config_, signer, link_);
    mac_ = std::make_unique<runtime::RequestPipeline>(config_, signer, link_,
                                                      runtime::ClientAuth::kMac);
    client_ = signed_.get();
    // Ready once a request goes all the way through.
    auto deadline = Clock::now() + std::chrono::seconds(30);
    while (Clock::now() < deadline) {
      if (run_one(std::chrono::milliseconds(500))) return;
    }
    throw std::runtime_error("the loopback cluster did not answer within 30 s; logs in " +
                             dir_.string());
  }

  ~LoopbackCluster() {
    processes_.stop_all();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  // Sends one null request and waits for it: true when f+1 verified replies matched in time.
  bool run_one(std::chrono::milliseconds timeout) {
    auto id = send_next();
    auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
      receive(std::chrono::milliseconds(5));
      if (done_.erase(id) > 0) return true;
    }
    client_->forget(id);
    return false;
  }

  std::uint64_t send_next() { return client_->send(); }  // a null request

  // Which client sends from now on: signed requests, or MAC'd ones in a session (false when the
  // validators do not answer it, as a build from before sessions would not).
  bool use(runtime::ClientAuth auth) {
    auto* next = auth == runtime::ClientAuth::kMac ? mac_.get() : signed_.get();
    if (next == client_) return true;
    done_.clear();
    next->continue_from(client_->next_id());  // one client principal: its ids keep increasing
    client_ = next;
    return run_one(std::chrono::seconds(5));
  }

  // Reads replies for up to `wait`; completed request ids go to done_.
  void receive(std::chrono::milliseconds wait) {
    for (auto id : client_->receive(wait)) done_.emplace(id);
  }

  // The validators' fdatasyncs and executed sequence numbers, summed over those that answer.
  struct Durability {
    std::uint64_t syncs = 0;
    std::uint64_t executed = 0;
    std::size_t answered = 0;
  };
  Durability durability() {
    runtime::ClusterClient client(config_, link_);
    Durability d;
    for (const auto& [id, answer] : client.status_all(std::chrono::seconds(2)).answers) {
      d.syncs += answer.wal_syncs;
      d.executed += answer.last_executed;
      ++d.answered;
    }
    return d;
  }

  // Sums over the validators of each series that ends a /metrics line of theirs ("name{labels}"
  // with the validator label left out), e.g. bftgate_validator_slot_seconds_sum{phase="executed"}.
  // Empty when the validators serve no /metrics.
  std::map<std::string, double> scrape() {
    std::map<std::string, double> sums;
    for (auto port : metrics_ports_) {
      auto text = runtime::http_get(port, "/metrics");
      if (!text) continue;
      std::istringstream lines(*text);
      for (std::string line; std::getline(lines, line);) {
        auto space = line.rfind(' ');
        if (line.empty() || line[0] == '#' || space == std::string::npos) continue;
        auto series = line.substr(0, space);
        // validator="N" is the first label: drop it so the validators' series add up.
        auto label = series.find("validator=\"");
        if (label != std::string::npos) {
          auto end = series.find('"', label + 11);
          auto cut = end + 1 < series.size() && series[end + 1] == ',' ? end + 2 : end + 1;
          series.erase(label, cut - label);
          if (series.ends_with("{}")) series.resize(series.size() - 2);
        }
        sums[series] += std::strtod(line.c_str() + space + 1, nullptr);
      }
    }
    return sums;
  }

  std::size_t in_flight() const { return client_->in_flight(); }
  std::size_t take_done() {
    auto n = done_.size();
    done_.clear();
    return n;
  }
  const std::filesystem::path& dir() const { return dir_; }

 private:
  std::filesystem::path dir_;
  ClusterConfig config_;
  runtime::LinkSecurity link_ = runtime::LinkSecurity::insecure_plaintext();
  runtime::ChildProcesses processes_;
  std::unique_ptr<runtime::RequestPipeline> signed_;
  std::unique_ptr<runtime::RequestPipeline> mac_;
  runtime::RequestPipeline* client_ = nullptr;  // one of the two
  std::unordered_set<std::uint64_t> done_;
  std::vector<std::uint16_t> metrics_ports_;
};

// One cluster per WAL placement, kept for the whole run (starting one takes about a second);
// its client signs requests, or with `mac` authenticates them in a session. Null (and the
// benchmark skipped) when the validators do not answer that client.
inline LoopbackCluster* cluster(benchmark::State& state, bool wal_on_tmpfs, bool mac = false) {
  static std::unique_ptr<LoopbackCluster> current;
  static bool current_tmpfs = false;
  if (!current || current_tmpfs != wal_on_tmpfs) {
    current.reset();
    current = std::make_unique<LoopbackCluster>(wal_on_tmpfs);
    current_tmpfs = wal_on_tmpfs;
  }
  if (!current->use(mac ? runtime::ClientAuth::kMac : runtime::ClientAuth::kSigned)) {
    state.SkipWithError(mac ? "the validators answer no MAC'd request (a build without sessions?)"
                            : "the validators answer no signed request");
    return nullptr;
  }
  return current.get();
}

inline double percentile(std::vector<double> samples, double q) {
  if (samples.empty()) return 0;
  std::sort(samples.begin(), samples.end());
  auto index = static_cast<std::size_t>(q * static_cast<double>(samples.size() - 1) + 0.5);
  return samples[std::min(index, samples.size() - 1)];
}

// One request at a time: its latency in microseconds, or nullopt when f+1 matching replies did
// not come within 5 s.
inline std::optional<double> one_decision_us(LoopbackCluster& c) {
  auto started = Clock::now();
  bool ok = c.run_one(std::chrono::seconds(5));
  if (!ok) return std::nullopt;
  return std::chrono::duration<double, std::micro>(Clock::now() - started).count();
}

// `count` requests with up to `window` in flight: requests per second, or nullopt when they
// did not complete within 60 s.
inline std::optional<double> windowed_rate(LoopbackCluster& c, std::size_t window,
                                           std::size_t count) {
  std::size_t done = 0;
  std::size_t sent = 0;
  auto started = Clock::now();
  auto deadline = started + std::chrono::seconds(60);
  c.take_done();
  while (done < count && Clock::now() < deadline) {
    while (c.in_flight() < window && sent < count) {
      c.send_next();
      ++sent;
    }
    c.receive(std::chrono::milliseconds(1));
    done += c.take_done();
  }
  if (done < count) return std::nullopt;
  return static_cast<double>(count) / std::chrono::duration<double>(Clock::now() - started).count();
}

}  // namespace bftgate::loopback_bench
