#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <random>

#include "bftgate/io/file_io.hpp"
#include "bftgate/validation/safetensors.hpp"
#include "json_file.hpp"
#include "safetensors_test_support.hpp"
#include "test_dirs.hpp"

namespace bftgate::validation {
namespace {

using namespace safetensors_testing;  // the shared helpers (safetensors_test_support.hpp)

// ---- conversions -------------------------------------------------------------------------

// An independent reading of an IEEE half: (-1)^s x 2^(e-15) x 1.m, or 2^-14 x 0.m.
double half_value(std::uint16_t bits) {
  const int sign = (bits & 0x8000) ? -1 : 1;
  const int exponent = (bits >> 10) & 0x1f;
  const int mantissa = bits & 0x3ff;
  if (exponent == 0x1f) {
    return mantissa ? std::numeric_limits<double>::quiet_NaN()
                    : sign * std::numeric_limits<double>::infinity();
  }
  if (exponent == 0) return sign * std::ldexp(mantissa, -24);
  return sign * std::ldexp(1024 + mantissa, exponent - 25);
}

TEST(HalfConversion, EveryHalfDecodesToItsValue) {
  for (std::uint32_t bits = 0; bits <= 0xffff; ++bits) {
    const auto half = static_cast<std::uint16_t>(bits);
    const float decoded = f16_to_f32(half);
    const double expected = half_value(half);
    if (std::isnan(expected)) {
      EXPECT_TRUE(std::isnan(decoded)) << bits;
      EXPECT_TRUE(std::isnan(f16_to_f32(f32_to_f16(decoded)))) << bits;
      continue;
    }
    ASSERT_EQ(static_cast<double>(decoded), expected) << std::hex << bits;
    ASSERT_EQ(std::signbit(decoded), (bits & 0x8000) != 0) << bits;
    ASSERT_EQ(f32_to_f16(decoded), half) << std::hex << bits;  // exact values survive the trip
  }
}

TEST(HalfConversion, KnownValues) {
  EXPECT_EQ(f32_to_f16(1.0f), 0x3c00);
  EXPECT_EQ(f32_to_f16(-2.0f), 0xc000);
  EXPECT_EQ(f32_to_f16(-0.0f), 0x8000);
  EXPECT_EQ(f32_to_f16(65504.0f), 0x7bff);
  EXPECT_EQ(f32_to_f16(65519.0f), 0x7bff);  // below the halfway point to 65536
  EXPECT_EQ(f32_to_f16(65520.0f), 0x7c00);  // halfway: even is 2^16, out of range: inf
  EXPECT_EQ(f32_to_f16(1e10f), 0x7c00);
  EXPECT_EQ(f32_to_f16(-std::numeric_limits<float>::infinity()), 0xfc00);
  EXPECT_EQ(f32_to_f16(std::ldexp(1.0f, -14)), 0x0400);  // smallest normal
  EXPECT_EQ(f32_to_f16(std::ldexp(1.0f, -24)), 0x0001);  // smallest subnormal
  EXPECT_EQ(f32_to_f16(std::ldexp(1023.0f, -24)), 0x03ff);
  EXPECT_EQ(f32_to_f16(std::ldexp(1.0f, -25)), 0x0000);  // halfway to the first subnormal: even
  EXPECT_EQ(f32_to_f16(std::ldexp(1.5f, -25)), 0x0001);
  EXPECT_EQ(f32_to_f16(std::ldexp(3.0f, -25)), 0x0002);     // 1.5 units: even is 2
  EXPECT_EQ(f32_to_f16(std::ldexp(5.0f, -25)), 0x0002);     // 2.5 units: even is 2
  EXPECT_EQ(f32_to_f16(std::ldexp(2047.0f, -25)), 0x0400);  // rounds up into the normals
  EXPECT_EQ(f32_to_f16(std::numeric_limits<float>::denorm_min()), 0x0000);
  EXPECT_EQ(f32_to_f16(1.0f + std::ldexp(1.0f, -11)), 0x3c00);                          // tie, even
  EXPECT_EQ(f32_to_f16(1.0f + std::ldexp(3.0f, -11)), 0x3c02);                          // tie, even
  EXPECT_EQ(f32_to_f16(1.0f + std::ldexp(1.0f, -11) + std::ldexp(1.0f, -20)), 0x3c01);  // above
  const auto nan = f32_to_f16(std::numeric_limits<float>::quiet_NaN());
  EXPECT_EQ(nan & 0x7c00, 0x7c00);
  EXPECT_NE(nan & 0x03ff, 0);
  // A signalling NaN whose payload lives only in the low bits must not become inf.
  const auto low_payload = f32_to_f16(std::bit_cast<float>(0x7f800001u));
  EXPECT_NE(low_payload & 0x03ff, 0);
  EXPECT_TRUE(std::isinf(f16_to_f32(0x7c00)));
  EXPECT_TRUE(std::isnan(f16_to_f32(0x7e00)));
}

// The nearest half by brute force over every finite half (ties to the even pattern).
std::uint16_t nearest_half(float value) {
  const double x = value;
  if (std::abs(x) >= 65520.0) return x > 0 ? 0x7c00 : 0xfc00;
  std::uint16_t best = 0;
  double best_distance = std::numeric_limits<double>::infinity();
  const std::uint16_t sign = std::signbit(value) ? 0x8000 : 0;
  for (std::uint16_t magnitude = 0; magnitude < 0x7c00; ++magnitude) {
    const auto candidate = static_cast<std::uint16_t>(sign | magnitude);
    const double distance = std::abs(half_value(candidate) - x);
    if (distance < best_distance || (distance == best_distance && (candidate & 1) == 0)) {
      best = candidate;
      best_distance = distance;
    }
  }
  return best;
}

TEST(HalfConversion, RandomFloatsRoundToTheNearestHalf) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> exponent(-27.0f, 17.0f);
  std::uniform_real_distribution<float> mantissa(1.0f, 2.0f);
  for (int i = 0; i < 300; ++i) {
    float value = std::ldexp(mantissa(rng), static_cast<int>(exponent(rng)));
    if (i % 2) value = -value;
    ASSERT_EQ(f32_to_f16(value), nearest_half(value)) << value;
  }
}

TEST(BfloatConversion, EveryBfloatRoundTrips) {
  for (std::uint32_t bits = 0; bits <= 0xffff; ++bits) {
    const auto bf16 = static_cast<std::uint16_t>(bits);
    const float decoded = bf16_to_f32(bf16);
    EXPECT_EQ(bits_of(decoded), bits << 16);
    if (std::isnan(decoded)) {
      EXPECT_TRUE(std::isnan(bf16_to_f32(f32_to_bf16(decoded)))) << bits;
    } else {
      ASSERT_EQ(f32_to_bf16(decoded), bf16) << std::hex << bits;
    }
  }
}

TEST(BfloatConversion, KnownValues) {
  EXPECT_EQ(f32_to_bf16(1.0f), 0x3f80);
  EXPECT_EQ(f32_to_bf16(1.0f + std::ldexp(1.0f, -8)), 0x3f80);  // tie, even
  EXPECT_EQ(f32_to_bf16(1.0f + std::ldexp(3.0f, -8)), 0x3f82);  // tie, even
  EXPECT_EQ(f32_to_bf16(1.0f + std::ldexp(1.0f, -8) + std::ldexp(1.0f, -20)), 0x3f81);
  EXPECT_EQ(f32_to_bf16(std::numeric_limits<float>::max()), 0x7f80);  // rounds up to inf
  EXPECT_EQ(f32_to_bf16(-std::numeric_limits<float>::infinity()), 0xff80);
  EXPECT_EQ(f32_to_bf16(std::bit_cast<float>(0x00008000u)), 0x0000);  // subnormal tie, even
  EXPECT_EQ(f32_to_bf16(std::bit_cast<float>(0x00018000u)), 0x0002);
  EXPECT_EQ(f32_to_bf16(std::bit_cast<float>(0x00008001u)), 0x0001);
  EXPECT_EQ(f32_to_bf16(-0.0f), 0x8000);
  // NaN stays NaN even when rounding the payload would carry into the exponent or drop it.
  for (std::uint32_t nan_bits : {0x7fffffffu, 0x7f800001u, 0xff800001u, 0x7fc00000u}) {
    const auto bf16 = f32_to_bf16(std::bit_cast<float>(nan_bits));
    EXPECT_TRUE(std::isnan(bf16_to_f32(bf16))) << std::hex << nan_bits;
    EXPECT_EQ(bf16 & 0x8000, (nan_bits >> 16) & 0x8000);
  }
}

}  // namespace
}  // namespace bftgate::validation
