// libFuzzer target: a validator's --faults spec (runtime/link_faults.hpp), which experiments
// and operators type and the validator parses at start.
//
// Properties checked on every input:
//   - nothing throws or crashes;
//   - a refused spec gets an error that starts with "--faults" and is safe to log (UTF-8, dumps
//     as JSON);
//   - an accepted spec describes itself safely, delays outgoing messages by at most an hour,
//     holds each incoming message at most a second, and drops or delays only what it names.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

#include "bftgate/runtime/validator/link_faults.hpp"
#include "fuzz_support.hpp"

using bftgate::ByteView;
using bftgate::fuzz::fail;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const ByteView input(data, size);
  const std::string spec(reinterpret_cast<const char*>(data), size);
  auto faults = bftgate::runtime::LinkFaults::parse(spec);
  if (!faults) {
    if (!faults.error().message.starts_with("--faults"))
      fail("an error not naming --faults", input);
    bftgate::fuzz::check_safe_text("error", faults.error().message, input);
    return 0;
  }
  bftgate::fuzz::check_safe_text("describe", faults->describe(), input);
  const auto now = std::chrono::steady_clock::now();
  for (int i = 0; i < 8; ++i) {
    auto held = faults->processing_delay(now);
    if (held.count() < 0 || held > std::chrono::seconds(1))
      fail("a processing delay out of range", input);
    for (std::uint32_t peer = 0; peer < 4; ++peer) {
      auto fate = faults->outgoing(peer, now);
      if (fate && (fate->count() < 0 || *fate > std::chrono::hours(1)))
        fail("an outgoing delay out of range", input);
    }
  }
  if (faults->empty()) {
    for (std::uint32_t peer = 0; peer < 4; ++peer) {
      if (faults->drop_incoming(peer, now) ||
          faults->outgoing(peer, now) != std::chrono::milliseconds(0))
        fail("a spec with no rule changed a message", input);
    }
  }
  return 0;
}
