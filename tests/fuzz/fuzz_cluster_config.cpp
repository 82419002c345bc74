// libFuzzer target: the cluster config parser, ClusterConfig::parse.
//
// Properties checked on every input that parses:
//   - validate() passes (parse must never hand out a config that breaks a rule);
//   - to_json().dump() does not throw, parses again, and the re-parsed config has the same
//     to_json() (the saved form of a config loads back as the same config);
//   - the quorum is live and safe: 1 <= quorum <= n - f, and any two quorums intersect in
//     more than f validators (BFT) or at all (CFT);
//   - every validator is found by find_validator() under its id.
// Refusals must come with a reason.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "bftgate/config/cluster_config.hpp"
#include "fuzz_support.hpp"

using bftgate::ByteView;
using bftgate::ClusterConfig;
using bftgate::fuzz::fail;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const ByteView input(data, size);
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto parsed = ClusterConfig::parse(text);
  if (!parsed) {
    if (parsed.error().message.empty()) fail("parse refused without a reason", input);
    return 0;
  }
  const auto& config = parsed.value();
  if (auto status = config.validate(); !status) {
    fail("parse accepted a config that validate() refuses: " + status.error().message, input);
  }

  auto json = config.to_json();
  std::string dumped;
  try {
    dumped = json.dump();
  } catch (const nlohmann::json::exception& e) {
    fail(std::string("to_json().dump() threw: ") + e.what(), input);
  }
  auto reparsed = ClusterConfig::parse(dumped);
  if (!reparsed) fail("parse(to_json().dump()) refused: " + reparsed.error().message, input);
  if (reparsed.value().to_json() != json)
    fail("parse(to_json().dump()) gives a different config", input);

  const std::size_t n = config.n();
  const std::size_t f = config.f;
  const std::size_t quorum = config.quorum();
  if (quorum < 1 || quorum + f > n) fail("quorum is not live: quorum < 1 or quorum > n - f", input);
  const std::size_t overlap =
      2 * quorum > n ? 2 * quorum - n : 0;  // least intersection of two quorums
  if (config.fault_model == bftgate::FaultModel::kBft ? overlap <= f : overlap == 0) {
    fail("two quorums can intersect in too few validators", input);
  }
  for (const auto& validator : config.validators) {
    if (config.find_validator(validator.id) != &validator)
      fail("find_validator does not find a validator", input);
  }
  return 0;
}
