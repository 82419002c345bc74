// Host-side bookkeeping of K preallocated adapter slots (vLLM's pattern): which slot is being
// loaded, which is staged, which one new batches use, and how many batches in flight still use
// each. The slot memory itself belongs to a backend; this table decides when it may be written:
//   free -> loading (begin_stage) -> staged (finish_stage) -> active (flip) -> retiring (next flip)
//   -> free (when its last in-flight batch ends).
// A slot is written only while loading, and a loading slot has no batch in flight, so no batch
// ever reads a half-copied adapter; a batch pins one slot (acquire/release) for its whole forward
// pass, so no batch mixes two versions. Versions never go backwards: staging or flipping a
// version not above the active one (or below one already staged or loading) is refused.
//
// Standard C++ only (it is also compiled into the self-contained device program, gpu/device/).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "bftgate/base/result.hpp"

namespace bftgate::gpu {

enum class SlotState : std::uint8_t { kFree, kLoading, kStaged, kActive, kRetiring };
std::string_view to_string(SlotState state);

// A batch's hold on the active slot. slot -1 and version 0: the base model without an adapter.
struct SlotLease {
  int slot = -1;
  std::uint64_t version = 0;
};

struct FlipOutcome {
  int slot = -1;                       // now active
  std::uint64_t version = 0;           // now active
  std::uint64_t previous_version = 0;  // 0: the base model
  bool previous_freed = false;         // false: freed when its last in-flight batch ends
};

class SlotTable {
 public:
  explicit SlotTable(int slots);
  SlotTable(const SlotTable&) = delete;
  SlotTable& operator=(const SlotTable&) = delete;

  // Reserves a free slot for `version` (free -> loading). Refused when `version` is not above the
  // active version and every version staged or loading; waits up to `wait` for a retiring slot's
  // last batch to end when no slot is free.
  Result<int> begin_stage(std::uint64_t version, std::chrono::nanoseconds wait);
  // loading -> staged. An older version staged before (never active) is dropped and its slot
  // freed. Refused (and the slot freed) if a version at least as new became staged or active
  // while this one loaded.
  Status finish_stage(int slot);
  // loading -> free, after a failed write.
  void abort_stage(int slot);
  // staged -> active; the previous active slot retires.
  Result<FlipOutcome> flip();

  // Pins the active slot for one batch; every acquire is matched by one release.
  SlotLease acquire();
  void release(const SlotLease& lease);

  int slot_count() const { return static_cast<int>(slots_.size()); }
  std::uint64_t active_version() const;
  std::uint64_t staged_version() const;  // 0 when nothing is staged
  SlotState state(int slot) const;
  std::uint32_t in_flight(int slot) const;
  std::string describe() const;  // e.g. "slot 0 active v3 (2 in flight), slot 1 free, ..."

 private:
  struct Slot {
    SlotState state = SlotState::kFree;
    std::uint64_t version = 0;
    std::uint32_t in_flight = 0;
  };

  std::string describe_locked() const;
  std::string stale_reason_locked(std::uint64_t version) const;  // empty when not stale
  void free_locked(int slot);

  mutable std::mutex mutex_;
  std::condition_variable slot_freed_;
  std::vector<Slot> slots_;
  int active_ = -1;
  int staged_ = -1;
};

}  // namespace bftgate::gpu
