#include "bftgate/gpu/slot_table.hpp"

#include <stdexcept>

namespace bftgate::gpu {

std::string_view to_string(SlotState state) {
  switch (state) {
    case SlotState::kFree:
      return "free";
    case SlotState::kLoading:
      return "loading";
    case SlotState::kStaged:
      return "staged";
    case SlotState::kActive:
      return "active";
    case SlotState::kRetiring:
      return "retiring";
  }
  return "unknown";
}

SlotTable::SlotTable(int slots) {
  // Two slots are the minimum for a swap without a pause: one active, one loading.
  if (slots < 2) throw std::invalid_argument("SlotTable: at least 2 adapter slots are needed");
  slots_.resize(static_cast<std::size_t>(slots));
}

std::string SlotTable::describe_locked() const {
  std::string text;
  for (std::size_t i = 0; i < slots_.size(); ++i) {
    const auto& slot = slots_[i];
    if (!text.empty()) text += ", ";
    text += "slot " + std::to_string(i) + " " + std::string(to_string(slot.state));
    if (slot.state != SlotState::kFree) text += " v" + std::to_string(slot.version);
    if (slot.in_flight > 0) text += " (" + std::to_string(slot.in_flight) + " in flight)";
  }
  return text;
}

std::string SlotTable::describe() const {
  std::lock_guard lock(mutex_);
  return describe_locked();
}

std::string SlotTable::stale_reason_locked(std::uint64_t version) const {
  const std::uint64_t active = active_ >= 0 ? slots_[static_cast<std::size_t>(active_)].version : 0;
  if (version <= active) {
    return "version " + std::to_string(version) + " is not newer than the active version " +
           std::to_string(active) + " (versions never go backwards)";
  }
  for (const auto& slot : slots_) {
    if ((slot.state == SlotState::kLoading || slot.state == SlotState::kStaged) &&
        version <= slot.version) {
      return "version " + std::to_string(version) + " is not newer than version " +
             std::to_string(slot.version) + ", already " + std::string(to_string(slot.state));
    }
  }
  return {};
}

void SlotTable::free_locked(int slot) {
  auto& s = slots_[static_cast<std::size_t>(slot)];
  s.state = SlotState::kFree;
  s.version = 0;
  slot_freed_.notify_all();
}

Result<int> SlotTable::begin_stage(std::uint64_t version, std::chrono::nanoseconds wait) {
  std::unique_lock lock(mutex_);
  const auto deadline = std::chrono::steady_clock::now() + wait;
  for (;;) {
    // Re-checked after every wait: the active version may have moved past this one meanwhile.
    if (auto reason = stale_reason_locked(version); !reason.empty())
      return Error{"stale adapter: " + reason};
    for (std::size_t i = 0; i < slots_.size(); ++i) {
      if (slots_[i].state == SlotState::kFree) {
        slots_[i].state = SlotState::kLoading;
        slots_[i].version = version;
        return static_cast<int>(i);
      }
    }
    if (slot_freed_.wait_until(lock, deadline) == std::cv_status::timeout) {
      bool any_free = false;
      for (const auto& slot : slots_) any_free = any_free || slot.state == SlotState::kFree;
      if (!any_free) {
        return Error{
            "no free adapter slot for version " + std::to_string(version) + " within " +
            std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(wait).count()) +
            " ms: " + describe_locked()};
      }
    }
  }
}

Status SlotTable::finish_stage(int slot) {
  std::lock_guard lock(mutex_);
  auto& s = slots_.at(static_cast<std::size_t>(slot));
  if (s.state != SlotState::kLoading) {
    return fail("finish_stage: slot " + std::to_string(slot) + " is " +
                std::string(to_string(s.state)) + ", not loading");
  }
  // Only newer versions than this one count against it now (it was not stale when it began).
  const std::uint64_t active = active_ >= 0 ? slots_[static_cast<std::size_t>(active_)].version : 0;
  if (s.version <= active ||
      (staged_ >= 0 && slots_[static_cast<std::size_t>(staged_)].version >= s.version)) {
    const auto superseding =
        s.version <= active ? active : slots_[static_cast<std::size_t>(staged_)].version;
    const auto version = s.version;
    free_locked(slot);
    return fail("stale adapter: version " + std::to_string(version) +
                " was superseded by version " + std::to_string(superseding) + " while it loaded");
  }
  if (staged_ >= 0) free_locked(staged_);  // an older staged version that never went live
  s.state = SlotState::kStaged;
  staged_ = slot;
  return ok_status();
}

void SlotTable::abort_stage(int slot) {
  std::lock_guard lock(mutex_);
  auto& s = slots_.at(static_cast<std::size_t>(slot));
  if (s.state == SlotState::kLoading) free_locked(slot);
}

Result<FlipOutcome> SlotTable::flip() {
  std::lock_guard lock(mutex_);
  if (staged_ < 0) return Error{"flip: no staged adapter to flip to (" + describe_locked() + ")"};
  auto& next = slots_[static_cast<std::size_t>(staged_)];
  FlipOutcome outcome;
  outcome.slot = staged_;
  outcome.version = next.version;
  if (active_ >= 0) {
    auto& previous = slots_[static_cast<std::size_t>(active_)];
    outcome.previous_version = previous.version;
    // Unreachable through begin_stage/finish_stage, kept as the last line of defence.
    if (next.version <= previous.version) {
      return Error{"stale adapter: flip to version " + std::to_string(next.version) +
                   " refused, the active version is " + std::to_string(previous.version)};
    }
    if (previous.in_flight == 0) {
      free_locked(active_);
      outcome.previous_freed = true;
    } else {
      previous.state = SlotState::kRetiring;
    }
  }
  next.state = SlotState::kActive;
  active_ = staged_;
  staged_ = -1;
  return outcome;
}

SlotLease SlotTable::acquire() {
  std::lock_guard lock(mutex_);
  if (active_ < 0) return {};
  auto& slot = slots_[static_cast<std::size_t>(active_)];
  ++slot.in_flight;
  return {active_, slot.version};
}

void SlotTable::release(const SlotLease& lease) {
  if (lease.slot < 0) return;
  std::lock_guard lock(mutex_);
  auto& slot = slots_.at(static_cast<std::size_t>(lease.slot));
  if (slot.in_flight == 0) throw std::logic_error("SlotTable::release without a matching acquire");
  --slot.in_flight;
  if (slot.in_flight == 0 && slot.state == SlotState::kRetiring) free_locked(lease.slot);
}

std::uint64_t SlotTable::active_version() const {
  std::lock_guard lock(mutex_);
  return active_ >= 0 ? slots_[static_cast<std::size_t>(active_)].version : 0;
}

std::uint64_t SlotTable::staged_version() const {
  std::lock_guard lock(mutex_);
  return staged_ >= 0 ? slots_[static_cast<std::size_t>(staged_)].version : 0;
}

SlotState SlotTable::state(int slot) const {
  std::lock_guard lock(mutex_);
  return slots_.at(static_cast<std::size_t>(slot)).state;
}

std::uint32_t SlotTable::in_flight(int slot) const {
  std::lock_guard lock(mutex_);
  return slots_.at(static_cast<std::size_t>(slot)).in_flight;
}

}  // namespace bftgate::gpu
