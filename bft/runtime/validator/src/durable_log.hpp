// The validator's durability: its write-ahead log on the event loop. Records are written before
// anything that depends on them leaves; one fdatasync covers everything written before it; records
// that back no message become durable at the latest kSyncSoon after they were written; and the
// log is compacted to the replica's live records once it grows. A log that cannot be written ends
// the process: a validator that cannot keep what it signed must not sign on.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "bftgate/core/replica.hpp"
#include "bftgate/runtime/validator/validator_metrics.hpp"
#include "bftgate/runtime/validator/wal.hpp"

namespace bftgate::runtime {

class DurableLog {
 public:
  // Records that back no message are synced at the latest this long after they were written:
  // what a power loss can take.
  static constexpr auto kSyncSoon = std::chrono::milliseconds(2);

  DurableLog(boost::asio::io_context& io, WriteAheadLog wal, std::uint32_t validator,
             std::uint64_t compact_bytes, ValidatorMetrics& metrics);

  // Appends the records and writes them to the file (not yet synced).
  void write(const std::vector<bft::PersistRecord>& records);
  // One fdatasync of everything written so far, timed for /metrics.
  void sync();
  // Arms the timer that syncs what is written within kSyncSoon, unless a sync comes first.
  void sync_soon();
  // Rewrites the log (atomically) with what the replica still needs, as the core states it, once
  // it reaches the compaction size (and twice its size after the last compaction).
  void maybe_compact(const bft::Replica& replica);

  std::uint64_t size_bytes() const { return wal_.size_bytes(); }
  std::uint64_t syncs() const { return wal_.syncs(); }
  std::uint64_t late_syncs() const { return late_syncs_; }
  std::uint64_t compactions() const { return compactions_; }

  // Logs and ends the process.
  [[noreturn]] void fatal(const std::string& message) const;

 private:
  void arm_sync_soon(std::chrono::steady_clock::duration after);

  WriteAheadLog wal_;
  std::uint32_t validator_;
  std::uint64_t compact_bytes_;
  ValidatorMetrics& metrics_;
  boost::asio::steady_timer sync_soon_timer_;
  bool sync_soon_armed_ = false;
  std::uint64_t late_syncs_ = 0;  // made by sync_soon's timer
  // When the oldest record not yet durable was written (none: everything written is durable).
  std::optional<std::chrono::steady_clock::time_point> unsynced_since_;
  std::uint64_t compacted_bytes_ = 0;  // the log's size after the last compaction
  std::uint64_t compactions_ = 0;
};

}  // namespace bftgate::runtime
