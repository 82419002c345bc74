// SHA-256 through OpenSSL's EVP interface (uses the CPU's SHA extensions where present):
// one-shot over bytes, incremental, and streaming over files of any size.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "bftgate/crypto/bytes.hpp"
#include "bftgate/crypto/result.hpp"

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

struct FileDigest {
  Digest digest;
  std::uint64_t size = 0;
};

// Streams the file through SHA-256 in fixed-size chunks (memory use does not grow with the
// file). Errors name the file and the OS reason.
Result<FileDigest> sha256_file(const std::filesystem::path& path);

}  // namespace bftgate::crypto
