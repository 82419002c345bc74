// CurveZMQ on the links between cluster members, and ZAP admitting only the config's keys.
//
// Every member's link key is its Ed25519 identity in X25519 form (crypto_sign_ed25519_*_to_
// curve25519), so the config's public keys are also the links' keys: no second key to make,
// copy or list. A listening member is a CURVE server; whoever connects is a CURVE client that
// knows the server's public key (from the config) and proves its own. libzmq asks the ZAP handler
// about each client's key during the handshake, before a single frame of the connection reaches
// the application: a key outside the config is refused there, counted (kind "unknown-key") and
// logged at a bounded rate (runtime/refusals.hpp). An admitted connection's messages carry the
// member's name as their "User-Id" (member_of).
//
// Members' names: "validator-<id>", "operator", "store", "node-<id>".
#pragma once

#include <array>
#include <boost/asio/io_context.hpp>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <zmq.hpp>

#include "bftgate/config/cluster_config.hpp"
#include "bftgate/crypto/ed25519.hpp"
#include "bftgate/crypto/session.hpp"
#include "bftgate/runtime/net/refusals.hpp"
#include "bftgate/runtime/net/zmq_reader.hpp"

namespace bftgate::runtime {

// A member's link key pair (X25519). Move-only; the secret is wiped when destroyed.
class LinkIdentity {
 public:
  explicit LinkIdentity(const crypto::SecretKey& identity);
  LinkIdentity(LinkIdentity&& other) noexcept;
  LinkIdentity& operator=(LinkIdentity&& other) noexcept;
  LinkIdentity(const LinkIdentity&) = delete;
  LinkIdentity& operator=(const LinkIdentity&) = delete;
  ~LinkIdentity();

  const crypto::KxPublicKey& public_key() const { return public_key_; }

  // A listening socket: CURVE server under this key, every client asked of the ZAP handler.
  // Call before bind.
  void make_server(zmq::socket_t& socket) const;
  // A connecting socket: CURVE client under this key, to a server whose Ed25519 identity is
  // `server`. False if that key has no X25519 form. Call before connect.
  bool make_client(zmq::socket_t& socket, const crypto::PublicKey& server) const;

 private:
  std::array<std::uint8_t, crypto::kKxKeySize> secret_{};
  crypto::KxPublicKey public_key_{};
};

// Who may connect: the link key of every member the config names, by member name.
class LinkMembers {
 public:
  // Validators, the operator, and the store and nodes where the config has their keys.
  static LinkMembers of(const ClusterConfig& config);
  void add(const crypto::PublicKey& identity, std::string name);
  // The member holding X25519 key `key`, or nullptr.
  const std::string* find(const crypto::KxPublicKey& key) const;
  std::size_t size() const { return names_.size(); }

 private:
  std::map<crypto::KxPublicKey, std::string> names_;
};

// The ZAP handler of one ZeroMQ context (at most one per context: libzmq asks
// inproc://zeromq.zap.01). Construct it before any server socket of the context binds; it
// answers on the event loop of `io` once started.
class ZapHandler {
 public:
  ZapHandler(boost::asio::io_context& io, zmq::context_t& context, LinkMembers members,
             Refusals& refusals);
  ~ZapHandler();
  ZapHandler(const ZapHandler&) = delete;
  ZapHandler& operator=(const ZapHandler&) = delete;

  void start();
  std::uint64_t admitted() const { return admitted_; }
  std::uint64_t refused() const { return refused_; }

 private:
  void answer(std::vector<zmq::message_t>& request);

  LinkMembers members_;
  Refusals& refusals_;
  zmq::socket_t socket_;
  std::unique_ptr<ZmqReader> reader_;
  std::uint64_t admitted_ = 0;
  std::uint64_t refused_ = 0;
};

// The member a message came from (its connection's ZAP "User-Id"), or nullopt on a link
// without CURVE.
std::optional<std::string> member_of(const zmq::message_t& frame);

}  // namespace bftgate::runtime
