// The simulator's signature scheme: SipHash-2-4 (libsodium crypto_shorthash) keyed per principal.
// A node can only produce tags for its own key, so forgery fails exactly as with Ed25519, at a
// thousandth of the cost — what lets the simulator run thousands of seeded runs a minute. The
// real runtime uses Ed25519 (bft::Ed25519Signer) through the same interface.
#pragma once

#include <array>
#include <memory>
#include <unordered_map>

#include "bftgate/core/signer.hpp"
#include "bftgate/sim/scenario.hpp"

namespace bftgate::sim {

using MacKey = std::array<std::uint8_t, 16>;

// A principal's MAC key and, derived from it, one key per signing domain, so a tag needs no
// copy of the body to prefix the domain (as crypto::signing_message does for Ed25519).
struct MacKeys {
  static constexpr std::size_t kDomains = 8;  // crypto::Domain values are below this
  MacKey root{};
  std::array<MacKey, kDomains> by_domain{};
};

class MacKeyring {
 public:
  // Keys derived deterministically from the run's seed.
  explicit MacKeyring(std::uint64_t seed) : seed_(seed) {}
  const MacKey& key(bft::PrincipalId principal) { return keys(principal).root; }
  const MacKeys& keys(bft::PrincipalId principal);

 private:
  std::uint64_t seed_;
  std::unordered_map<bft::PrincipalId, MacKeys> keys_;
};

class MacSigner final : public bft::Signer {
 public:
  MacSigner(bft::PrincipalId id, const MacKey& key);
  bft::PrincipalId id() const override { return id_; }
  crypto::Signature sign(crypto::Domain domain, ByteView body) const override;

 private:
  bft::PrincipalId id_;
  MacKeys keys_;
};

class MacVerifier final : public bft::Verifier {
 public:
  explicit MacVerifier(std::shared_ptr<MacKeyring> keyring) : keyring_(std::move(keyring)) {}
  bool verify(bft::PrincipalId signer, crypto::Domain domain, ByteView body,
              const crypto::Signature& signature) const override;

 private:
  std::shared_ptr<MacKeyring> keyring_;
};

// The per-domain keys of a principal whose MAC key is `root`.
MacKeys derive_mac_keys(const MacKey& root);
crypto::Signature mac_sign(const MacKeys& keys, crypto::Domain domain, ByteView body);

}  // namespace bftgate::sim
