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
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>
#include <zmq.hpp>

#include "bftgate/base/result.hpp"
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

// The answer to one ZAP request (RFC 27: version, request id, domain, address, routing id,
// mechanism, credentials...): admitted as `user` (a member's name), or refused because `why`
// (printable, bounded). Pure, so that the fuzz target drives exactly what the handler decides.
struct ZapVerdict {
  bool admit = false;
  std::string request_id;
  std::string user;
  std::string why;
};
ZapVerdict judge_zap_request(const std::vector<std::string_view>& frames,
                             const LinkMembers& members);

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
  // From now on, admits `members` instead (a new epoch's); called on the event loop of `io`.
  void set_members(LinkMembers members) { members_ = std::move(members); }
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

// How one process secures its links: CURVE under its own key, admitting the config's members
// (ZapHandler), or plaintext, which only --insecure-plaintext asks for (loopback benchmarks).
// One value per process, handed to every socket it makes, so that no socket is forgotten.
class LinkSecurity {
 public:
  // CURVE under `own`, admitting the members of `config` (whether `own` is one is not checked).
  static LinkSecurity curve(const crypto::SecretKey& own, const ClusterConfig& config);
  // CURVE under the key in `key_file` (crypto/key_file.hpp rules), which must be a member's of
  // `config`; an error names the file and why.
  static Result<LinkSecurity> for_member(const ClusterConfig& config,
                                         const std::filesystem::path& key_file);
  static LinkSecurity insecure_plaintext();

  bool encrypted() const { return identity_ != nullptr; }
  // Call before bind; nothing in plaintext.
  void secure_server(zmq::socket_t& socket) const;
  // Call before connect. False if `server` has no X25519 form (the link cannot be made).
  bool secure_client(zmq::socket_t& socket, const crypto::PublicKey& server) const;
  // The ZAP handler a context with server sockets needs (nullptr in plaintext); make it before
  // the first server socket of `context` binds.
  std::unique_ptr<ZapHandler> zap_handler(boost::asio::io_context& io, zmq::context_t& context,
                                          Refusals& refusals) const;
  const LinkMembers& members() const { return *members_; }
  // This process's member name under CURVE ("" in plaintext or for a key outside the config).
  std::string member_name() const;

 private:
  LinkSecurity() = default;  // plaintext only by name (insecure_plaintext)

  std::shared_ptr<const LinkIdentity> identity_;
  std::shared_ptr<const LinkMembers> members_ = std::make_shared<LinkMembers>();
};

// The member a message came from (its connection's ZAP "User-Id"), or nullopt on a link
// without CURVE.
std::optional<std::string> member_of(const zmq::message_t& frame);

}  // namespace bftgate::runtime
