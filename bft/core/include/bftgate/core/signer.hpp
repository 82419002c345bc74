// Signing is injected into the core: Ed25519 in real processes (bft/cluster:
// ed25519_signer.hpp), a fast keyed MAC in the simulator (same unforgeability for the model, a
// thousand times cheaper).
#pragma once

#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "bftgate/base/encoding.hpp"
#include "bftgate/core/types.hpp"
#include "bftgate/crypto/ed25519.hpp"
#include "bftgate/crypto/session.hpp"

namespace bftgate::bft {

// PBFT's authenticator, in place of a signature on a client's request or a reply to it (client
// sessions: bft/cluster/client_sessions.hpp). A request carries the client's session key, the
// client's Ed25519 signature over it, and one MAC per replica; a reply carries the session it
// answers and one MAC, for the client.
struct Authenticator {
  crypto::KxPublicKey session;
  crypto::Signature session_signature;  // zero in a reply
  std::vector<std::pair<PrincipalId, crypto::Mac>> macs;

  bool operator==(const Authenticator&) const = default;
};

struct SignedMessage;

class Signer {
 public:
  virtual ~Signer() = default;
  virtual PrincipalId id() const = 0;
  virtual crypto::Signature sign(crypto::Domain domain, ByteView body) const = 0;
  // A reply to `client` in the session its request came with (`request`), authenticated by a MAC
  // instead of a signature; nullopt where this signer holds no sessions: the reply is signed.
  virtual std::optional<Authenticator> authenticate_reply(PrincipalId /*client*/,
                                                          const Authenticator& /*request*/,
                                                          ByteView /*signed_bytes*/) const {
    return std::nullopt;
  }
};

class Verifier {
 public:
  virtual ~Verifier() = default;
  virtual bool verify(PrincipalId signer, crypto::Domain domain, ByteView body,
                      const crypto::Signature& signature) const = 0;
  // A client's request carrying an authenticator: whether its MAC for this verifier's replica
  // is good in a session the client signed. A verifier without sessions refuses every one.
  virtual bool verify_authenticator(const SignedMessage& /*request*/) const { return false; }
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
  bool verify_authenticator(const SignedMessage& request) const override {
    ++mac_checks_;
    return inner_->verify_authenticator(request);
  }
  std::uint64_t checks() const { return checks_; }  // signatures
  std::uint64_t mac_checks() const { return mac_checks_; }

 private:
  std::shared_ptr<const Verifier> inner_;
  mutable std::uint64_t checks_ = 0;
  mutable std::uint64_t mac_checks_ = 0;
};

}  // namespace bftgate::bft
