// A PBFT client with requests in flight: each signed request goes to every validator and is
// complete once f+1 validators reply with the same result (so at least one honest validator
// executed it), every reply's signature verified. Sends never block; receive() drains replies.
// What the loopback benchmark and the smr-vs-consensus experiment drive real clusters with.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <vector>
#include <zmq.hpp>

#include "bftgate/bft/messages.hpp"
#include "bftgate/crypto/cluster_config.hpp"

namespace bftgate::runtime {

class RequestPipeline {
 public:
  // Requests are signed by `signer` (its id is the client's).
  RequestPipeline(const ClusterConfig& config, std::shared_ptr<const bft::Signer> signer);

  // Signs and sends the next request (ids count up from 1); returns its id.
  std::uint64_t send(Bytes operation = {});
  // Sends request `id` to every validator again, if it is still in flight.
  void resend(std::uint64_t id);
  // Stops waiting for request `id` (its replies are then ignored).
  void forget(std::uint64_t id) { pending_.erase(id); }
  // Waits up to `wait` for replies; returns the requests completed, in the order they were.
  std::vector<std::uint64_t> receive(std::chrono::milliseconds wait);
  std::size_t in_flight() const { return pending_.size(); }
  // Replies refused: not from the validator the socket belongs to, bad signature, not ours.
  std::uint64_t refused_replies() const { return refused_; }

 private:
  const ClusterConfig& config_;
  std::shared_ptr<const bft::Signer> signer_;
  std::shared_ptr<bft::Verifier> verifier_;
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
