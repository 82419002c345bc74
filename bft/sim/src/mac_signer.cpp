#include "bftgate/sim/mac_signer.hpp"

#include <sodium.h>

#include <cstring>

#include "bftgate/crypto/sodium.hpp"

namespace bftgate::sim {

static_assert(crypto_shorthash_KEYBYTES == 16);
static_assert(crypto_shorthash_BYTES == 8);

namespace {
// A 16-byte key as two SipHash outputs of (half, label) under `root`.
MacKey derive(const MacKey& root, std::uint8_t kind, std::uint32_t label) {
  MacKey key{};
  for (std::uint8_t half = 0; half < 2; ++half) {
    std::array<std::uint8_t, 6> input = {half,
                                         kind,
                                         static_cast<std::uint8_t>(label),
                                         static_cast<std::uint8_t>(label >> 8),
                                         static_cast<std::uint8_t>(label >> 16),
                                         static_cast<std::uint8_t>(label >> 24)};
    crypto_shorthash(key.data() + 8 * half, input.data(), input.size(), root.data());
  }
  return key;
}
constexpr std::uint8_t kPrincipalKey = 0;
constexpr std::uint8_t kDomainKey = 1;
}  // namespace

MacKeys derive_mac_keys(const MacKey& root) {
  crypto::ensure_sodium_initialized();
  MacKeys keys;
  keys.root = root;
  for (std::size_t d = 0; d < MacKeys::kDomains; ++d) {
    keys.by_domain[d] = derive(root, kDomainKey, static_cast<std::uint32_t>(d));
  }
  return keys;
}

const MacKeys& MacKeyring::keys(bft::PrincipalId principal) {
  auto it = keys_.find(principal);
  if (it != keys_.end()) return it->second;
  // SipHash of (principal) under a seed-derived key: distinct, deterministic per run.
  crypto::ensure_sodium_initialized();
  MacKey root{};
  for (std::size_t i = 0; i < 8; ++i) root[i] = static_cast<std::uint8_t>(seed_ >> (8 * i));
  return keys_.emplace(principal, derive_mac_keys(derive(root, kPrincipalKey, principal)))
      .first->second;
}

crypto::Signature mac_sign(const MacKeys& keys, crypto::Domain domain, ByteView body) {
  // Domain separation as with Ed25519, through the key: each domain tags under its own key.
  crypto::Signature signature{};
  auto d = static_cast<std::size_t>(domain);
  auto key = d < MacKeys::kDomains ? keys.by_domain[d]
                                   : derive(keys.root, kDomainKey, static_cast<std::uint32_t>(d));
  crypto_shorthash(signature.bytes.data(), body.data(), body.size(), key.data());
  return signature;
}

MacSigner::MacSigner(bft::PrincipalId id, const MacKey& key)
    : id_(id), keys_(derive_mac_keys(key)) {}

crypto::Signature MacSigner::sign(crypto::Domain domain, ByteView body) const {
  return mac_sign(keys_, domain, body);
}

bool MacVerifier::verify(bft::PrincipalId signer, crypto::Domain domain, ByteView body,
                         const crypto::Signature& signature) const {
  // A simulated signature needs no constant-time compare: no secret leaks through a simulation.
  auto expected = mac_sign(keyring_->keys(signer), domain, body);
  return std::memcmp(expected.bytes.data(), signature.bytes.data(), expected.bytes.size()) == 0;
}

}  // namespace bftgate::sim
