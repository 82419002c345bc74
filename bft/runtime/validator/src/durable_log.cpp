#include "durable_log.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdlib>

#include "bftgate/core/persist_codec.hpp"

namespace bftgate::runtime {

DurableLog::DurableLog(boost::asio::io_context& io, WriteAheadLog wal, std::uint32_t validator,
                       std::uint64_t compact_bytes, ValidatorMetrics& metrics)
    : wal_(std::move(wal)),
      validator_(validator),
      compact_bytes_(compact_bytes),
      metrics_(metrics),
      sync_soon_timer_(io) {}

void DurableLog::write(const std::vector<bft::PersistRecord>& records) {
  for (const auto& record : records) {
    if (auto s = wal_.append(bft::encode_record(record)); !s) fatal(s.error().message);
  }
  // In the file before anything leaves: a process that dies now loses none of it.
  if (auto s = wal_.write(); !s) fatal(s.error().message);
}

void DurableLog::sync() {
  const auto syncs = wal_.syncs();
  const auto sync_started = std::chrono::steady_clock::now();
  if (auto s = wal_.sync(); !s) fatal(s.error().message);
  if (wal_.syncs() != syncs) metrics_.on_fsync(std::chrono::steady_clock::now() - sync_started);
  unsynced_since_.reset();
}

void DurableLog::sync_soon() {
  if (!wal_.unsynced()) return;
  if (!unsynced_since_) unsynced_since_ = std::chrono::steady_clock::now();
  if (!sync_soon_armed_) arm_sync_soon(kSyncSoon);
}

void DurableLog::arm_sync_soon(std::chrono::steady_clock::duration after) {
  sync_soon_armed_ = true;
  sync_soon_timer_.expires_after(after);
  sync_soon_timer_.async_wait([this](const boost::system::error_code& ec) {
    sync_soon_armed_ = false;
    if (ec || !unsynced_since_) return;  // a message's sync covered them meanwhile
    auto due = *unsynced_since_ + kSyncSoon;
    auto now = std::chrono::steady_clock::now();
    if (now >= due) {
      const auto syncs = wal_.syncs();
      sync();
      late_syncs_ += wal_.syncs() - syncs;
    } else {
      arm_sync_soon(due - now);
    }
  });
}

void DurableLog::maybe_compact(const bft::Replica& replica) {
  auto size = wal_.size_bytes();
  if (size < std::max(compact_bytes_, 2 * compacted_bytes_)) return;
  std::vector<Bytes> kept;
  for (const auto& record : replica.live_records()) kept.push_back(bft::encode_record(record));
  if (auto s = wal_.rewrite(kept); !s) fatal(s.error().message);
  compacted_bytes_ = wal_.size_bytes();
  ++compactions_;
  spdlog::info(
      "validator {}: compacted the WAL from {} to {} bytes ({} live records, view {}, "
      "stable checkpoint {})",
      validator_, size, compacted_bytes_, kept.size(), replica.view(), replica.stable_seq());
}

void DurableLog::fatal(const std::string& message) const {
  spdlog::critical("validator {}: {}", validator_, message);
  std::exit(1);
}

}  // namespace bftgate::runtime
