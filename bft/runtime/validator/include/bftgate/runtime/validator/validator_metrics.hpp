// What a validator exports on GET /metrics (Prometheus text): decisions and requests executed,
// the time each slot spent here from its pre-prepare to prepared and to executed, the write-ahead
// log's fsync latency and size, signatures verified and skipped, view changes and state
// transfers. Everything is observed on the validator's one event loop, so nothing is locked.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>

#include "bftgate/core/replica.hpp"
#include "bftgate/runtime/net/prometheus.hpp"

namespace bftgate::runtime {

class ValidatorMetrics {
 public:
  using Clock = std::chrono::steady_clock;

  // What the replica and the log report at scrape time.
  struct State {
    std::uint64_t view = 0;
    std::uint64_t last_executed = 0;
    std::uint64_t wal_bytes = 0;
    std::uint64_t wal_syncs = 0;
    std::uint64_t wal_late_syncs = 0;  // of those, for records no message needed, when due
    std::uint64_t signatures_verified = 0;
    std::uint64_t signatures_skipped = 0;
    std::uint64_t macs_verified = 0;       // client requests checked by their session MAC
    std::uint64_t sessions_opened = 0;     // client sessions whose signature this validator checked
    std::uint64_t cannot_judge_total = 0;  // validations a fault stopped (no vote)
    bool cannot_judge_now = false;         // the candidate's last attempt was one of them
  };

  // Each Ready the replica hands over, when it is taken (before it is persisted).
  void on_ready(const bft::Ready& ready, Clock::time_point now);
  // Each fdatasync of the write-ahead log.
  void on_fsync(Clock::duration took);
  std::string text(std::uint32_t validator, const State& state) const;

 private:
  static constexpr std::size_t kTrackedSlots = 4096;

  std::map<bft::Seq, Clock::time_point> pre_prepared_;  // slots in progress: when accepted here
  Histogram to_prepared_ = Histogram::latency_seconds();
  Histogram to_committed_ = Histogram::latency_seconds();
  Histogram to_executed_ = Histogram::latency_seconds();
  Histogram fsync_ = Histogram::latency_seconds();
  std::uint64_t decisions_ = 0;
  std::uint64_t requests_ = 0;
  std::uint64_t view_changes_ = 0;
  std::uint64_t state_transfers_ = 0;
};

}  // namespace bftgate::runtime
