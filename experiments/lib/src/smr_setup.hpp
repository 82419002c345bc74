// The shared setup of the smr-vs-consensus experiment (smr_vs_consensus.cpp), its simulated runs
// (smr_sim.cpp) and its runs on real processes (smr_real.cpp): Antoniadis et al.'s workload and
// where its faults go.
#pragma once

#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>

#include "bftgate/sim/command_workload.hpp"

namespace bftgate::experiments::smr {

inline constexpr std::size_t kReplicas = 4;
inline constexpr std::uint64_t kCommands = 1000;
inline constexpr std::uint64_t kWarmUp = 100;
inline constexpr std::uint64_t kCoolDown = 50;
inline constexpr std::uint64_t kSwitchAt = 450;
inline constexpr std::uint64_t kAfterBacklog = 200;  // commands run after the rejoin
inline constexpr sim::ReplicaId kStraggler = 3;
inline constexpr sim::ReplicaId kCrashed = 1;
// The simulator's fixed cost of handling one message (receive, decode, log): a model parameter.
inline constexpr double kMessageUs = 10;
// The real client resends a request to every validator after this long without f+1 replies.
inline constexpr double kClientRetryMs = 1000;

using Clock = std::chrono::steady_clock;
inline double seconds_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

// The real runs (smr_real.cpp), each one cluster started, measured and stopped:
// PBFT's validator processes (with per-command costs from their message traces),
nlohmann::json run_pbft_real(const nlohmann::json& params);
// a validator partitioned in the kernel for `missed` commands, then healed as another crashes,
nlohmann::json run_pbft_real_backlog(const nlohmann::json& params);
// and a 3-member etcd cluster.
nlohmann::json run_etcd_real(const nlohmann::json& params);

}  // namespace bftgate::experiments::smr
