// The simulated side of the smr-vs-consensus experiment (smr_vs_consensus.cpp): its runs on
// the PBFT core's simulator, the figures of a series run, and the simulator's predictions of the
// runs on real processes (smr_real.cpp).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>

namespace bftgate::experiments::smr {

// One series of commands (params: scenario, pipeline, model, seed; protocol "validator" runs it
// with the settings `bftgate validator` runs with).
nlohmann::json run_series(const nlohmann::json& params);
// A backlog: the spike after a replica that missed `missed` commands rejoins.
nlohmann::json run_backlog(const nlohmann::json& params);

// Per series run, over the measured commands [warm-up, end - cool-down): the switch's spike and
// the latency before and after it.
struct SeriesFigures {
  double latency_mean_ms = 0, latency_sd_ms = 0;
  double consensus_mean = 0, smr_mean = 0;
  std::uint64_t spike_command = 0;  // 1-based; 0: not a switch run
  double spike_smr = 0, spike_consensus = 0, spike_latency_ms = 0;
  double before_ms = 0, after_ms = 0;  // mean latency before the switch and after the spike
};

// The figures of a series run (simulated or real).
SeriesFigures figures_of(const nlohmann::json& params, const nlohmann::json& result);

// A real run with the simulator's prediction of it and the prediction's relative error.
nlohmann::json with_prediction(const nlohmann::json& params, nlohmann::json real);
// A real backlog run with the simulator's prediction of its spike and the relative error.
nlohmann::json with_backlog_prediction(const nlohmann::json& params, nlohmann::json real);

}  // namespace bftgate::experiments::smr
