// The simulator's signature scheme: SipHash-2-4 (libsodium crypto_shorthash) keyed per principal.
// A node can only produce tags for its own key, so forgery fails exactly as with Ed25519, at a
// thousandth of the cost — what lets the simulator run thousands of seeded runs a minute. The
// real runtime uses Ed25519 (bft::Ed25519Signer) through the same interface.
#pragma once

#include <array>
#include <map>
#include <memory>

#include "bftgate/bft/signer.hpp"
#include "bftgate/sim/scenario.hpp"

namespace bftgate::sim {

using MacKey = std::array<std::uint8_t, 16>;

class MacKeyring {
 public:
  // Keys derived deterministically from the run's seed.
  explicit MacKeyring(std::uint64_t seed) : seed_(seed) {}
  const MacKey& key(bft::PrincipalId principal);

 private:
  std::uint64_t seed_;
  std::map<bft::PrincipalId, MacKey> keys_;
};

class MacSigner final : public bft::Signer {
 public:
  MacSigner(bft::PrincipalId id, const MacKey& key) : id_(id), key_(key) {}
  bft::PrincipalId id() const override { return id_; }
  crypto::Signature sign(crypto::Domain domain, ByteView body) const override;

 private:
  bft::PrincipalId id_;
  MacKey key_;
};

class MacVerifier final : public bft::Verifier {
 public:
  explicit MacVerifier(std::shared_ptr<MacKeyring> keyring) : keyring_(std::move(keyring)) {}
  bool verify(bft::PrincipalId signer, crypto::Domain domain, ByteView body,
              const crypto::Signature& signature) const override;

 private:
  std::shared_ptr<MacKeyring> keyring_;
};

crypto::Signature mac_sign(const MacKey& key, crypto::Domain domain, ByteView body);

}  // namespace bftgate::sim
