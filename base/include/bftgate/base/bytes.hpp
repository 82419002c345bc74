// Byte buffers and hex conversion shared by every bftgate module.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace bftgate {

using Bytes = std::vector<std::uint8_t>;
using ByteView = std::span<const std::uint8_t>;

inline ByteView as_bytes(std::string_view text) {
  return {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()};
}

// Lower-case hex of a byte range (libsodium's constant-time sodium_bin2hex).
std::string to_hex(ByteView bytes);

// Strict hex decoding: even length, hex digits only, no separators. nullopt on anything else.
std::optional<Bytes> from_hex(std::string_view hex);

// Decodes exactly N bytes of hex; nullopt when the text is not 2N hex digits.
template <std::size_t N>
std::optional<std::array<std::uint8_t, N>> fixed_from_hex(std::string_view hex) {
  if (hex.size() != 2 * N) return std::nullopt;
  auto decoded = from_hex(hex);
  if (!decoded) return std::nullopt;
  std::array<std::uint8_t, N> out{};
  for (std::size_t i = 0; i < N; ++i) out[i] = (*decoded)[i];
  return out;
}

}  // namespace bftgate
