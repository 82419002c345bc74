#include "bftgate/crypto/session.hpp"

#include <sodium.h>

#include <cstring>

#include "bftgate/crypto/sodium.hpp"

namespace bftgate::crypto {

static_assert(crypto_kx_PUBLICKEYBYTES == kKxKeySize && crypto_kx_SECRETKEYBYTES == kKxKeySize);
static_assert(crypto_kx_SESSIONKEYBYTES == kKxKeySize && crypto_kx_SEEDBYTES == kKxKeySize);
static_assert(crypto_auth_hmacsha512256_BYTES == kMacSize);
static_assert(crypto_auth_hmacsha512256_KEYBYTES == kKxKeySize);

SessionKey::~SessionKey() {
  sodium_memzero(bytes_.data(), bytes_.size());
}

KxSecret KxSecret::generate() {
  ensure_sodium_initialized();
  KxSecret k;
  crypto_kx_keypair(k.public_key_.bytes.data(), k.secret_.data());
  return k;
}

KxSecret KxSecret::from_seed(std::span<const std::uint8_t, kKxKeySize> seed) {
  ensure_sodium_initialized();
  KxSecret k;
  crypto_kx_seed_keypair(k.public_key_.bytes.data(), k.secret_.data(), seed.data());
  return k;
}

KxSecret KxSecret::from_identity(const SecretKey& identity) {
  ensure_sodium_initialized();
  KxSecret k;
  identity.copy_x25519_secret_to(k.secret_);
  crypto_scalarmult_base(k.public_key_.bytes.data(), k.secret_.data());
  return k;
}

KxSecret::KxSecret(KxSecret&& other) noexcept
    : secret_(other.secret_), public_key_(other.public_key_) {
  sodium_memzero(other.secret_.data(), other.secret_.size());
}

KxSecret& KxSecret::operator=(KxSecret&& other) noexcept {
  if (this != &other) {
    secret_ = other.secret_;
    public_key_ = other.public_key_;
    sodium_memzero(other.secret_.data(), other.secret_.size());
  }
  return *this;
}

KxSecret::~KxSecret() {
  sodium_memzero(secret_.data(), secret_.size());
}

std::optional<SessionKeys> KxSecret::client_keys(const KxPublicKey& server) const {
  SessionKeys keys;
  if (crypto_kx_client_session_keys(keys.rx.bytes().data(), keys.tx.bytes().data(),
                                    public_key_.bytes.data(), secret_.data(),
                                    server.bytes.data()) != 0) {
    return std::nullopt;
  }
  return keys;
}

std::optional<SessionKeys> KxSecret::server_keys(const KxPublicKey& client) const {
  SessionKeys keys;
  if (crypto_kx_server_session_keys(keys.rx.bytes().data(), keys.tx.bytes().data(),
                                    public_key_.bytes.data(), secret_.data(),
                                    client.bytes.data()) != 0) {
    return std::nullopt;
  }
  return keys;
}

std::optional<KxPublicKey> kx_identity(const PublicKey& identity) {
  ensure_sodium_initialized();
  KxPublicKey out;
  if (crypto_sign_ed25519_pk_to_curve25519(out.bytes.data(), identity.bytes.data()) != 0) {
    return std::nullopt;
  }
  return out;
}

static_assert(sizeof(crypto_auth_hmacsha512256_state) == MacKey::kStateSize);

MacKey::MacKey(const SessionKey& key) {
  ensure_sodium_initialized();
  crypto_auth_hmacsha512256_state state;
  crypto_auth_hmacsha512256_init(&state, key.bytes().data(), key.bytes().size());
  std::memcpy(state_.data(), &state, sizeof state);
  sodium_memzero(&state, sizeof state);
}

MacKey::~MacKey() {
  sodium_memzero(state_.data(), state_.size());
}

Mac mac(const MacKey& key, Domain domain, ByteView body) {
  // Streamed, so the body is not copied behind its domain header.
  auto header = signing_message(domain, {});
  crypto_auth_hmacsha512256_state state;
  std::memcpy(&state, key.state(), sizeof state);
  crypto_auth_hmacsha512256_update(&state, header.data(), header.size());
  crypto_auth_hmacsha512256_update(&state, body.data(), body.size());
  Mac tag;
  crypto_auth_hmacsha512256_final(&state, tag.bytes.data());
  sodium_memzero(&state, sizeof state);
  return tag;
}

Mac mac(const SessionKey& key, Domain domain, ByteView body) {
  return mac(MacKey(key), domain, body);
}

bool mac_verify(const MacKey& key, Domain domain, ByteView body, const Mac& tag) {
  auto expected = mac(key, domain, body);
  return sodium_memcmp(expected.bytes.data(), tag.bytes.data(), kMacSize) == 0;
}

bool mac_verify(const SessionKey& key, Domain domain, ByteView body, const Mac& tag) {
  return mac_verify(MacKey(key), domain, body, tag);
}

}  // namespace bftgate::crypto
