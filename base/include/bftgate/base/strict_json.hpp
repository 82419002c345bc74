// The one reader of JSON that comes from outside: socket frames, files, configs. It parses into
// bounded values (size, nesting depth and value count limits, so that a hostile document cannot
// cost more memory than a small multiple of its limits), refuses duplicate object keys (a
// duplicate "f" must not silently win) and invalid UTF-8, and reports every problem as an error
// whose text is safe to print, log and put into JSON (raw input bytes never reach it).
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "bftgate/base/result.hpp"

namespace bftgate {

struct JsonLimits {
  std::size_t max_bytes = 1 << 20;
  std::size_t max_depth = 32;
  std::size_t max_values = 1 << 16;  // every scalar, array, object and key counts once
};

Result<nlohmann::json> parse_json(std::string_view text, const JsonLimits& limits = {});
Result<nlohmann::ordered_json> parse_ordered_json(std::string_view text,
                                                  const JsonLimits& limits = {});

// Untrusted text made safe to print, log or store in JSON: valid UTF-8 other than control
// characters is kept, every other byte is written as \xNN, and the result is cut to about
// max_bytes with "..." appended.
std::string printable(std::string_view text, std::size_t max_bytes = 256);

// dump() that cannot throw: a string holding invalid UTF-8 is written with U+FFFD instead.
template <class Json>
std::string dump_json(const Json& value, int indent = -1) {
  return value.dump(indent, ' ', false, Json::error_handler_t::replace);
}

}  // namespace bftgate
