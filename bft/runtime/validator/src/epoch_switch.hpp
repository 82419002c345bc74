// What a validator does once its register holds the epoch certificate: it keeps the handoff
// (runtime/client/epoch_store.hpp, synced), then runs the next epoch, or, when the next set
// leaves it out or gives its id another key (a new machine took its place), stays with its
// frozen register and says so. A handoff that cannot be kept (a full disk) is tried again.
#pragma once

#include <cstdint>
#include <filesystem>

#include "bftgate/crypto/ed25519.hpp"
#include "bftgate/register/register.hpp"
#include "bftgate/runtime/validator/switch_crash.hpp"

namespace bftgate::runtime {

struct EpochSwitch {
  enum class Kind { kNotYet, kNotKept, kLeftOut, kNextEpoch };
  Kind kind = Kind::kNotYet;
  std::uint64_t next_epoch = 0;
};

EpochSwitch switch_epoch(const bft::AdapterRegister& app, std::uint32_t id,
                         const crypto::PublicKey& own_key, const std::filesystem::path& data_dir,
                         SwitchStep crash = SwitchStep::kNone);

}  // namespace bftgate::runtime
