#include "bftgate/cluster/client_sessions.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

namespace bftgate::bft {

Bytes session_statement(const ClusterConfig& config, PrincipalId client,
                        const crypto::KxPublicKey& session) {
  crypto::Encoder e;
  e.str(config.cluster_id).u64(config.epoch).u32(client).fixed(session.bytes);
  return e.take();
}

ClientSession::ClientSession(const ClusterConfig& config, const Signer& signer)
    : ClientSession(config, signer, crypto::KxSecret::generate()) {}

ClientSession::ClientSession(const ClusterConfig& config, const Signer& signer,
                             crypto::KxSecret secret)
    : id_(signer.id()), secret_(std::move(secret)) {
  signature_ = signer.sign(crypto::Domain::kClientSession,
                           session_statement(config, id_, secret_.public_key()));
  for (const auto& v : config.validators) {
    auto server = crypto::kx_identity(v.public_key);
    auto keys = server ? secret_.client_keys(*server) : std::nullopt;
    if (!keys) {
      throw std::invalid_argument(
          fmt::format("validator {}: its public key has no X25519 form for a session", v.id));
    }
    keys_.emplace(v.id, crypto::SessionMacKeys(*keys));
  }
}

MessagePtr ClientSession::make_request(Request request) const {
  auto message = std::make_shared<SignedMessage>();
  message->sender = id_;
  message->body = std::move(request);
  message->signed_bytes = encode_signed_bytes(id_, message->body);
  Authenticator authenticator{secret_.public_key(), signature_, {}};
  authenticator.macs.reserve(keys_.size());
  for (const auto& [replica, keys] : keys_) {
    authenticator.macs.emplace_back(
        replica, crypto::mac(keys.tx, domain_of(MessageType::kRequest), message->signed_bytes));
  }
  message->authenticator = std::move(authenticator);
  return message;
}

bool ClientSession::verify_reply(const SignedMessage& reply) const {
  if (!reply.authenticator || reply.type() != MessageType::kReply) return false;
  const auto& a = *reply.authenticator;
  if (a.session != secret_.public_key() || a.macs.size() != 1 || a.macs.front().first != id_)
    return false;
  auto it = keys_.find(reply.sender);
  return it != keys_.end() && crypto::mac_verify(it->second.rx, domain_of(MessageType::kReply),
                                                 reply.signed_bytes, a.macs.front().second);
}

ReplicaSessions::ReplicaSessions(const ClusterConfig& config, ReplicaId self,
                                 const crypto::SecretKey& identity,
                                 std::shared_ptr<const Verifier> principals, std::size_t capacity)
    : config_(config),
      self_(self),
      secret_(crypto::KxSecret::from_identity(identity)),
      principals_(std::move(principals)),
      capacity_(std::max<std::size_t>(1, capacity)) {}

const crypto::SessionMacKeys* ReplicaSessions::keys_for(PrincipalId client,
                                                        const Authenticator& authenticator) {
  Key key{client, authenticator.session};
  if (auto it = sessions_.find(key); it != sessions_.end()) {
    // Every replica decides from the message alone: a remembered session still needs the
    // signature that opened it.
    return it->second.signature == authenticator.session_signature ? &it->second.keys : nullptr;
  }
  if (!principals_->verify(client, crypto::Domain::kClientSession,
                           session_statement(config_, client, authenticator.session),
                           authenticator.session_signature)) {
    return nullptr;
  }
  auto keys = secret_.server_keys(authenticator.session);
  if (!keys) return nullptr;
  if (sessions_.size() >= capacity_) {
    sessions_.erase(order_.front());
    order_.pop_front();
  }
  order_.push_back(key);
  ++opened_;
  return &sessions_
              .emplace(key, Session{authenticator.session_signature, crypto::SessionMacKeys(*keys)})
              .first->second.keys;
}

bool ReplicaSessions::verify_request(const SignedMessage& request) {
  if (!request.authenticator || request.type() != MessageType::kRequest) return false;
  const auto& a = *request.authenticator;
  const crypto::Mac* mine = nullptr;
  for (const auto& [replica, tag] : a.macs) {
    if (replica != self_) continue;
    if (mine != nullptr) return false;  // two MACs for one replica: not a client's authenticator
    mine = &tag;
  }
  if (mine == nullptr) return false;
  const auto* keys = keys_for(request.sender, a);
  return keys != nullptr && crypto::mac_verify(keys->rx, domain_of(MessageType::kRequest),
                                               request.signed_bytes, *mine);
}

std::optional<Authenticator> ReplicaSessions::authenticate_reply(PrincipalId client,
                                                                 const Authenticator& request,
                                                                 ByteView signed_bytes) {
  const auto* keys = keys_for(client, request);
  if (keys == nullptr) return std::nullopt;
  return Authenticator{
      request.session,
      {},
      {{client, crypto::mac(keys->tx, domain_of(MessageType::kReply), signed_bytes)}}};
}

}  // namespace bftgate::bft
