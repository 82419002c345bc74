// Signing is injected into the core: Ed25519 in real processes, a fast keyed MAC in the
// simulator (same unforgeability for the model, a thousand times cheaper).
#pragma once

#include <map>
#include <memory>

#include "bftgate/bft/types.hpp"
#include "bftgate/crypto/cluster_config.hpp"
#include "bftgate/crypto/ed25519.hpp"
#include "bftgate/crypto/verify_cache.hpp"
#include "bftgate/crypto/encoding.hpp"

namespace bftgate::bft {

class Signer {
 public:
  virtual ~Signer() = default;
  virtual PrincipalId id() const = 0;
  virtual crypto::Signature sign(crypto::Domain domain, ByteView body) const = 0;
};

class Verifier {
 public:
  virtual ~Verifier() = default;
  virtual bool verify(PrincipalId signer, crypto::Domain domain, ByteView body,
                      const crypto::Signature& signature) const = 0;
};

class Ed25519Signer final : public Signer {
 public:
  Ed25519Signer(PrincipalId id, crypto::SecretKey key) : id_(id), key_(std::move(key)) {}
  PrincipalId id() const override { return id_; }
  crypto::Signature sign(crypto::Domain domain, ByteView body) const override { return key_.sign(domain, body); }

 private:
  PrincipalId id_;
  crypto::SecretKey key_;
};

// Knows the public key of every validator (as replica and as client) and of the operator.
class Ed25519Verifier final : public Verifier {
 public:
  // `cache` (optional) remembers verified signatures; the verifier must then be used from one thread.
  explicit Ed25519Verifier(const ClusterConfig& config, std::shared_ptr<crypto::VerifyCache> cache = nullptr);
  bool verify(PrincipalId signer, crypto::Domain domain, ByteView body,
              const crypto::Signature& signature) const override;

 private:
  std::map<PrincipalId, crypto::PublicKey> keys_;
  std::shared_ptr<crypto::VerifyCache> cache_;
};

}  // namespace bftgate::bft
