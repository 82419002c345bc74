// What the safetensors reader (safetensors.cpp), writer (safetensors_write.cpp) and the half
// conversions (half_float.cpp) share: the format's constants and the overflow-checked sizes.
#pragma once

#include <fmt/format.h>

#include <bit>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bftgate/validation/safetensors.hpp"

namespace bftgate::validation::safetensors_detail {

inline constexpr std::string_view kMetadataKey = "__metadata__";
inline constexpr std::size_t kLengthPrefix = 8;

inline bool is_float_dtype(DType dtype) {
  return dtype == DType::kF32 || dtype == DType::kF16 || dtype == DType::kBF16;
}

// The element count of a shape: 0 when any dimension is 0 (even if the others would overflow),
// nullopt for a negative dimension or an overflowing product.
inline std::optional<std::uint64_t> checked_element_count(const std::vector<std::int64_t>& shape) {
  for (auto dim : shape) {
    if (dim < 0) return std::nullopt;
    if (dim == 0) return 0;
  }
  std::uint64_t count = 1;
  for (auto dim : shape) {
    auto d = static_cast<std::uint64_t>(dim);
    if (count > std::numeric_limits<std::uint64_t>::max() / d) return std::nullopt;
    count *= d;
  }
  return count;
}

inline std::optional<std::uint64_t> checked_mul(std::uint64_t a, std::uint64_t b) {
  if (b != 0 && a > std::numeric_limits<std::uint64_t>::max() / b) return std::nullopt;
  return a * b;
}

inline std::string shape_text(const std::vector<std::int64_t>& shape) {
  return fmt::format("[{}]", fmt::join(shape, ", "));
}

inline std::uint32_t f32_bits(float value) {
  return std::bit_cast<std::uint32_t>(value);
}

}  // namespace bftgate::validation::safetensors_detail
