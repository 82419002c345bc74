// A PBFT client with requests in flight: each request goes to every validator and is complete
// once f+1 validators reply with the same result (so at least one honest validator executed
// it), every reply verified. Requests are Ed25519-signed, or with ClientAuth::kMac carry a MAC
// per validator in a session (bft/cluster/client_sessions.hpp), and the replies then a MAC for
// this client. Sends never block; receive() drains replies. What the loopback benchmark and the
// smr-vs-consensus experiment drive real clusters with.
#pragma once

#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <vector>
#include <zmq.hpp>

#include "bftgate/cluster/client_sessions.hpp"
#include "bftgate/config/cluster_config.hpp"
#include "bftgate/core/messages.hpp"
#include "bftgate/runtime/net/link_security.hpp"

namespace bftgate::runtime {

enum class ClientAuth { kSigned, kMac };

class RequestPipeline {
 public:
  // Requests are signed by `signer` (its id is the client's), or with kMac authenticated in a
  // session that `signer` opens.
  // Links secured by `security`.
  RequestPipeline(const ClusterConfig& config, std::shared_ptr<const bft::Signer> signer,
                  const LinkSecurity& security, ClientAuth auth = ClientAuth::kSigned);

  // Signs and sends the next request (ids count up from 1); returns its id.
  std::uint64_t send(Bytes operation = {});
  // Sends request `id` to every validator again, if it is still in flight.
  void resend(std::uint64_t id);
  // Stops waiting for request `id` (its replies are then ignored).
  void forget(std::uint64_t id) { pending_.erase(id); }
  // Waits up to `wait` for replies; returns the requests completed, in the order they were.
  std::vector<std::uint64_t> receive(std::chrono::milliseconds wait);
  std::size_t in_flight() const { return pending_.size(); }
  // The id the next request gets. Validators execute a client's ids in increasing order, so two
  // pipelines of one client take turns by handing it on (ids below it are answered from cache).
  std::uint64_t next_id() const { return next_id_; }
  void continue_from(std::uint64_t id) { next_id_ = std::max(next_id_, id); }
  // Replies refused: not from the validator the socket belongs to, bad signature or MAC, not
  // ours.
  std::uint64_t refused_replies() const { return refused_; }

 private:
  const ClusterConfig& config_;
  std::shared_ptr<const bft::Signer> signer_;
  std::shared_ptr<bft::Verifier> verifier_;
  std::optional<bft::ClientSession> session_;  // with ClientAuth::kMac
  zmq::context_t context_;
  std::vector<zmq::socket_t> sockets_;
  std::vector<bft::ReplicaId> ids_;
  std::uint64_t next_id_ = 1;
  struct InFlight {
    Bytes frame;
    std::map<bft::ReplicaId, Bytes> results;  // the first result each validator replied
  };
  std::map<std::uint64_t, InFlight> pending_;
  std::uint64_t refused_ = 0;
};

}  // namespace bftgate::runtime
