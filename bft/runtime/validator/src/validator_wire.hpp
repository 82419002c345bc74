// The validator's wire: its ROUTER socket (peers' protocol messages, clients' requests and
// queries, with caps on connections and queues), a DEALER to each peer, the link faults injected
// on them, and the routes that take each reply back to the connection its request came from.
#pragma once

#include <boost/asio/io_context.hpp>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <zmq.hpp>

#include "bftgate/base/bytes.hpp"
#include "bftgate/base/result.hpp"
#include "bftgate/byzantine/byzantine.hpp"
#include "bftgate/config/cluster_config.hpp"
#include "bftgate/runtime/net/connection_guard.hpp"
#include "bftgate/runtime/net/link_security.hpp"
#include "bftgate/runtime/net/refusals.hpp"
#include "bftgate/runtime/net/zmq_reader.hpp"
#include "bftgate/runtime/validator/link_faults.hpp"

namespace bftgate::runtime {

// Which member may send what (under CURVE, ZAP names each connection's member): protocol
// messages come from validators (a validator relays clients' requests too) and requests from the
// operator; queries from any member. Why `member` may not send `message` (nullptr: any protocol
// message, asked before decoding), or nullopt. In plaintext there is no member and no rule.
std::optional<std::string> role_refusal(const std::optional<std::string>& member,
                                        const bft::MessagePtr* message);

class ValidatorWire {
 public:
  using RouteKey = std::pair<bft::PrincipalId, std::uint64_t>;  // (client, request id)

  // `security` secures the listening socket and every link to a peer (runtime/net/
  // link_security.hpp).
  ValidatorWire(boost::asio::io_context& io, std::uint32_t validator, LinkFaults faults,
                Refusals& refusals, LinkSecurity security);
  ~ValidatorWire();

  // Binds the socket on `endpoint` with the connection caps of `limits`.
  Status listen(const std::string& endpoint, const ConnectionLimits& limits);
  // A DEALER to every other validator of `config`; an error names a peer whose key cannot
  // secure a link.
  Status connect_peers(const ClusterConfig& config);
  // Reads the socket: `on_frames` for each message, `on_drained` when a burst has been read.
  void start(ZmqReader::Handler on_frames, ZmqReader::Drained on_drained);

  // A connection said something well-formed (runtime/connection_guard.hpp).
  void seen(const zmq::message_t& frame) { guard_->seen(frame); }
  LinkFaults& faults() { return faults_; }
  const LinkSecurity& security() const { return security_; }

  // Replies go to the connection each request came from: several clients may share one
  // identity (concurrent submits under the operator key), each waiting for its own request. A
  // request a peer relayed (its links are named "validator-<id>-<pid>") leaves the client's
  // route as it was: the reply is for the client, and the peer does not read its link.
  void remember_route(RouteKey key, const std::string& route);
  void send_route(const std::string& route, const Bytes& frame);
  // To the route remembered for `key`; false when there is none.
  bool send_reply(const RouteKey& key, const Bytes& frame);
  void send_to_peers(const Bytes& frame);
  // A protocol message of the replica, after the delay its strategy gave it.
  void send_timed(const bft::TimedOutbound& timed);

 private:
  void send_out(const bft::Outbound& out);
  void send_peer(bft::ReplicaId peer, const Bytes& frame);
  void send_peer_now(bft::ReplicaId peer, const Bytes& frame);

  boost::asio::io_context& io_;
  std::uint32_t validator_;
  LinkFaults faults_;
  Refusals& refusals_;
  LinkSecurity security_;
  zmq::context_t context_;
  std::unique_ptr<ZapHandler> zap_;  // before router_ binds, when links are encrypted
  zmq::socket_t router_;
  // A DEALER to one peer, and its reader: nothing is expected back, but what arrives must be
  // read, or libzmq stops reading the connection once its queue is full and then never sees the
  // peer close it (the link would stay dead after the peer restarts).
  struct PeerLink {
    zmq::socket_t socket;
    std::unique_ptr<ZmqReader> reader;
  };
  std::map<bft::ReplicaId, PeerLink> peers_;
  std::unique_ptr<ZmqReader> reader_;
  std::unique_ptr<ConnectionGuard> guard_;  // caps on the connections router_ keeps
  std::map<RouteKey, std::string> client_routes_;
  std::deque<RouteKey> route_order_;
};

}  // namespace bftgate::runtime
