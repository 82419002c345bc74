#include "bftgate/crypto/checksum.hpp"

#include <sodium.h>

#include <array>

#include "bftgate/crypto/sodium.hpp"

namespace bftgate::crypto {

std::uint32_t record_checksum(ByteView bytes) {
  ensure_sodium_initialized();
  static constexpr std::array<std::uint8_t, crypto_shorthash_KEYBYTES> kKey{};
  std::array<std::uint8_t, crypto_shorthash_BYTES> hash{};
  crypto_shorthash(hash.data(), bytes.data(), bytes.size(), kKey.data());
  return static_cast<std::uint32_t>(hash[0]) | static_cast<std::uint32_t>(hash[1]) << 8 |
         static_cast<std::uint32_t>(hash[2]) << 16 | static_cast<std::uint32_t>(hash[3]) << 24;
}

}  // namespace bftgate::crypto
