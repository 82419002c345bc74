// libFuzzer target: the simulation scenario parser, Scenario::parse (scenario files, and the
// findings the schedule search writes).
//
// Properties checked on every input that parses:
//   - to_json().dump() does not throw, parses again, and the re-parsed scenario has the same
//     to_json() (a finding written by the search loads back as the same scenario);
//   - every mutation names a validator in range whose strategy is "mutate";
//   - every partition group and mutation receiver is a validator in range.
// Refusals must come with a reason.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "bftgate/sim/scenario.hpp"
#include "fuzz_support.hpp"

using bftgate::ByteView;
using bftgate::fuzz::fail;
using bftgate::sim::Scenario;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const ByteView input(data, size);
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto parsed = Scenario::parse(text);
  if (!parsed) {
    if (parsed.error().message.empty()) fail("parse refused without a reason", input);
    return 0;
  }
  const auto& scenario = parsed.value();
  const auto n = scenario.validators;
  for (const auto& m : scenario.mutations) {
    auto strategy = scenario.byzantine.find(m.replica);
    if (m.replica >= n || strategy == scenario.byzantine.end() || strategy->second != "mutate")
      fail("a mutation for a validator that does not run the mutate strategy", input);
    for (auto id : m.to) {
      if (id >= n) fail("a mutation receiver out of range", input);
    }
  }
  for (const auto& p : scenario.round_partitions) {
    for (const auto& group : p.groups) {
      for (auto id : group) {
        if (id >= n) fail("a round-partition member out of range", input);
      }
    }
  }

  auto json = scenario.to_json();
  std::string dumped;
  try {
    dumped = json.dump();
  } catch (const nlohmann::json::exception& e) {
    fail(std::string("to_json().dump() threw: ") + e.what(), input);
  }
  auto reparsed = Scenario::parse(dumped);
  if (!reparsed) fail("parse(to_json().dump()) refused: " + reparsed.error().message, input);
  if (reparsed.value().to_json() != json)
    fail("parse(to_json().dump()) gives a different scenario", input);
  return 0;
}
