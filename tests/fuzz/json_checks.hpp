// Checks shared by the targets that read outside JSON through bftgate::parse_json
// (crypto/strict_json.hpp): fuzz_strict_json, fuzz_validator_query, fuzz_store_request.
#pragma once

#include <algorithm>
#include <cstddef>
#include <exception>
#include <limits>
#include <string>
#include <string_view>
#include <type_traits>

#include "bftgate/base/strict_json.hpp"
#include "fuzz_support.hpp"

namespace bftgate::fuzz {

struct JsonShape {
  std::size_t depth = 0;   // containers on the deepest path (a scalar: 0)
  std::size_t values = 0;  // scalars, arrays, objects and keys, as JsonLimits counts them
};

template <class Json>
JsonShape json_shape(const Json& value) {
  JsonShape shape{0, 1};
  if (value.is_array() || value.is_object()) {
    std::size_t deepest = 0;
    for (auto it = value.begin(); it != value.end(); ++it) {
      auto inner = json_shape(*it);
      deepest = std::max(deepest, inner.depth);
      shape.values += inner.values + (value.is_object() ? 1 : 0);
    }
    shape.depth = deepest + 1;
  }
  return shape;
}

template <class Json>
Result<Json> parse_as(std::string_view text, const JsonLimits& limits) {
  if constexpr (std::is_same_v<Json, nlohmann::ordered_json>) {
    return parse_ordered_json(text, limits);
  } else {
    return parse_json(text, limits);
  }
}

// Every property of one parse_json / parse_ordered_json result under `limits`; returns whether
// the text parsed.
template <class Json>
bool check_parse(const Result<Json>& parsed, std::string_view text, const JsonLimits& limits,
                 std::string_view what, ByteView input) {
  const std::string at(what);
  if (!parsed) {
    if (parsed.error().message.empty()) fail(at + ": refused without a reason", input);
    check_safe_text(at + ": its error message", parsed.error().message, input);
    return false;
  }
  if (text.size() > limits.max_bytes) fail(at + ": accepted a text over max_bytes", input);
  auto shape = json_shape(*parsed);
  if (shape.depth > limits.max_depth) {
    fail(at + ": accepted a value " + std::to_string(shape.depth) + " deep, over max_depth " +
             std::to_string(limits.max_depth),
         input);
  }
  if (shape.values > limits.max_values) {
    fail(at + ": accepted " + std::to_string(shape.values) + " values, over max_values " +
             std::to_string(limits.max_values),
         input);
  }
  std::string dumped;
  try {
    dumped = parsed->dump();  // the default handler throws on invalid UTF-8
  } catch (const std::exception& e) {
    fail(at + ": a parsed value does not dump (" + e.what() + ")", input);
  }
  if (dump_json(*parsed) != dumped) fail(at + ": dump_json differs from dump", input);
  // What was accepted once is accepted again, as the same value, whatever its spelling.
  JsonLimits unlimited = limits;
  unlimited.max_bytes = std::numeric_limits<std::size_t>::max();
  auto reparsed = parse_as<Json>(dumped, unlimited);
  if (!reparsed)
    fail(at + ": the dump of a parsed value does not parse: " + reparsed.error().message, input);
  if (!(*reparsed == *parsed))
    fail(at + ": the dump of a parsed value parses to another value", input);
  return true;
}

}  // namespace bftgate::fuzz
