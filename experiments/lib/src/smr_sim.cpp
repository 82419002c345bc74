// The simulated runs of the smr-vs-consensus experiment (smr_vs_consensus.cpp) on bftgate's PBFT
// core (sim/command_workload.hpp): the series and the backlog, the figures of a series, and the
// simulator's predictions of the real runs (smr_real.cpp) with this machine's measured costs.
#include "smr_sim.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "bftgate/core/replica.hpp"
#include "bftgate/crypto/ed25519.hpp"
#include "bftgate/runtime/validator/validator_daemon.hpp"
#include "bftgate/sim/aggregate.hpp"
#include "bftgate/sim/command_workload.hpp"
#include "smr_setup.hpp"

namespace bftgate::experiments::smr {

using nlohmann::json;

namespace {

// What a message costs a replica in the simulator (CommandWorkload's cost fields), from JSON.
void apply_model(const json& model, sim::CommandWorkload& w) {
  w.message_us = model.at("message_us").get<double>();
  w.verify_us = model.at("verify_us").get<double>();
  w.sign_us = model.at("sign_us").get<double>();
  w.ns_per_byte = model.at("ns_per_byte").get<double>();
  w.cores = model.at("cores").get<std::size_t>();
}

sim::CommandWorkload series_workload(const std::string& scenario, std::size_t pipeline,
                                     const json& model) {
  sim::CommandWorkload w;
  apply_model(model, w);
  w.replicas = kReplicas;
  w.commands = kCommands;
  w.pipeline = pipeline;
  // The window holds two pipelines: the primary never waits for a checkpoint.
  w.checkpoint_interval = 16;
  w.watermark_window = std::max<std::uint64_t>(256, 2 * pipeline + 32) / 16 * 16;
  if (scenario != "graceful") w.straggler = kStraggler;
  if (scenario == "switch") {
    w.crash = kCrashed;
    w.crash_at_command = kSwitchAt;
  }
  return w;
}

// The protocol settings `bftgate validator` runs with (the core's defaults, as the daemon
// takes them), for predicting real runs: batches, the window, view-change and retransmission
// timers, its tick.
void as_validator_runs_it(sim::CommandWorkload& w) {
  const bft::ReplicaOptions defaults;
  w.max_batch = defaults.max_batch;
  w.max_in_flight = defaults.max_in_flight;
  w.checkpoint_interval = defaults.checkpoint_interval;
  w.watermark_window = defaults.watermark_window;
  w.view_change_timeout_ms = static_cast<double>(defaults.view_change_timeout.count()) / 1000;
  w.retransmit_ms = static_cast<double>(defaults.retransmit_interval.count()) / 1000;
  w.tick_ms = static_cast<double>(runtime::ValidatorOptions{}.tick.count());
  w.client_retry_ms = kClientRetryMs;
  w.client_sends_to_all = true;  // as runtime::RequestPipeline
}

sim::CommandWorkload backlog_workload(const std::string& catch_up, std::uint64_t missed,
                                      const json& model) {
  sim::CommandWorkload w;
  apply_model(model, w);
  w.replicas = kReplicas;
  w.commands = missed + kAfterBacklog;
  w.pipeline = 10;
  w.isolated = kStraggler;
  w.crash = kCrashed;
  w.crash_at_command = missed;
  if (catch_up == "log-replay") {
    // Checkpoints so rare that peers still hold every committed batch the replica missed.
    w.checkpoint_interval = 8192;
    w.watermark_window = 16384;
  } else {
    w.checkpoint_interval = 16;
    w.watermark_window = 256;
  }
  return w;
}

double mean(const std::vector<double>& v) {
  double sum = 0;
  for (double x : v) sum += x;
  return v.empty() ? 0.0 : sum / static_cast<double>(v.size());
}

double stddev(const std::vector<double>& v) {
  if (v.size() < 2) return 0;
  const double m = mean(v);
  double sum = 0;
  for (double x : v) sum += (x - m) * (x - m);
  return std::sqrt(sum / static_cast<double>(v.size() - 1));
}

// The simulator's cost model with this machine's Ed25519 costs (medians of many signs and
// verifies of a protocol-sized message) and its cores: what it predicts a real run with.
json measured_model(double message_us) {
  constexpr int kSamples = 300;
  auto key = crypto::SecretKey::generate();
  const Bytes body(160, 0x5a);
  std::vector<double> sign_us, verify_us;
  crypto::Signature signature;
  for (int i = 0; i < kSamples; ++i) {
    auto start = Clock::now();
    signature = key.sign(crypto::Domain::kProtocolMessage, body);
    sign_us.push_back(seconds_between(start, Clock::now()) * 1e6);
    start = Clock::now();
    if (!crypto::verify(key.public_key(), crypto::Domain::kProtocolMessage, body, signature))
      throw std::runtime_error("a fresh signature did not verify");
    verify_us.push_back(seconds_between(start, Clock::now()) * 1e6);
  }
  return {{"message_us", message_us},
          {"verify_us", sim::percentile(verify_us, 0.5)},
          {"sign_us", sim::percentile(sign_us, 0.5)},
          {"ns_per_byte", 1},
          {"cores", std::max(1u, std::thread::hardware_concurrency())}};
}

}  // namespace

json run_series(const json& params) {
  const auto scenario = params.at("scenario").get<std::string>();
  auto w = series_workload(scenario, params.at("pipeline").get<std::size_t>(), params.at("model"));
  if (params.value("protocol", "") == "validator") as_validator_runs_it(w);
  auto r = sim::run_commands(w, params.at("seed").get<std::uint64_t>());
  if (!r.violations.empty()) throw std::runtime_error(r.violations.front());
  json consensus = json::array(), smr = json::array(), catch_up = json::array(),
       latency_ms = json::array();
  for (const auto& c : r.commands) {
    consensus.push_back(c.consensus_messages);
    smr.push_back(c.smr_messages);
    catch_up.push_back(c.smr_catch_up_messages);
    latency_ms.push_back((c.completed_s - c.submitted_s) * 1000);
  }
  return {{"completed", r.completed},
          {"commands", r.commands.size()},
          {"consensus_messages", consensus},
          {"smr_messages", smr},
          {"smr_catch_up_messages", catch_up},
          {"latency_ms", latency_ms},
          {"view_changes", r.view_changes},
          {"state_transfers", r.state_transfers},
          {"catch_ups", r.catch_ups},
          {"max_queue", r.max_queue},
          {"duration_s", r.end_s}};
}

// The spike: the costliest command among the pipeline's worth after the rejoin.
json run_backlog(const json& params) {
  const auto missed = params.at("missed").get<std::uint64_t>();
  const auto w =
      backlog_workload(params.at("catch_up").get<std::string>(), missed, params.at("model"));
  auto r = sim::run_commands(w, params.at("seed").get<std::uint64_t>());
  if (!r.violations.empty()) throw std::runtime_error(r.violations.front());
  if (!r.completed) throw std::runtime_error("the commands after the rejoin did not complete");
  std::size_t spike = missed;
  double worst_latency_ms = 0;
  for (std::size_t i = missed; i < missed + 2 * w.pipeline && i < r.commands.size(); ++i) {
    if (r.commands[i].smr_messages > r.commands[spike].smr_messages) spike = i;
    worst_latency_ms =
        std::max(worst_latency_ms, (r.commands[i].completed_s - r.commands[i].submitted_s) * 1000);
  }
  std::vector<double> before;
  for (std::size_t i = kWarmUp; i < missed; ++i) {
    before.push_back((r.commands[i].completed_s - r.commands[i].submitted_s) * 1000);
  }
  const auto& c = r.commands[spike];
  return {{"spike_command", spike + 1},
          {"spike_smr_messages", c.smr_messages},
          {"spike_catch_up_messages", c.smr_catch_up_messages},
          {"spike_smr_bytes", c.smr_bytes},
          {"spike_latency_ms", worst_latency_ms},
          {"latency_before_ms", sim::percentile(before, 0.5)},
          {"state_transfers", r.state_transfers},
          {"catch_ups", r.catch_ups}};
}

// A run without message costs (etcd's) has as its spike the slowest command after the switch.
SeriesFigures figures_of(const json& params, const json& result) {
  SeriesFigures f;
  const auto& latency = result.at("latency_ms");
  const bool costs = result.contains("smr_messages");
  const auto n = latency.size();
  const auto end = n > kCoolDown ? n - kCoolDown : 0;
  std::vector<double> lat, cons, smrs;
  for (std::size_t i = kWarmUp; i < end; ++i) {
    lat.push_back(latency[i].get<double>());
    if (!costs) continue;
    cons.push_back(result.at("consensus_messages")[i].get<double>());
    smrs.push_back(result.at("smr_messages")[i].get<double>());
  }
  f.latency_mean_ms = mean(lat);
  f.latency_sd_ms = stddev(lat);
  f.consensus_mean = mean(cons);
  f.smr_mean = mean(smrs);
  if (params.at("scenario") != "switch" || n <= kSwitchAt) return f;
  const auto pipeline = params.at("pipeline").get<std::size_t>();
  const auto& by = costs ? result.at("smr_messages") : latency;
  std::size_t spike = kSwitchAt;
  for (std::size_t i = kSwitchAt; i < std::min(n, kSwitchAt + 2 * pipeline); ++i) {
    if (by[i].get<double>() > by[spike].get<double>()) spike = i;
  }
  f.spike_command = spike + 1;
  if (costs) {
    f.spike_smr = result.at("smr_messages")[spike].get<double>();
    f.spike_consensus = result.at("consensus_messages")[spike].get<double>();
  }
  f.spike_latency_ms = latency[spike].get<double>();
  std::vector<double> before, after;
  for (std::size_t i = kWarmUp; i < kSwitchAt; ++i) before.push_back(latency[i].get<double>());
  // After the drain: from two pipelines past the spike on.
  for (std::size_t i = spike + 2 * pipeline; i < end; ++i)
    after.push_back(latency[i].get<double>());
  f.before_ms = mean(before);
  f.after_ms = mean(after);
  return f;
}

// A real run with the simulator's prediction for it and the prediction's relative error on the
// headline figure, the mean latency.
json with_prediction(const json& params, json real) {
  json sim_params = params;
  sim_params["kind"] = "series";
  sim_params["model"] = measured_model(params.at("prediction_message_us").get<double>());
  sim_params["protocol"] = "validator";
  const auto predicted = run_series(sim_params);
  const auto p = figures_of(sim_params, predicted);
  const auto m = figures_of(params, real);
  real["prediction"] = {{"model", sim_params["model"]},
                        {"view_changes", predicted.at("view_changes")},
                        {"latency_mean_ms", p.latency_mean_ms},
                        {"spike_latency_ms", p.spike_latency_ms},
                        {"latency_after_ms", p.after_ms}};
  real["relative_error"] = (p.latency_mean_ms - m.latency_mean_ms) / m.latency_mean_ms;
  return real;
}

// A real backlog run with the simulator's prediction of its spike (the validator's protocol
// settings, this machine's measured costs) and the prediction's relative error.
json with_backlog_prediction(const json& params, json real) {
  const auto missed = params.at("missed").get<std::uint64_t>();
  auto w = backlog_workload("state-transfer", missed,
                            measured_model(params.at("prediction_message_us").get<double>()));
  as_validator_runs_it(w);
  auto r = sim::run_commands(w, params.at("seed").get<std::uint64_t>());
  if (!r.violations.empty()) throw std::runtime_error(r.violations.front());
  double worst = 0;
  for (std::size_t i = missed; i < missed + 20 && i < r.commands.size(); ++i)
    worst = std::max(worst, (r.commands[i].completed_s - r.commands[i].submitted_s) * 1000);
  const auto measured = real.at("spike_latency_ms").get<double>();
  real["prediction"] = {{"spike_latency_ms", worst}, {"state_transfers", r.state_transfers}};
  real["relative_error"] = (worst - measured) / measured;
  return real;
}

}  // namespace bftgate::experiments::smr
