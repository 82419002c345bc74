// How many seeds a simulator property runs: 1,000 unless BFTGATE_PROPERTY_SEEDS says otherwise
// (the sanitizer build runs fewer).
#pragma once

#include <cstdint>
#include <cstdlib>

namespace bftgate::testing {

inline std::uint64_t property_seeds() {
  if (const char* text = std::getenv("BFTGATE_PROPERTY_SEEDS"))
    return std::strtoull(text, nullptr, 10);
  return 1000;
}

}  // namespace bftgate::testing
