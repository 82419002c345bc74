// Protocol-core and simulator throughput: core decisions per second with no network (n = 4,
// 16, 64) and simulated message deliveries per second (target: at least 1M/s).
#include <benchmark/benchmark.h>

#include <deque>

#include "bftgate/core/replica.hpp"
#include "bftgate/sim/mac_signer.hpp"
#include "bftgate/sim/simulator.hpp"

namespace {

using namespace bftgate;
using namespace bftgate::bft;

// Counts operations; the cheapest application, so the figure is the protocol's own cost.
class CountingApp final : public StateMachine {
 public:
  Bytes apply(std::uint32_t, ByteView) override { return {static_cast<std::uint8_t>(++count_)}; }
  Bytes snapshot() const override {
    crypto::Encoder e;
    e.u64(count_);
    return e.take();
  }
  Status restore(ByteView snapshot) override {
    crypto::Decoder d(snapshot);
    count_ = d.u64("count");
    return ok_status();
  }

 private:
  std::uint64_t count_ = 0;
};

// n replicas wired directly to each other (FIFO, no latency, no loss), the simulator's MAC
// signatures; one client keeps `window` requests outstanding.
void BM_CoreDecisions(benchmark::State& state) {
  auto n = static_cast<std::size_t>(state.range(0));
  auto max_batch = static_cast<std::size_t>(state.range(1));
  auto keyring = std::make_shared<sim::MacKeyring>(1);
  auto verifier = std::make_shared<sim::MacVerifier>(keyring);
  ReplicaOptions options;
  for (std::size_t i = 0; i < n; ++i) options.replicas.push_back(static_cast<ReplicaId>(i));
  options.f = static_cast<std::uint32_t>((n - 1) / 3);
  options.quorum = (n + options.f + 2) / 2;
  options.checkpoint_interval = 64;
  options.watermark_window = 256;
  options.max_batch = max_batch;
  options.max_in_flight = 8;
  std::vector<std::unique_ptr<CountingApp>> apps;
  std::vector<std::unique_ptr<Replica>> replicas;
  for (std::size_t i = 0; i < n; ++i) {
    apps.push_back(std::make_unique<CountingApp>());
    auto id = static_cast<ReplicaId>(i);
    replicas.push_back(std::make_unique<Replica>(
        options, std::make_shared<sim::MacSigner>(id, keyring->key(id)), verifier, *apps.back()));
  }
  sim::MacSigner client(kOperatorPrincipal, keyring->key(kOperatorPrincipal));
  std::deque<std::pair<std::size_t, MessagePtr>> queue;
  std::uint64_t next_request = 1;
  std::uint64_t decisions = 0;
  std::uint64_t requests = 0;
  std::uint64_t deliveries = 0;
  const std::uint64_t window = 4 * max_batch;

  auto pump = [&](std::size_t from) {
    auto ready = replicas[from]->take_ready();
    if (from == 0) {
      decisions += ready.committed.size();
      for (const auto& batch : ready.committed) requests += batch.requests.size();
    }
    for (const auto& out : ready.messages) {
      if (out.to == Outbound::To::kAllReplicas) {
        for (std::size_t j = 0; j < n; ++j) {
          if (j != from) queue.emplace_back(j, out.message);
        }
      } else if (out.to == Outbound::To::kReplica) {
        queue.emplace_back(out.destination, out.message);
      }
    }
  };
  for (auto _ : state) {
    // Keep the pipeline full: submit until `window` requests are outstanding, then deliver.
    while (next_request - 1 - requests < window) {
      auto request = make_message(client, Request{next_request++, Bytes{1, 2, 3, 4}});
      for (std::size_t i = 0; i < n; ++i) queue.emplace_back(i, request);
    }
    for (int step = 0; step < 4096 && !queue.empty(); ++step) {
      auto [to, message] = std::move(queue.front());
      queue.pop_front();
      replicas[to]->step(message);
      ++deliveries;
      pump(to);
    }
  }
  state.counters["decisions_per_s"] =
      benchmark::Counter(static_cast<double>(decisions), benchmark::Counter::kIsRate);
  state.counters["requests_per_s"] =
      benchmark::Counter(static_cast<double>(requests), benchmark::Counter::kIsRate);
  state.counters["deliveries_per_s"] =
      benchmark::Counter(static_cast<double>(deliveries), benchmark::Counter::kIsRate);
  state.counters["n"] = static_cast<double>(n);
}
BENCHMARK(BM_CoreDecisions)
    ->ArgNames({"n", "batch"})
    ->Args({4, 1})
    ->Args({16, 1})
    ->Args({64, 1})
    ->Args({4, 64})
    ->Args({16, 64})
    ->Args({64, 64})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// The simulator end to end (network model, event queue, replicas, register, fleet, invariant
// checks) on a busy scenario: a stream of adapters through n validators with lossy links.
void BM_SimulatorDeliveries(benchmark::State& state) {
  sim::Scenario scenario;
  scenario.validators = static_cast<std::size_t>(state.range(0));
  scenario.link.latency = sim::DurationDistribution::uniform(1, 10);
  scenario.link.loss = 0.01;
  scenario.validation_time = sim::DurationDistribution::uniform(50, 200);
  for (std::uint64_t v = 1; v <= 10; ++v) {
    scenario.adapters.push_back({.version = v,
                                 .submit_s = 0.1 + 0.8 * static_cast<double>(v - 1),
                                 .size_bytes = 1 << 20,
                                 .verdict = v % 3 == 0 ? sim::Verdict::kFail : sim::Verdict::kPass,
                                 .verdict_by_validator = {},
                                 .tampered_artifact = false});
  }
  scenario.duration_s = 9;
  std::uint64_t deliveries = 0;
  std::uint64_t events = 0;
  std::uint64_t seed = 1;
  for (auto _ : state) {
    auto result = sim::simulate(scenario, seed++);
    deliveries += result.deliveries;
    events += result.events;
    if (!result.violations.empty()) state.SkipWithError(result.violations.front().c_str());
  }
  state.counters["deliveries_per_s"] =
      benchmark::Counter(static_cast<double>(deliveries), benchmark::Counter::kIsRate);
  state.counters["events_per_s"] =
      benchmark::Counter(static_cast<double>(events), benchmark::Counter::kIsRate);
  state.counters["runs_per_s"] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_SimulatorDeliveries)
    ->ArgName("n")
    ->Arg(4)
    ->Arg(7)
    ->Arg(16)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
