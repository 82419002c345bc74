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

// Protocol messages and checkpoints bind the epoch of the set that signs them: each signature is
// over "u64 epoch | body", so no message of one epoch verifies in another, whatever keys the two
// sets share. Requests and replies do not: a request's operation binds its epoch where that
// matters (the register's operations name theirs), and a reply speaks of one request.
bool binds_epoch(crypto::Domain domain);

// `inner`, signing and verifying for the replica of one epoch (the Replica wraps what it is
// given, so the simulator and the processes bind alike).
class EpochSigner final : public Signer {
 public:
  EpochSigner(std::shared_ptr<const Signer> inner, std::uint64_t epoch)
      : inner_(std::move(inner)), epoch_(epoch) {}
  PrincipalId id() const override { return inner_->id(); }
  std::uint64_t epoch() const { return epoch_; }
  crypto::Signature sign(crypto::Domain domain, ByteView body) const override;
  std::optional<Authenticator> authenticate_reply(PrincipalId client, const Authenticator& request,
                                                  ByteView signed_bytes) const override {
    return inner_->authenticate_reply(client, request, signed_bytes);
  }

 private:
  std::shared_ptr<const Signer> inner_;
  std::uint64_t epoch_;
};

class EpochVerifier final : public Verifier {
 public:
  EpochVerifier(std::shared_ptr<const Verifier> inner, std::uint64_t epoch)
      : inner_(std::move(inner)), epoch_(epoch) {}
  std::uint64_t epoch() const { return epoch_; }
  bool verify(PrincipalId signer, crypto::Domain domain, ByteView body,
              const crypto::Signature& signature) const override;
  bool verify_authenticator(const SignedMessage& request) const override {
    return inner_->verify_authenticator(request);
  }

 private:
  std::shared_ptr<const Verifier> inner_;
  std::uint64_t epoch_;
};

// `signer` (`verifier`) bound to `epoch`: itself when it already is, so that whoever makes
// messages as a replica (a test, a strategy) can hold the replica's own; bound to another epoch,
// it is refused (std::invalid_argument).
std::shared_ptr<const Signer> bind_epoch(std::shared_ptr<const Signer> signer, std::uint64_t epoch);
std::shared_ptr<const Verifier> bind_epoch(std::shared_ptr<const Verifier> verifier,
                                           std::uint64_t epoch);

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
