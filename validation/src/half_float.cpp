// IEEE half and bfloat16 conversions (safetensors.hpp): exact widening, narrowing rounded to
// nearest even, NaN kept a NaN and inf an inf.
#include <bit>
#include <cstdint>

#include "safetensors_internal.hpp"

namespace bftgate::validation {

using safetensors_detail::f32_bits;

float f16_to_f32(std::uint16_t bits) {
  const std::uint32_t sign = static_cast<std::uint32_t>(bits & 0x8000u) << 16;
  const std::uint32_t exponent = (bits >> 10) & 0x1fu;
  std::uint32_t mantissa = bits & 0x3ffu;
  std::uint32_t out = 0;
  if (exponent == 0x1f) {  // inf or NaN: keep the payload
    out = sign | 0x7f800000u | (mantissa << 13);
  } else if (exponent != 0) {
    out = sign | ((exponent + 127 - 15) << 23) | (mantissa << 13);
  } else if (mantissa == 0) {
    out = sign;
  } else {  // subnormal: normalise (the value is mantissa x 2^-24)
    int shift = 0;
    while ((mantissa & 0x400u) == 0) {
      mantissa <<= 1;
      ++shift;
    }
    mantissa &= 0x3ffu;
    out = sign | (static_cast<std::uint32_t>(127 - 15 + 1 - shift) << 23) | (mantissa << 13);
  }
  return std::bit_cast<float>(out);
}

std::uint16_t f32_to_f16(float value) {
  const std::uint32_t bits = f32_bits(value);
  const auto sign = static_cast<std::uint16_t>((bits >> 16) & 0x8000u);
  const std::uint32_t exponent = (bits >> 23) & 0xffu;
  const std::uint32_t mantissa = bits & 0x7fffffu;
  if (exponent == 0xff) {  // inf stays inf; NaN stays a (quiet) NaN with its top payload bits
    if (mantissa == 0) return static_cast<std::uint16_t>(sign | 0x7c00u);
    return static_cast<std::uint16_t>(sign | 0x7e00u | (mantissa >> 13));
  }
  const int unbiased = static_cast<int>(exponent) - 127;
  if (unbiased > 15) return static_cast<std::uint16_t>(sign | 0x7c00u);  // overflow to inf
  if (unbiased >= -14) {
    // Normal half: drop 13 mantissa bits, rounding to nearest even; a carry into the exponent
    // is the correct result (up to inf).
    std::uint32_t half = (static_cast<std::uint32_t>(unbiased + 15) << 10) | (mantissa >> 13);
    const std::uint32_t rest = mantissa & 0x1fffu;
    if (rest > 0x1000u || (rest == 0x1000u && (half & 1u))) ++half;
    return static_cast<std::uint16_t>(sign | half);
  }
  if (unbiased < -25) return sign;  // below half the smallest subnormal: rounds to zero
  // Subnormal half: the value is (1.mantissa) x 2^unbiased = m x 2^-24 with m shifted out.
  const std::uint32_t full = mantissa | 0x800000u;
  const auto shift = static_cast<std::uint32_t>(-unbiased - 14 + 13);  // 14..24
  std::uint32_t half = full >> shift;
  const std::uint32_t rest = full & ((1u << shift) - 1u);
  const std::uint32_t halfway = 1u << (shift - 1);
  if (rest > halfway || (rest == halfway && (half & 1u))) ++half;
  return static_cast<std::uint16_t>(sign | half);
}

float bf16_to_f32(std::uint16_t bits) {
  return std::bit_cast<float>(static_cast<std::uint32_t>(bits) << 16);
}

std::uint16_t f32_to_bf16(float value) {
  const std::uint32_t bits = f32_bits(value);
  if ((bits & 0x7f800000u) == 0x7f800000u && (bits & 0x7fffffu) != 0) {
    return static_cast<std::uint16_t>((bits >> 16) | 0x0040u);  // NaN: quiet, never inf
  }
  // Round to nearest even; a carry into the exponent rounds up to inf where it must.
  const std::uint32_t rounding = 0x7fffu + ((bits >> 16) & 1u);
  return static_cast<std::uint16_t>((bits + rounding) >> 16);
}

}  // namespace bftgate::validation
