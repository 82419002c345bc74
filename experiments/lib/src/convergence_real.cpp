// The `convergence-real` experiment: the convergence time of real processes (the demo's local
// cluster on 127.0.0.1: artifact store, 4 validators with a stand-in validation of a fixed
// duration, 2 inference nodes) next to the simulator's prediction for the same parameters, and
// the simulator's prediction error: |predicted - measured| / measured, with the prediction the
// median over simulator seeds. Runs one at a time, so they do not compete for the cores.
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <random>
#include <thread>

#include "bftgate/base/strict_json.hpp"
#include "bftgate/config/key_file.hpp"
#include "bftgate/experiments/experiments.hpp"
#include "bftgate/io/file_io.hpp"
#include "bftgate/runtime/client/cluster_client.hpp"
#include "bftgate/runtime/client/operator.hpp"
#include "bftgate/runtime/harness/local_cluster.hpp"
#include "bftgate/runtime/store/artifact_store.hpp"
#include "bftgate/sim/aggregate.hpp"
#include "bftgate/sim/simulator.hpp"
#include "real_cluster.hpp"

namespace bftgate::experiments {

using nlohmann::json;
using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

namespace convergence_real_detail {  // not anonymous: the library is built in unity units

constexpr std::size_t kValidators = 4;
constexpr std::size_t kNodes = 2;
constexpr std::uint64_t kSimSeeds = 25;
// Loopback in the simulator: one-way latency and the store's throughput to a node.
constexpr double kLoopbackLatencyMinMs = 0.05, kLoopbackLatencyMaxMs = 0.5;
constexpr double kLoopbackBandwidthMbS = 300;

double wall_now_s() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// One real run: T_conv from the proposal (artifact already in the store) to the last node's
// swap, as the nodes report their swap times.
Result<double> measure_real(double validation_s, double poll_s, double size_mib,
                            std::uint64_t seed) {
  auto started = RealCluster::start(
      {.name = "convergence-real",
       .validators = kValidators,
       .nodes = kNodes,
       .store = true,
       .validate_command = stand_in_validation(validation_s),
       .validator_flags = {},
       .node_flags = {"--poll-interval", fmt::format("{}", poll_s), "--backend", "opaque"}});
  if (!started) return started.error();
  auto& real = **started;
  auto& cluster = real.cluster();
  const auto fail = [&](const std::string& what) { return real.failure(what); };
  Bytes bytes(static_cast<std::size_t>(size_mib * (1 << 20)));
  std::mt19937_64 rng(seed);
  for (auto& b : bytes) b = static_cast<std::uint8_t>(rng());
  auto artifact = real.dir() / "adapter.bin";
  if (auto s = write_file_atomic(artifact, bytes); !s) return s.error();
  runtime::StoreClient store(runtime::StoreLink::of(cluster.config(), cluster.operator_link()));
  if (auto put = store.put(artifact); !put) return put.error();
  auto key = crypto::read_key_file(cluster.operator_key_path());
  if (!key) return key.error();

  const double submitted = wall_now_s();
  auto proposal = runtime::propose_adapter(cluster.config(), cluster.operator_link(), key->key,
                                           artifact, 0, true, milliseconds(30'000));
  if (!proposal) return fail(proposal.error().message);
  const auto version = std::to_string(proposal->version);
  double converged = 0;
  auto deadline = Clock::now() + std::chrono::seconds(60);
  for (std::uint32_t j = 0; j < kNodes; ++j) {
    for (;;) {
      auto status = node_status(cluster.node_port(j));
      if (status.is_object() && status.contains("swapped_at_unix_s") &&
          status["swapped_at_unix_s"].contains(version)) {
        converged = std::max(converged, status["swapped_at_unix_s"][version].get<double>());
        break;
      }
      if (Clock::now() > deadline) return fail("the nodes did not converge");
      std::this_thread::sleep_for(milliseconds(20));
    }
  }
  real.stop();
  return converged - submitted;
}

// The simulator's T_conv for the same parameters, over seeds.
std::vector<double> predict(double validation_s, double poll_s, double size_mib,
                            std::uint64_t seed) {
  sim::Scenario s;
  s.name = "convergence-real";
  s.validators = kValidators;
  s.link.latency = sim::DurationDistribution::uniform(kLoopbackLatencyMinMs, kLoopbackLatencyMaxMs);
  s.validation_time = sim::DurationDistribution::fixed(validation_s * 1000);
  sim::AdapterSpec adapter;
  adapter.submit_s = 1;
  adapter.size_bytes = static_cast<std::uint64_t>(size_mib * (1 << 20));
  s.adapters = {adapter};
  s.fleet.nodes = kNodes;
  s.fleet.poll_interval_s = poll_s;
  s.fleet.bandwidth_mb_s = kLoopbackBandwidthMbS;
  s.duration_s = 1 + validation_s + 3 * poll_s + 10;
  s.convergence_bound_s = s.duration_s;
  std::vector<double> out;
  for (std::uint64_t k = 0; k < kSimSeeds; ++k) {
    auto result = sim::simulate(s, seed + k);
    const auto& v = result.versions.at(0);
    if (v.converged_s) out.push_back(*v.converged_s - v.submitted_s);
  }
  return out;
}

class ConvergenceReal final : public Experiment {
 public:
  std::string_view name() const override { return "convergence-real"; }
  std::string_view description() const override {
    return "Vaidyanathan's convergence on real processes (local cluster, stand-in validation) and "
           "the simulator's prediction error";
  }
  bool exclusive(const json&) const override { return true; }

  json config(Size size) const override {
    if (size == Size::kSmoke) {
      return {{"validation_s", {0.5}}, {"poll_s", {0.3, 1}}, {"size_mib", {1}}, {"repetitions", 1}};
    }
    return {{"validation_s", {0.5, 2}},
            {"poll_s", {0.2, 1}},
            {"size_mib", {1, 32}},
            {"repetitions", 3}};
  }

  std::vector<json> sweep(const json& config) const override {
    std::vector<json> runs;
    for (const auto& v : config.at("validation_s")) {
      for (const auto& p : config.at("poll_s")) {
        for (const auto& size : config.at("size_mib")) {
          for (std::uint64_t r = 0; r < config.at("repetitions").get<std::uint64_t>(); ++r) {
            json params = {{"validation_s", v},         {"poll_s", p},     {"size_mib", size},
                           {"validators", kValidators}, {"nodes", kNodes}, {"repetition", r}};
            params["seed"] = seed_of(params);
            runs.push_back(std::move(params));
          }
        }
      }
    }
    return runs;
  }

  json run(const json& params) const override {
    const auto v = params.at("validation_s").get<double>();
    const auto p = params.at("poll_s").get<double>();
    const auto size = params.at("size_mib").get<double>();
    const auto seed = params.at("seed").get<std::uint64_t>();
    auto measured = measure_real(v, p, size, seed);
    if (!measured) throw std::runtime_error(measured.error().message);
    auto predicted = predict(v, p, size, seed);
    auto median = sim::percentile(predicted, 0.5);
    return {{"real_t_conv_s", *measured},
            {"sim_t_conv_s", sim::summary(predicted)},
            {"sim_median_t_conv_s", median},
            {"relative_error", (median - *measured) / *measured}};
  }

  Summary summarize(const json& config, const std::vector<json>& records) const override {
    (void)config;
    std::vector<double> errors;
    std::string table =
        "| validation (s) | poll (s) | size (MiB) | real T_conv (s) | simulated median (s) | "
        "relative error |\n|---|---|---|---|---|---|\n";
    for (const auto& record : records) {
      const auto& p = record.at("params");
      const auto& r = record.at("result");
      errors.push_back(std::abs(r.at("relative_error").get<double>()));
      table += fmt::format(
          "| {} | {} | {} | {:.3f} | {:.3f} | {:+.3f} |\n", p.at("validation_s").dump(),
          p.at("poll_s").dump(), p.at("size_mib").dump(), r.at("real_t_conv_s").get<double>(),
          r.at("sim_median_t_conv_s").get<double>(), r.at("relative_error").get<double>());
    }
    Summary summary;
    auto mare = sim::percentile(errors, 0.5);
    summary.data = {{"runs", records.size()},
                    {"median_absolute_relative_error", mare},
                    {"absolute_relative_error", sim::summary(errors)}};
    summary.markdown = fmt::format(
        "# convergence-real\n\n"
        "Real processes on 127.0.0.1 ({} validators with a stand-in validation that sleeps for "
        "the given time, {} inference nodes, the artifact store): T_conv from the proposal to the "
        "last node's swap. The simulator predicts it with the same parameters, loopback latency "
        "{}-{} ms and {} MB/s to the store; the prediction is the median over {} seeds.\n\n{}\n"
        "The simulator's median absolute relative error: **{:.3f}** over {} real runs.\n",
        kValidators, kNodes, kLoopbackLatencyMinMs, kLoopbackLatencyMaxMs, kLoopbackBandwidthMbS,
        kSimSeeds, table, mare, records.size());
    return summary;
  }
};

}  // namespace convergence_real_detail

std::unique_ptr<Experiment> make_convergence_real() {
  return std::make_unique<convergence_real_detail::ConvergenceReal>();
}

}  // namespace bftgate::experiments
