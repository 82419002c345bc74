// Client sessions: PBFT's MAC authenticators (Castro and Liskov), keyed by crypto_kx.
//
// A client makes one fresh key pair per session and signs its public half once, with the
// Ed25519 key the config names for it. Each validator's half of the exchange is its own Ed25519
// identity in X25519 form, so a validator derives a client's keys from the request alone: no
// handshake, nothing kept on disk, and a restarted validator (or one checking a request inside
// a new view) derives them again. A request then carries the session key, its signature and one
// MAC per validator, each under the key that validator shares with the client; a reply carries
// one MAC for the client. A validator checks a session's signature once (then remembers it),
// and afterwards only its own MAC: a keyed hash instead of an Ed25519 verification per request,
// and none for the reply.
//
// What MACs give up: a MAC convinces only its addressee. A faulty client can send a request
// whose MACs are good for some validators and not others; the primary orders it and the
// validators whose MAC is bad refuse the batch, so with enough of them the view changes (the
// "MAC attack" of Clement et al., Aardvark). Signed requests (the default) do not have this
// weakness; sessions are for clients the operator trusts to be well-formed, such as benchmarks.
#pragma once

#include <deque>
#include <map>
#include <memory>

#include "bftgate/config/cluster_config.hpp"
#include "bftgate/core/messages.hpp"
#include "bftgate/crypto/session.hpp"

namespace bftgate::bft {

// The statement a client signs to open a session: cluster, epoch, client and session key.
Bytes session_statement(const ClusterConfig& config, PrincipalId client,
                        const crypto::KxPublicKey& session);

// The client's side: a session with every validator in the config.
class ClientSession {
 public:
  // `signer` signs the session (its id is the client's). Throws std::invalid_argument if a
  // validator's key has no X25519 form.
  ClientSession(const ClusterConfig& config, const Signer& signer);
  // With a given session key pair (reproducible fuzz seeds); a real client uses a fresh one.
  ClientSession(const ClusterConfig& config, const Signer& signer, crypto::KxSecret secret);

  PrincipalId id() const { return id_; }
  const crypto::KxPublicKey& session_key() const { return secret_.public_key(); }
  // A request authenticated for every validator.
  MessagePtr make_request(Request request) const;
  // Whether `reply` carries a good MAC from its sender in this session.
  bool verify_reply(const SignedMessage& reply) const;

 private:
  PrincipalId id_;
  crypto::KxSecret secret_;
  crypto::Signature signature_;
  std::map<ReplicaId, crypto::SessionMacKeys> keys_;
};

// A validator's side: the sessions clients open with it, each derived on its first request and
// remembered (at most `capacity`, the oldest forgotten first). Not thread-safe.
class ReplicaSessions {
 public:
  // `principals` checks the clients' signatures on their sessions (the config's keys).
  ReplicaSessions(const ClusterConfig& config, ReplicaId self, const crypto::SecretKey& identity,
                  std::shared_ptr<const Verifier> principals, std::size_t capacity = 1024);

  bool verify_request(const SignedMessage& request);
  std::optional<Authenticator> authenticate_reply(PrincipalId client, const Authenticator& request,
                                                  ByteView signed_bytes);
  std::uint64_t sessions_opened() const { return opened_; }

 private:
  using Key = std::pair<PrincipalId, crypto::KxPublicKey>;
  // The keys of (client, session), after checking the client's signature over it the first time.
  const crypto::SessionMacKeys* keys_for(PrincipalId client, const Authenticator& authenticator);

  ClusterConfig config_;
  ReplicaId self_;
  crypto::KxSecret secret_;
  std::shared_ptr<const Verifier> principals_;
  std::size_t capacity_;
  struct Session {
    crypto::Signature signature;  // the client's, checked once: later requests must repeat it
    crypto::SessionMacKeys keys;
  };
  std::map<Key, Session> sessions_;
  std::deque<Key> order_;  // oldest first
  std::uint64_t opened_ = 0;
};

// The replica's Verifier with sessions: signatures through `inner`, authenticators through the
// sessions.
class SessionVerifier final : public Verifier {
 public:
  SessionVerifier(std::shared_ptr<const Verifier> inner, std::shared_ptr<ReplicaSessions> sessions)
      : inner_(std::move(inner)), sessions_(std::move(sessions)) {}
  bool verify(PrincipalId signer, crypto::Domain domain, ByteView body,
              const crypto::Signature& signature) const override {
    return inner_->verify(signer, domain, body, signature);
  }
  bool verify_authenticator(const SignedMessage& request) const override {
    return sessions_->verify_request(request);
  }

 private:
  std::shared_ptr<const Verifier> inner_;
  std::shared_ptr<ReplicaSessions> sessions_;
};

// The replica's Signer with sessions: signs through `inner`, MACs replies in a client's session.
class SessionSigner final : public Signer {
 public:
  SessionSigner(std::shared_ptr<const Signer> inner, std::shared_ptr<ReplicaSessions> sessions)
      : inner_(std::move(inner)), sessions_(std::move(sessions)) {}
  PrincipalId id() const override { return inner_->id(); }
  crypto::Signature sign(crypto::Domain domain, ByteView body) const override {
    return inner_->sign(domain, body);
  }
  std::optional<Authenticator> authenticate_reply(PrincipalId client, const Authenticator& request,
                                                  ByteView signed_bytes) const override {
    return sessions_->authenticate_reply(client, request, signed_bytes);
  }

 private:
  std::shared_ptr<const Signer> inner_;
  std::shared_ptr<ReplicaSessions> sessions_;
};

}  // namespace bftgate::bft
