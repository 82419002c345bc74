// The register as people and scripts read it (bftgate status --json, inference-node polls).
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>

#include "bftgate/bft/register.hpp"
#include "bftgate/bft/release_selector.hpp"

namespace bftgate::runtime {

nlohmann::json entry_to_json(const bft::RegisterEntry& entry);
// A validator's answer to a latest-release query ({"release": entry JSON or null}) as a typed
// offer (bft/release_selector.hpp); no release is an offer of version 0. Anything malformed is
// refused with the reason.
Result<bft::ReleaseOffer> offer_from_json(bft::ReplicaId from, const nlohmann::json& answer);
nlohmann::json register_to_json(const bft::AdapterRegister& register_state);

// Whether the validators that answered a status query hold the same replicated state: they are
// grouped by (register head hash, operation-log hash), largest group first:
//   {"agree": bool, "groups": [{"validators": [ids], "head_hash": h, "log_head_hash": l,
//                               "last_executed": [per validator]}]}
// An answer without the hashes forms its own group with empty hashes.
nlohmann::json agreement_of(const std::map<std::uint32_t, nlohmann::json>& status_answers);

}  // namespace bftgate::runtime
