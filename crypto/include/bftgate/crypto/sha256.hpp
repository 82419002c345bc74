// SHA-256 through OpenSSL's EVP interface (uses the CPU's SHA extensions where present):
// one-shot over bytes and incremental (bftgate/io/file_digest.hpp streams files through it).
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "bftgate/base/bytes.hpp"

struct evp_md_ctx_st;  // OpenSSL's EVP_MD_CTX, kept out of this header

namespace bftgate::crypto {

inline constexpr std::size_t kDigestSize = 32;

struct Digest {
  std::array<std::uint8_t, kDigestSize> bytes{};

  std::string hex() const { return to_hex(bytes); }
  static std::optional<Digest> from_hex(std::string_view hex);
  auto operator<=>(const Digest&) const = default;
};

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  Sha256& update(ByteView bytes);
  // Returns the digest of everything passed to update() and starts over.
  Digest finish();

 private:
  evp_md_ctx_st* context_;
};

Digest sha256(ByteView bytes);

}  // namespace bftgate::crypto
