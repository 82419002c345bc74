// PBFT on the wire: n = 4 `bftgate validator` processes on 127.0.0.1 (ZeroMQ, Ed25519 on every
// message, the write-ahead log fsync'd before sending), driven by a client in this process that
// signs null requests and waits, as a PBFT client does, for f+1 matching verified replies.
//
//   (mac:1: the client's requests carry a MAC per validator in a session instead of its Ed25519
//   signature, and the replies a MAC instead of the validator's signature; mac:0 signs)
//   BM_DecisionLatency/wal:N    one request at a time: median and p99 latency (counters, in us),
//                               fsyncs per decision, and from the validators' /metrics the
//                               time to prepared, to committed and to executed and one fsync's
//   BM_BatchedThroughput/wal:N  a window of requests in flight: requests per second (one client:
//                               replicas hold at most 256 pending requests per client, so the
//                               window stays below that)
//   BM_VersusEtcd/wal:N         the same two measures beside a real 3-member etcd, interleaved,
//                               with the ratios (Debian's etcd-server; skipped without it)
//   BM_CurveCost                what CURVE costs the cluster, A/B in one run: a CURVE cluster and
//                               an --insecure-plaintext one side by side (WAL on tmpfs), one
//                               decision at a time and a window of 64, in interleaved blocks
//   BM_SignatureCeiling         what the signatures alone allow on this machine, from measured
//                               sign and verify costs (see signature_ceiling below)
// wal:0 keeps each validator's WAL on disk (the default, the real cost of fsync here); wal:1 on
// /dev/shm (tmpfs: fsync is free), to separate the protocol's cost from the disk's.
#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <thread>
#include <vector>

#include "bftgate/crypto/ed25519.hpp"
#include "bftgate/experiments/etcd.hpp"
#include "loopback_cluster.hpp"

namespace {

using namespace bftgate;
using namespace bftgate::loopback_bench;  // the cluster and its measures (loopback_cluster.hpp)

void BM_DecisionLatency(benchmark::State& state) {
  auto* cluster_or_null = cluster(state, state.range(0) != 0, state.range(1) != 0);
  if (cluster_or_null == nullptr) return;
  auto& c = *cluster_or_null;
  std::vector<double> latencies_us;
  std::size_t failures = 0;
  const auto before = c.durability();
  const auto metrics_before = c.scrape();
  for (auto _ : state) {
    auto started = Clock::now();
    auto latency = one_decision_us(c);
    state.SetIterationTime(std::chrono::duration<double>(Clock::now() - started).count());
    if (latency) {
      latencies_us.push_back(*latency);
    } else {
      ++failures;
    }
  }
  state.counters["median_us"] = percentile(latencies_us, 0.5);
  state.counters["p99_us"] = percentile(latencies_us, 0.99);
  state.counters["failures"] = static_cast<double>(failures);
  // One request at a time is one decision a request: the fdatasyncs each validator paid for it.
  const auto after = c.durability();
  // (A validator build from before status reported wal_syncs reports none: no counter then.)
  if (after.answered == kValidators && before.answered == kValidators &&
      after.executed > before.executed && after.syncs > before.syncs) {
    state.counters["fsyncs_per_decision_per_validator"] =
        static_cast<double>(after.syncs - before.syncs) /
        static_cast<double>(after.executed - before.executed);
  }
  // Where a decision's time goes at the validators (their /metrics, mean over the validators):
  // from the slot's pre-prepare accepted to prepared, to committed and to executed, and one WAL
  // fdatasync.
  const auto metrics_after = c.scrape();
  const auto mean_us = [&](const std::string& sum, const std::string& count) {
    const auto at = [](const std::map<std::string, double>& m, const std::string& k) {
      auto it = m.find(k);
      return it == m.end() ? 0.0 : it->second;
    };
    double n = at(metrics_after, count) - at(metrics_before, count);
    return n > 0 ? 1e6 * (at(metrics_after, sum) - at(metrics_before, sum)) / n : 0.0;
  };
  if (!metrics_after.empty()) {
    state.counters["to_prepared_us"] =
        mean_us("bftgate_validator_slot_seconds_sum{phase=\"prepared\"}",
                "bftgate_validator_slot_seconds_count{phase=\"prepared\"}");
    state.counters["to_committed_us"] =
        mean_us("bftgate_validator_slot_seconds_sum{phase=\"committed\"}",
                "bftgate_validator_slot_seconds_count{phase=\"committed\"}");
    state.counters["to_executed_us"] =
        mean_us("bftgate_validator_slot_seconds_sum{phase=\"executed\"}",
                "bftgate_validator_slot_seconds_count{phase=\"executed\"}");
    state.counters["fsync_us"] = mean_us("bftgate_validator_wal_fsync_seconds_sum",
                                         "bftgate_validator_wal_fsync_seconds_count");
  }
  // Target: median below 1 ms on this 2-core machine (the ratio is median / 1 ms; <= 1 meets it).
  state.counters["median_target_ratio"] = percentile(latencies_us, 0.5) / 1000.0;
  if (failures > 0) state.SkipWithError("some requests got no f+1 matching replies within 5 s");
}
BENCHMARK(BM_DecisionLatency)
    ->ArgNames({"wal_tmpfs", "mac"})
    ->Args({0, 0})
    ->Args({1, 0})
    ->Args({0, 1})
    ->Args({1, 1})
    ->Iterations(2000)
    ->UseManualTime()
    ->Unit(benchmark::kMicrosecond);

void BM_BatchedThroughput(benchmark::State& state) {
  auto* cluster_or_null = cluster(state, state.range(0) != 0, state.range(2) != 0);
  if (cluster_or_null == nullptr) return;
  auto& c = *cluster_or_null;
  const auto window = static_cast<std::size_t>(state.range(1));
  constexpr std::size_t kPerIteration = 4000;
  std::size_t completed = 0;
  for (auto _ : state) {
    if (!windowed_rate(c, window, kPerIteration)) {
      state.SkipWithError("requests did not complete within 60 s");
      break;
    }
    completed += kPerIteration;
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(completed));
  state.counters["requests_per_s"] =
      benchmark::Counter(static_cast<double>(completed), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_BatchedThroughput)
    ->ArgNames({"wal_tmpfs", "window", "mac"})
    ->Args({0, 128, 0})
    ->Args({1, 32, 0})
    ->Args({1, 128, 0})
    ->Args({0, 128, 1})
    ->Args({1, 128, 1})
    ->Iterations(3)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// A real 3-member etcd cluster (Debian's etcd-server) whose data directories share the
// filesystem of the validators' WALs, its members talking to each other directly.
class EtcdCluster {
 public:
  explicit EtcdCluster(bool on_tmpfs) {
    auto binary = experiments::etcd::find_binary();
    if (!binary)
      throw std::runtime_error(
          "no etcd on PATH (scripts/bootstrap.sh --bench installs etcd-server)");
    auto root =
        on_tmpfs ? std::filesystem::path("/dev/shm") : std::filesystem::temp_directory_path();
    dir_ = root / fmt::format("bftgate-etcd-{}", ::getpid());
    std::filesystem::remove_all(dir_);
    auto started = experiments::etcd::Cluster::start(
        {.binary = *binary, .dir = dir_, .members = 3, .proxied = false});
    if (!started) throw std::runtime_error(started.error().message);
    cluster_ = std::move(*started);
  }
  ~EtcdCluster() {
    cluster_->stop();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  // Puts of an 8-byte value to the leader, `in_flight` connections with one each: latencies (ms).
  std::vector<double> puts(std::size_t count, std::size_t in_flight) {
    auto latencies = experiments::etcd::run_puts(cluster_->client_port(cluster_->leader()), count,
                                                 in_flight, 8, nullptr);
    if (!latencies) throw std::runtime_error("etcd: " + latencies.error().message);
    return std::move(*latencies);
  }

 private:
  std::filesystem::path dir_;
  std::unique_ptr<experiments::etcd::Cluster> cluster_;
};

// bftgate against etcd on this machine, in one run and interleaved, A B A B, so that drift in
// the machine's speed falls on both: per round, sequential decisions (one in flight) and then
// 128 in flight, on each system in turn. The counters are the medians and rates of each, pooled
// over the rounds, and their ratios (bftgate over etcd), with the spread of the per-round ratios.
// Fault models differ: bftgate is PBFT, n = 4, f = 1 Byzantine, every message Ed25519-signed;
// etcd is Raft, n = 3, one crash.
void BM_VersusEtcd(benchmark::State& state) {
  const bool tmpfs = state.range(0) != 0;
  constexpr int kRounds = 4;
  constexpr std::size_t kSequential = 300;
  constexpr std::size_t kWindow = 128;
  constexpr std::size_t kWindowed = 3000;
  std::unique_ptr<EtcdCluster> etcd;
  try {
    etcd = std::make_unique<EtcdCluster>(tmpfs);
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
    return;
  }
  const bool mac = state.range(1) != 0;
  auto* cluster_or_null = cluster(state, tmpfs, mac);
  if (cluster_or_null == nullptr) return;
  auto& c = *cluster_or_null;
  std::vector<double> bftgate_us, etcd_us, latency_ratios, throughput_ratios;
  double bftgate_rate_sum = 0, etcd_rate_sum = 0;
  for (auto _ : state) {
    for (int round = 0; round < kRounds; ++round) {
      std::vector<double> a, b;
      for (std::size_t i = 0; i < kSequential; ++i) {
        auto latency = one_decision_us(c);
        if (!latency) {
          state.SkipWithError("a bftgate request got no f+1 matching replies within 5 s");
          return;
        }
        a.push_back(*latency);
      }
      try {
        for (double ms : etcd->puts(kSequential, 1)) b.push_back(ms * 1e3);
      } catch (const std::exception& e) {
        state.SkipWithError(e.what());
        return;
      }
      latency_ratios.push_back(percentile(a, 0.5) / percentile(b, 0.5));
      bftgate_us.insert(bftgate_us.end(), a.begin(), a.end());
      etcd_us.insert(etcd_us.end(), b.begin(), b.end());

      auto bftgate_rate = windowed_rate(c, kWindow, kWindowed);
      if (!bftgate_rate) {
        state.SkipWithError("bftgate requests did not complete within 60 s");
        return;
      }
      auto started = Clock::now();
      try {
        etcd->puts(kWindowed, kWindow);
      } catch (const std::exception& e) {
        state.SkipWithError(e.what());
        return;
      }
      double etcd_rate = static_cast<double>(kWindowed) /
                         std::chrono::duration<double>(Clock::now() - started).count();
      throughput_ratios.push_back(*bftgate_rate / etcd_rate);
      bftgate_rate_sum += *bftgate_rate;
      etcd_rate_sum += etcd_rate;
    }
  }
  const auto spread = [](const std::vector<double>& v) {
    return std::minmax_element(v.begin(), v.end());
  };
  state.counters["bftgate_median_us"] = percentile(bftgate_us, 0.5);
  state.counters["etcd_median_us"] = percentile(etcd_us, 0.5);
  state.counters["bftgate_p99_us"] = percentile(bftgate_us, 0.99);
  state.counters["etcd_p99_us"] = percentile(etcd_us, 0.99);
  state.counters["latency_ratio_vs_etcd"] = percentile(bftgate_us, 0.5) / percentile(etcd_us, 0.5);
  state.counters["latency_ratio_round_min"] = *spread(latency_ratios).first;
  state.counters["latency_ratio_round_max"] = *spread(latency_ratios).second;
  const double rounds = static_cast<double>(latency_ratios.size());
  state.counters["bftgate_req_per_s"] = bftgate_rate_sum / rounds;
  state.counters["etcd_req_per_s"] = etcd_rate_sum / rounds;
  state.counters["throughput_ratio_vs_etcd"] = bftgate_rate_sum / etcd_rate_sum;
  state.counters["throughput_ratio_round_min"] = *spread(throughput_ratios).first;
  state.counters["throughput_ratio_round_max"] = *spread(throughput_ratios).second;
  state.SetLabel(
      mac ? "bftgate: PBFT n=4 f=1 Byzantine, client MAC sessions; etcd 3.4: Raft n=3, 1 crash"
          : "bftgate: PBFT n=4 f=1 Byzantine, Ed25519; etcd 3.4: Raft n=3, 1 crash");
}
BENCHMARK(BM_VersusEtcd)
    ->ArgNames({"wal_tmpfs", "mac"})
    ->Args({0, 0})
    ->Args({1, 0})
    ->Args({0, 1})
    ->Args({1, 1})
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// What CURVE costs a whole cluster: two clusters of this build, one with CURVE links (the
// default) and one with --insecure-plaintext everywhere, both with their WALs on tmpfs so that
// the disk does not hide the links' cost. Blocks of decisions alternate between them, so drift
// of this machine's load falls on both alike.
void BM_CurveCost(benchmark::State& state) {
  constexpr int kRounds = 10;
  constexpr int kDecisionsPerBlock = 100;
  constexpr std::size_t kWindow = 64;
  constexpr std::size_t kPerWindowBlock = 2000;
  std::vector<double> curve_us, plain_us;
  double curve_seconds = 0, plain_seconds = 0;
  std::size_t failures = 0;
  for (auto _ : state) {
    LoopbackCluster curve(/*wal_on_tmpfs=*/true, /*plaintext=*/false);
    LoopbackCluster plain(/*wal_on_tmpfs=*/true, /*plaintext=*/true);
    for (int round = 0; round < kRounds; ++round) {
      // Which goes first alternates too.
      std::array<std::pair<LoopbackCluster*, std::vector<double>*>, 2> order = {
          std::pair{&curve, &curve_us}, std::pair{&plain, &plain_us}};
      if (round % 2 == 1) std::swap(order[0], order[1]);
      for (auto [c, samples] : order) {
        for (int i = 0; i < kDecisionsPerBlock; ++i) {
          if (auto us = one_decision_us(*c)) {
            samples->push_back(*us);
          } else {
            ++failures;
          }
        }
        auto started = Clock::now();
        if (!windowed_rate(*c, kWindow, kPerWindowBlock)) {
          ++failures;
          continue;
        }
        (c == &curve ? curve_seconds : plain_seconds) +=
            std::chrono::duration<double>(Clock::now() - started).count();
      }
    }
  }
  const double requests = static_cast<double>(kRounds) * static_cast<double>(kPerWindowBlock);
  state.counters["curve_median_us"] = percentile(curve_us, 0.5);
  state.counters["plaintext_median_us"] = percentile(plain_us, 0.5);
  state.counters["curve_p99_us"] = percentile(curve_us, 0.99);
  state.counters["plaintext_p99_us"] = percentile(plain_us, 0.99);
  state.counters["latency_ratio_curve_vs_plaintext"] =
      percentile(curve_us, 0.5) / std::max(1e-9, percentile(plain_us, 0.5));
  state.counters["curve_req_per_s"] = curve_seconds > 0 ? requests / curve_seconds : 0;
  state.counters["plaintext_req_per_s"] = plain_seconds > 0 ? requests / plain_seconds : 0;
  state.counters["throughput_ratio_curve_vs_plaintext"] =
      curve_seconds > 0 ? plain_seconds / curve_seconds : 0;
  state.counters["failures"] = static_cast<double>(failures);
  if (failures > 0) state.SkipWithError("some requests did not complete in time");
}
BENCHMARK(BM_CurveCost)->Iterations(1)->Unit(benchmark::kMillisecond)->UseRealTime();

// The signature-bound ceiling, from this machine's measured Ed25519 costs. Per null request
// (n = 4, f = 1): the client signs it and verifies f+1 replies; every replica verifies it once
// (the verify cache absorbs the copy inside the batch) and signs its reply. Per batch of b
// requests: the primary signs a pre-prepare; every replica signs a prepare (backups) and a commit
// and verifies the pre-prepare (backups), 2f prepares and 2f+1 commits from the others.
void BM_SignatureCeiling(benchmark::State& state) {
  auto key = crypto::SecretKey::generate();
  Bytes body(200, 7);
  auto signature = key.sign(crypto::Domain::kProtocolMessage, body);
  constexpr int kSamples = 2000;
  auto started = Clock::now();
  for (int i = 0; i < kSamples; ++i)
    benchmark::DoNotOptimize(key.sign(crypto::Domain::kProtocolMessage, body));
  auto sign_us =
      std::chrono::duration<double, std::micro>(Clock::now() - started).count() / kSamples;
  started = Clock::now();
  for (int i = 0; i < kSamples; ++i) {
    benchmark::DoNotOptimize(
        crypto::verify(key.public_key(), crypto::Domain::kProtocolMessage, body, signature));
  }
  auto verify_us =
      std::chrono::duration<double, std::micro>(Clock::now() - started).count() / kSamples;
  // A session MAC (HMAC-SHA-512-256) over the same body, for requests and replies in MAC mode.
  crypto::SessionKey mac_key;
  mac_key.bytes().fill(3);
  started = Clock::now();
  for (int i = 0; i < kSamples; ++i)
    benchmark::DoNotOptimize(crypto::mac(mac_key, crypto::Domain::kClientRequest, body));
  auto mac_us =
      std::chrono::duration<double, std::micro>(Clock::now() - started).count() / kSamples;
  for (auto _ : state) benchmark::DoNotOptimize(sign_us + verify_us + mac_us);
  const double n = kValidators;
  const double f = 1;
  const double cores = static_cast<double>(std::max(1u, std::thread::hardware_concurrency()));
  // CPU microseconds per request, summed over all processes.
  double per_request = (sign_us + (f + 1) * verify_us) + n * (verify_us + sign_us);
  double per_batch = sign_us + n * sign_us + (n - 1) * (sign_us + verify_us) +
                     n * ((2 * f) * verify_us + (2 * f + 1) * verify_us);
  // The sequential critical path of one unbatched decision (each step waits on the one before):
  // client sign, primary verify + sign, backup verify x2 + sign, prepares verified, commit
  // signed, commits verified, reply signed, client verifies f+1 replies.
  double path_us = sign_us + (verify_us + sign_us) + (2 * verify_us + sign_us) +
                   (2 * f) * verify_us + sign_us + (2 * f) * verify_us + sign_us +
                   (f + 1) * verify_us;
  state.counters["sign_us"] = sign_us;
  state.counters["verify_us"] = verify_us;
  state.counters["unbatched_path_us"] = path_us;
  // With sessions the client MACs its request for n replicas and checks f+1 reply MACs; every
  // replica checks its MAC and MACs its reply. The batch's protocol messages stay signed.
  double per_request_mac = n * mac_us + (f + 1) * mac_us + n * (2 * mac_us);
  state.counters["mac_us"] = mac_us;
  state.counters["ceiling_req_per_s_batch_64"] = cores * 1e6 / (per_request + per_batch / 64);
  state.counters["ceiling_req_per_s_batch_64_mac"] =
      cores * 1e6 / (per_request_mac + per_batch / 64);
  state.counters["ceiling_req_per_s_batch_1"] = cores * 1e6 / (per_request + per_batch);
}
BENCHMARK(BM_SignatureCeiling)->Iterations(1);

}  // namespace

BENCHMARK_MAIN();
