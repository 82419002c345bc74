// The core's Signer and Verifier with Ed25519 keys, as real processes use them: a replica or
// client signs with its own key; the verifier knows every key in the cluster's config.
#pragma once

#include <map>
#include <memory>

#include "bftgate/config/cluster_config.hpp"
#include "bftgate/core/signer.hpp"
#include "bftgate/crypto/verify_cache.hpp"

namespace bftgate::bft {

class Ed25519Signer final : public Signer {
 public:
  Ed25519Signer(PrincipalId id, crypto::SecretKey key) : id_(id), key_(std::move(key)) {}
  PrincipalId id() const override { return id_; }
  crypto::Signature sign(crypto::Domain domain, ByteView body) const override {
    return key_.sign(domain, body);
  }

 private:
  PrincipalId id_;
  crypto::SecretKey key_;
};

// Knows the public key of every validator (as replica and as client) and of the operator.
class Ed25519Verifier final : public Verifier {
 public:
  // `cache` (optional) remembers verified signatures; the verifier must then be used from one
  // thread.
  explicit Ed25519Verifier(const ClusterConfig& config,
                           std::shared_ptr<crypto::VerifyCache> cache = nullptr);
  bool verify(PrincipalId signer, crypto::Domain domain, ByteView body,
              const crypto::Signature& signature) const override;

 private:
  std::map<PrincipalId, crypto::PublicKey> keys_;
  std::shared_ptr<crypto::VerifyCache> cache_;
};

}  // namespace bftgate::bft
