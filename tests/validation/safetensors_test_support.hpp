#pragma once

#include <bit>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "bftgate/validation/safetensors.hpp"

namespace bftgate::validation::safetensors_testing {

// A file from a literal header and a zero-filled buffer; the length prefix may lie.
inline Bytes raw_file(const std::string& header, std::size_t buffer_size,
                      std::optional<std::uint64_t> claimed_length = std::nullopt) {
  Bytes out;
  const std::uint64_t length = claimed_length.value_or(header.size());
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<std::uint8_t>(length >> (8 * i)));
  out.insert(out.end(), header.begin(), header.end());
  out.resize(out.size() + buffer_size, 0);
  return out;
}

inline std::uint32_t bits_of(float value) {
  return std::bit_cast<std::uint32_t>(value);
}

inline std::vector<TensorToWrite> sample_tensors() {
  return {
      {"layer.weight", {2, 3}, {1.0f, -2.5f, 0.125f, 3.0f, -0.0f, 1024.0f}},
      {"scalar", {}, {7.5f}},
      {"empty", {0, 3}, {}},
      {"bias", {3}, {0.5f, -0.25f, 2.0f}},
  };
}

}  // namespace bftgate::validation::safetensors_testing
