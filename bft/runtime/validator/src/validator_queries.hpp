// What a validator answers on its socket: a status page of the register with its own state and
// kept metrics, the highest request id a client executed, and the latest release (for nodes).
// Queries come from anyone: bounded on parse, and a bad one is refused (counted) and answered
// with an error.
#pragma once

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>

#include "bftgate/base/bytes.hpp"
#include "bftgate/byzantine/byzantine.hpp"
#include "bftgate/runtime/net/refusals.hpp"
#include "durable_log.hpp"
#include "validator_voting.hpp"

namespace bftgate::runtime {

// What a query may read of one validator.
struct ValidatorView {
  std::uint32_t id = 0;
  const bft::Replica& replica;
  const bft::AdapterRegister& app;
  const DurableLog& log;
  const ValidatorVoting& voting;
  bft::ByzantineStrategy* strategy = nullptr;  // what it answers a node's poll with
  Refusals& refusals;
  const std::filesystem::path& data_dir;  // where its kept handoffs are
  std::optional<std::uint64_t> removed_in_epoch;
};

// The answer to a query frame's payload (JSON).
nlohmann::json answer_query(ByteView payload, const ValidatorView& view);

}  // namespace bftgate::runtime
