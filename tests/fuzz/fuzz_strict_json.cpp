// libFuzzer target: the one reader of outside JSON, bftgate::parse_json / parse_ordered_json
// (crypto/strict_json.hpp: size, depth and value-count limits, duplicate keys refused, UTF-8
// checked), and printable(), which every refusal message goes through.
//
// Properties checked on every input:
//   - parsing never throws; a refusal has a reason that is valid UTF-8 and dumps as JSON with
//     nlohmann's default (strict) error handler;
//   - a parsed value dumps without throwing, and its dump parses again to an equal value;
//   - the limits hold: under the default limits and under small ones (2 KiB, depth 4, 64
//     values), a success is within them (depth and value count computed from the result);
//   - the small limits only refuse more: what they accept, the defaults accept as the same value;
//   - parse_json and parse_ordered_json accept the same texts, as the same values;
//   - printable() output is valid UTF-8 with no control byte (< 0x20, 0x7F), about max_bytes
//     long, and leaves short text that needs no escaping as it is.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "bftgate/base/strict_json.hpp"
#include "fuzz_support.hpp"
#include "json_checks.hpp"

using bftgate::ByteView;
using bftgate::JsonLimits;
using bftgate::fuzz::fail;

namespace {

constexpr JsonLimits kSmall{.max_bytes = 2048, .max_depth = 4, .max_values = 64};

void check_printable(std::string_view text, std::size_t max_bytes, ByteView input) {
  auto out = bftgate::printable(text, max_bytes);
  bftgate::fuzz::check_safe_text("printable()", out, input);
  for (char ch : out) {
    auto c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c == 0x7F) fail("printable() kept a control byte", input);
  }
  // Each step appends at most 4 bytes once under max_bytes, then "..." ends it.
  if (out.size() > max_bytes + 4 + 3) {
    fail("printable() output is " + std::to_string(out.size()) + " bytes for max_bytes " +
             std::to_string(max_bytes),
         input);
  }
  bool plain =
      bftgate::fuzz::valid_utf8(text) && std::none_of(text.begin(), text.end(), [](char ch) {
        auto c = static_cast<unsigned char>(ch);
        return c < 0x20 || c == 0x7F || c == '\\';
      });
  if (plain && text.size() <= max_bytes && out != text) {
    fail("printable() changed short text that needs no escaping", input);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const ByteView input(data, size);
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  namespace fuzz = bftgate::fuzz;

  auto plain = bftgate::parse_json(text);
  auto ordered = bftgate::parse_ordered_json(text);
  bool plain_ok = fuzz::check_parse(plain, text, JsonLimits{}, "parse_json", input);
  bool ordered_ok = fuzz::check_parse(ordered, text, JsonLimits{}, "parse_ordered_json", input);
  if (plain_ok != ordered_ok)
    fail("parse_json and parse_ordered_json disagree on accepting", input);
  if (plain_ok && nlohmann::json::parse(ordered->dump()) != *plain) {
    fail("parse_json and parse_ordered_json parse to different values", input);
  }

  auto small = bftgate::parse_json(text, kSmall);
  if (fuzz::check_parse(small, text, kSmall, "parse_json (small limits)", input)) {
    if (!plain_ok || *small != *plain)
      fail("the small limits accepted what the defaults did not", input);
  }

  check_printable(text, 256, input);
  check_printable(text, 16, input);
  return 0;
}
