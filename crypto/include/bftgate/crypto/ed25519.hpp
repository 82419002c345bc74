// Ed25519 keys, signing and verification (libsodium). Protocol code signs through the
// domain-separated sign()/verify(); the raw forms exist for the RFC 8032 test vectors.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "bftgate/crypto/bytes.hpp"
#include "bftgate/crypto/encoding.hpp"

namespace bftgate::crypto {

inline constexpr std::size_t kPublicKeySize = 32;
inline constexpr std::size_t kSignatureSize = 64;
inline constexpr std::size_t kSeedSize = 32;

struct PublicKey {
  std::array<std::uint8_t, kPublicKeySize> bytes{};

  std::string hex() const { return to_hex(bytes); }
  static std::optional<PublicKey> from_hex(std::string_view hex);
  auto operator<=>(const PublicKey&) const = default;
};

struct Signature {
  std::array<std::uint8_t, kSignatureSize> bytes{};

  std::string hex() const { return to_hex(bytes); }
  static std::optional<Signature> from_hex(std::string_view hex);
  auto operator<=>(const Signature&) const = default;
};

// An Ed25519 secret key. Move-only; the key material is wiped (sodium_memzero) when the
// object is destroyed or moved from, and it is never printed.
class SecretKey {
 public:
  static SecretKey generate();
  static SecretKey from_seed(std::span<const std::uint8_t, kSeedSize> seed);

  SecretKey(SecretKey&& other) noexcept;
  SecretKey& operator=(SecretKey&& other) noexcept;
  SecretKey(const SecretKey&) = delete;
  SecretKey& operator=(const SecretKey&) = delete;
  ~SecretKey();

  const PublicKey& public_key() const { return public_key_; }

  // Signs signing_message(domain, body).
  Signature sign(Domain domain, ByteView body) const;
  // Signs the message as given, with no domain tag. Only for interoperability test vectors.
  Signature sign_raw(ByteView message) const;

  // Copies the 32-byte seed out (to write a key file); the caller wipes the destination.
  void copy_seed_to(std::span<std::uint8_t, kSeedSize> out) const;

 private:
  SecretKey() = default;
  void wipe() noexcept;

  std::array<std::uint8_t, 64> secret_{};  // libsodium layout: seed || public key
  PublicKey public_key_{};
};

// Verifies a signature made by SecretKey::sign with the same domain and body.
bool verify(const PublicKey& key, Domain domain, ByteView body, const Signature& signature);
// Verifies over the message as given (no domain tag).
bool verify_raw(const PublicKey& key, ByteView message, const Signature& signature);

}  // namespace bftgate::crypto
