#include "bftgate/crypto/ed25519.hpp"
#include "bftgate/crypto/sha256.hpp"

#include <sodium.h>

#include "bftgate/crypto/sodium.hpp"

namespace bftgate::crypto {

static_assert(crypto_sign_PUBLICKEYBYTES == kPublicKeySize);
static_assert(crypto_sign_BYTES == kSignatureSize);
static_assert(crypto_sign_SEEDBYTES == kSeedSize);
static_assert(crypto_sign_SECRETKEYBYTES == 64);

std::optional<PublicKey> PublicKey::from_hex(std::string_view hex) {
  auto bytes = fixed_from_hex<kPublicKeySize>(hex);
  if (!bytes) return std::nullopt;
  return PublicKey{*bytes};
}

std::optional<Signature> Signature::from_hex(std::string_view hex) {
  auto bytes = fixed_from_hex<kSignatureSize>(hex);
  if (!bytes) return std::nullopt;
  return Signature{*bytes};
}

SecretKey SecretKey::generate() {
  ensure_sodium_initialized();
  SecretKey key;
  crypto_sign_keypair(key.public_key_.bytes.data(), key.secret_.data());
  return key;
}

SecretKey SecretKey::from_seed(std::span<const std::uint8_t, kSeedSize> seed) {
  ensure_sodium_initialized();
  SecretKey key;
  crypto_sign_seed_keypair(key.public_key_.bytes.data(), key.secret_.data(), seed.data());
  return key;
}

SecretKey::SecretKey(SecretKey&& other) noexcept
    : secret_(other.secret_), public_key_(other.public_key_) {
  other.wipe();
}

SecretKey& SecretKey::operator=(SecretKey&& other) noexcept {
  if (this != &other) {
    secret_ = other.secret_;
    public_key_ = other.public_key_;
    other.wipe();
  }
  return *this;
}

SecretKey::~SecretKey() { wipe(); }

void SecretKey::wipe() noexcept { sodium_memzero(secret_.data(), secret_.size()); }

namespace {
thread_local SignatureMemo* active_memo = nullptr;
}  // namespace

SignatureMemo::Use::Use(SignatureMemo& memo) : previous_(active_memo) {
  active_memo = &memo;
}

SignatureMemo::Use::~Use() {
  active_memo = previous_;
}

const Signature* SignatureMemo::find(const std::array<std::uint8_t, 32>& name) {
  auto it = signatures_.find(name);
  if (it == signatures_.end()) {
    ++misses_;
    return nullptr;
  }
  ++hits_;
  return &it->second;
}

void SignatureMemo::remember(const std::array<std::uint8_t, 32>& name,
                             const Signature& signature) {
  if (signatures_.size() >= capacity_) signatures_.clear();  // bounded: start over
  signatures_.emplace(name, signature);
}

Signature SecretKey::sign(Domain domain, ByteView body) const {
  auto message = signing_message(domain, body);
  if (active_memo == nullptr) return sign_raw(message);
  Bytes named(public_key_.bytes.begin(), public_key_.bytes.end());
  named.insert(named.end(), message.begin(), message.end());
  auto name = sha256(named).bytes;
  if (const auto* known = active_memo->find(name)) return *known;
  auto signature = sign_raw(message);
  active_memo->remember(name, signature);
  return signature;
}

Signature SecretKey::sign_raw(ByteView message) const {
  Signature signature;
  crypto_sign_detached(signature.bytes.data(), nullptr, message.data(), message.size(),
                       secret_.data());
  return signature;
}

void SecretKey::copy_seed_to(std::span<std::uint8_t, kSeedSize> out) const {
  crypto_sign_ed25519_sk_to_seed(out.data(), secret_.data());
}

void SecretKey::copy_x25519_secret_to(std::span<std::uint8_t, kSeedSize> out) const {
  crypto_sign_ed25519_sk_to_curve25519(out.data(), secret_.data());
}

bool verify(const PublicKey& key, Domain domain, ByteView body, const Signature& signature) {
  return verify_raw(key, signing_message(domain, body), signature);
}

bool verify_raw(const PublicKey& key, ByteView message, const Signature& signature) {
  ensure_sodium_initialized();
  return crypto_sign_verify_detached(signature.bytes.data(), message.data(), message.size(),
                                     key.bytes.data()) == 0;
}

}  // namespace bftgate::crypto
