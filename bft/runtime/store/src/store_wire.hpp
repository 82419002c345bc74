// What the store and its client agree on about the wire (private to the store library).
#pragma once

#include <cstdint>

#include "bftgate/base/strict_json.hpp"
#include "bftgate/runtime/store/artifact_store.hpp"

namespace bftgate::runtime {

// Request and reply headers are small flat objects.
inline constexpr JsonLimits kStoreHeaderLimits{.max_bytes = 4096, .max_depth = 2, .max_values = 32};
// A chunk and its header; a bigger frame disconnects its sender.
inline constexpr std::int64_t kStoreMaxFrameBytes = kStoreChunk + (64 << 10);

}  // namespace bftgate::runtime
