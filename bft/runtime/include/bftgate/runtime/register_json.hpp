// The register as people and scripts read it (bftgate status --json, inference-node polls).
#pragma once

#include <nlohmann/json.hpp>

#include "bftgate/bft/register.hpp"

namespace bftgate::runtime {

nlohmann::json entry_to_json(const bft::RegisterEntry& entry);
nlohmann::json register_to_json(const bft::AdapterRegister& register_state);

}  // namespace bftgate::runtime
