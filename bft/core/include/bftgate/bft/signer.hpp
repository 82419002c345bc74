// Signing is injected into the core: Ed25519 in real processes (bft/cluster:
// ed25519_signer.hpp), a fast keyed MAC in the simulator (same unforgeability for the model, a
// thousand times cheaper).
#pragma once

#include <memory>

#include "bftgate/bft/types.hpp"
#include "bftgate/crypto/ed25519.hpp"
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

// Counts the checks it forwards to `inner`: what a message cost its receiver, for the
// simulator's cost model and the validator's message trace.
class CountingVerifier final : public Verifier {
 public:
  explicit CountingVerifier(std::shared_ptr<const Verifier> inner) : inner_(std::move(inner)) {}
  bool verify(PrincipalId signer, crypto::Domain domain, ByteView body,
              const crypto::Signature& signature) const override {
    ++checks_;
    return inner_->verify(signer, domain, body, signature);
  }
  std::uint64_t checks() const { return checks_; }

 private:
  std::shared_ptr<const Verifier> inner_;
  mutable std::uint64_t checks_ = 0;
};

}  // namespace bftgate::bft
