#include "epoch_switch.hpp"

#include <spdlog/spdlog.h>

#include "bftgate/runtime/client/epoch_store.hpp"

namespace bftgate::runtime {

EpochSwitch switch_epoch(const bft::AdapterRegister& app, std::uint32_t id,
                         const crypto::PublicKey& own_key, const std::filesystem::path& data_dir,
                         SwitchStep crash) {
  auto handoff = app.handoff();
  if (!handoff) return {};
  const auto epoch = app.config().epoch;
  crash_at(crash, SwitchStep::kCertified, id);
  if (auto saved = save_handoff(data_dir, *handoff); !saved) {
    // A fault of this host, not of the switch.
    spdlog::error("validator {}: cannot keep the handoff of epoch {} (tried again): {}", id, epoch,
                  saved.error().message);
    return {EpochSwitch::Kind::kNotKept, epoch + 1};
  }
  crash_at(crash, SwitchStep::kKept, id);
  auto next = app.next_epoch();
  const auto* self = next->config().find_validator(id);
  if (self == nullptr || self->public_key != own_key) {
    spdlog::warn(
        "validator {}: epoch {} {}: it takes no part from now on (its register of epoch {} "
        "stays, frozen, for queries)",
        id, epoch + 1, self == nullptr ? "leaves it out" : "gives its id another key", epoch);
    return {EpochSwitch::Kind::kLeftOut, epoch + 1};
  }
  spdlog::info("validator {}: epoch {} is certified; switching to it", id, epoch + 1);
  return {EpochSwitch::Kind::kNextEpoch, epoch + 1};
}

}  // namespace bftgate::runtime
