#include "bftgate/sim/mac_signer.hpp"

#include <sodium.h>

#include "bftgate/crypto/sodium.hpp"

namespace bftgate::sim {

static_assert(crypto_shorthash_KEYBYTES == 16);

const MacKey& MacKeyring::key(bft::PrincipalId principal) {
  auto it = keys_.find(principal);
  if (it != keys_.end()) return it->second;
  // SipHash of (principal) under a seed-derived key: distinct, deterministic per run.
  crypto::ensure_sodium_initialized();
  MacKey root{};
  for (std::size_t i = 0; i < 8; ++i) root[i] = static_cast<std::uint8_t>(seed_ >> (8 * i));
  MacKey key{};
  for (std::uint8_t half = 0; half < 2; ++half) {
    std::array<std::uint8_t, 5> input = {
        half, static_cast<std::uint8_t>(principal), static_cast<std::uint8_t>(principal >> 8),
        static_cast<std::uint8_t>(principal >> 16), static_cast<std::uint8_t>(principal >> 24)};
    crypto_shorthash(key.data() + 8 * half, input.data(), input.size(), root.data());
  }
  return keys_.emplace(principal, key).first->second;
}

crypto::Signature mac_sign(const MacKey& key, crypto::Domain domain, ByteView body) {
  // Domain separation as with Ed25519: the tag goes into the MAC key's input.
  crypto::Signature signature{};
  auto tagged = crypto::signing_message(domain, body);
  crypto_shorthash(signature.bytes.data(), tagged.data(), tagged.size(), key.data());
  return signature;
}

crypto::Signature MacSigner::sign(crypto::Domain domain, ByteView body) const {
  return mac_sign(key_, domain, body);
}

bool MacVerifier::verify(bft::PrincipalId signer, crypto::Domain domain, ByteView body,
                         const crypto::Signature& signature) const {
  auto expected = mac_sign(keyring_->key(signer), domain, body);
  return sodium_memcmp(expected.bytes.data(), signature.bytes.data(), expected.bytes.size()) == 0;
}

}  // namespace bftgate::sim
