// Session keys for PBFT's MAC authenticators. A client opens a session with a fresh crypto_kx
// key pair; each validator's side of the exchange is its Ed25519 identity in X25519 form
// (crypto_sign_ed25519_sk_to_curve25519), so only that validator can derive the keys and no
// handshake or per-session state on disk is needed. The client signs its session key once with
// its Ed25519 key (bft/cluster/client_sessions.hpp checks that); messages then carry
// HMAC-SHA-512-256 tags (crypto_auth) under the derived keys: one direction per key.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "bftgate/base/bytes.hpp"
#include "bftgate/base/encoding.hpp"
#include "bftgate/crypto/ed25519.hpp"

namespace bftgate::crypto {

inline constexpr std::size_t kKxKeySize = 32;
inline constexpr std::size_t kMacSize = 32;

struct KxPublicKey {
  std::array<std::uint8_t, kKxKeySize> bytes{};
  std::string hex() const { return to_hex(bytes); }
  auto operator<=>(const KxPublicKey&) const = default;
};

struct Mac {
  std::array<std::uint8_t, kMacSize> bytes{};
  auto operator<=>(const Mac&) const = default;
};

// One direction's key; wiped when destroyed.
class SessionKey {
 public:
  SessionKey() = default;
  SessionKey(const SessionKey& other) = default;
  SessionKey& operator=(const SessionKey& other) = default;
  ~SessionKey();
  std::array<std::uint8_t, kKxKeySize>& bytes() { return bytes_; }
  const std::array<std::uint8_t, kKxKeySize>& bytes() const { return bytes_; }

 private:
  std::array<std::uint8_t, kKxKeySize> bytes_{};
};

// What one side receives under (rx) and sends under (tx).
struct SessionKeys {
  SessionKey rx;
  SessionKey tx;
};

// An X25519 key pair for crypto_kx: fresh (a client's session) or a validator's Ed25519
// identity converted. Move-only; the secret is wiped when destroyed.
class KxSecret {
 public:
  static KxSecret generate();
  // Deterministic (crypto_kx_seed_keypair): for reproducible test and fuzz data only.
  static KxSecret from_seed(std::span<const std::uint8_t, kKxKeySize> seed);
  static KxSecret from_identity(const SecretKey& identity);
  KxSecret(KxSecret&& other) noexcept;
  KxSecret& operator=(KxSecret&& other) noexcept;
  KxSecret(const KxSecret&) = delete;
  KxSecret& operator=(const KxSecret&) = delete;
  ~KxSecret();

  const KxPublicKey& public_key() const { return public_key_; }
  // The client's keys with a validator whose key exchange public key is `server`; nullopt if
  // `server` is a bad point (crypto_kx refuses it).
  std::optional<SessionKeys> client_keys(const KxPublicKey& server) const;
  // The validator's keys with a client whose session key is `client`; nullopt for a bad point.
  std::optional<SessionKeys> server_keys(const KxPublicKey& client) const;

 private:
  KxSecret() = default;
  std::array<std::uint8_t, kKxKeySize> secret_{};
  KxPublicKey public_key_{};
};

// The X25519 form of a validator's Ed25519 public key; nullopt for a key that has none.
std::optional<KxPublicKey> kx_identity(const PublicKey& identity);

// A session key made ready for many tags: HMAC's keyed state (the key's inner and outer pads
// absorbed) computed once, which saves two of a short message's four SHA-512 blocks per tag.
// Wiped when destroyed.
class MacKey {
 public:
  explicit MacKey(const SessionKey& key);
  MacKey(const MacKey& other) = default;
  MacKey& operator=(const MacKey& other) = default;
  ~MacKey();
  const std::uint8_t* state() const { return state_.data(); }

  static constexpr std::size_t kStateSize = 416;  // crypto_auth_hmacsha512256_statebytes()

 private:
  alignas(64) std::array<std::uint8_t, kStateSize> state_{};
};

// Both directions of a session, ready for many tags.
struct SessionMacKeys {
  explicit SessionMacKeys(const SessionKeys& keys) : rx(keys.rx), tx(keys.tx) {}
  MacKey rx;
  MacKey tx;
};

// HMAC-SHA-512-256 (crypto_auth) of signing_message(domain, body) under `key`.
Mac mac(const MacKey& key, Domain domain, ByteView body);
Mac mac(const SessionKey& key, Domain domain, ByteView body);
// Constant-time check of a tag made by mac().
bool mac_verify(const MacKey& key, Domain domain, ByteView body, const Mac& tag);
bool mac_verify(const SessionKey& key, Domain domain, ByteView body, const Mac& tag);

}  // namespace bftgate::crypto
