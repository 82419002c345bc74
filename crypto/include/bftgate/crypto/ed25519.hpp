// Ed25519 keys, signing and verification (libsodium). Protocol code signs through the
// domain-separated sign()/verify(); the raw forms exist for the RFC 8032 test vectors.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "bftgate/base/bytes.hpp"
#include "bftgate/base/encoding.hpp"

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
  // The X25519 secret of the same key (crypto_sign_ed25519_sk_to_curve25519), for a key exchange
  // bound to this identity (session.hpp); the caller wipes the destination.
  void copy_x25519_secret_to(std::span<std::uint8_t, kSeedSize> out) const;

 private:
  SecretKey() = default;
  void wipe() noexcept;

  std::array<std::uint8_t, 64> secret_{};  // libsodium layout: seed || public key
  PublicKey public_key_{};
};

// Ed25519 signing is deterministic: one key signs one message one way. While a
// SignatureMemo::Use is alive on a thread, SecretKey::sign on that thread looks the signature up
// there first (by the public key and the signed message) and remembers what it computes. The
// simulator keeps one memo a thread, since runs cast the same votes over and over. It holds
// signatures only, never key material.
class SignatureMemo {
 public:
  explicit SignatureMemo(std::size_t capacity = 1 << 12) : capacity_(capacity) {}

  class Use {
   public:
    explicit Use(SignatureMemo& memo);
    ~Use();
    Use(const Use&) = delete;
    Use& operator=(const Use&) = delete;

   private:
    SignatureMemo* previous_;
  };

  std::uint64_t hits() const { return hits_; }
  std::uint64_t misses() const { return misses_; }

 private:
  friend class SecretKey;
  const Signature* find(const std::array<std::uint8_t, 32>& name);
  void remember(const std::array<std::uint8_t, 32>& name, const Signature& signature);

  std::size_t capacity_;
  std::map<std::array<std::uint8_t, 32>, Signature> signatures_;
  std::uint64_t hits_ = 0;
  std::uint64_t misses_ = 0;
};

// Verifies a signature made by SecretKey::sign with the same domain and body.
bool verify(const PublicKey& key, Domain domain, ByteView body, const Signature& signature);
// Verifies over the message as given (no domain tag).
bool verify_raw(const PublicKey& key, ByteView message, const Signature& signature);

}  // namespace bftgate::crypto
