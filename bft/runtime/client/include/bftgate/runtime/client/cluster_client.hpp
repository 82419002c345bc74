// A client of the validator cluster (the operator CLI, inference nodes, tests): queries over
// ZeroMQ and requests that count as done once f+1 validators reply with the same result, so at
// least one of them is honest. Blocking, one thread.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <zmq.hpp>

#include "bftgate/config/cluster_config.hpp"
#include "bftgate/core/messages.hpp"
#include "bftgate/runtime/net/link_security.hpp"
#include "bftgate/runtime/net/register_json.hpp"

namespace bftgate::runtime {

class ClusterClient {
 public:
  // Every link secured by `security`, to each validator under its config key.
  ClusterClient(const ClusterConfig& config, const LinkSecurity& security);

  // How long a query waits: for every validator asked, up to the timeout (a report of each); or,
  // once all but f have answered (more may never come: f may be down), at most as long again as
  // that took (20 ms at least), so that one validator down costs an operation about what a slow
  // quorum does instead of the whole timeout.
  enum class Wait { kEveryone, kAllButF };

  // Asks every validator; returns the answers that arrived within `timeout`.
  std::map<bft::ReplicaId, nlohmann::json> query_all(const nlohmann::json& query,
                                                     std::chrono::milliseconds timeout,
                                                     Wait wait = Wait::kEveryone);
  // The same, asking only `validators` (ids not in the config are skipped).
  std::map<bft::ReplicaId, nlohmann::json> query(const std::vector<bft::ReplicaId>& validators,
                                                 const nlohmann::json& query,
                                                 std::chrono::milliseconds timeout,
                                                 Wait wait = Wait::kEveryone);
  std::vector<bft::ReplicaId> validators() const;

  // Every validator's status answer, decoded (runtime/register_json.hpp). An answer that does
  // not decode, or that names another validator, is left out and its reason kept in `refused`.
  struct Statuses {
    std::map<bft::ReplicaId, StatusAnswer> answers;
    std::map<bft::ReplicaId, std::string> refused;
  };
  Statuses status_all(std::chrono::milliseconds timeout, const StatusPage& page = {},
                      Wait wait = Wait::kEveryone);
  // Validator `id`'s status with every entry of its register, asked for page by page; none when
  // it does not answer within `timeout` (each page) or answers a malformed page.
  std::optional<StatusAnswer> full_status(bft::ReplicaId id, std::chrono::milliseconds timeout);

  // The highest request id the cluster has executed for `client`, as f+1 validators at least
  // report it (the (f+1)-th highest answer: no f liars can raise it). An error when fewer than
  // f+1 answer within `timeout`.
  Result<std::uint64_t> highest_request_id(bft::PrincipalId client,
                                           std::chrono::milliseconds timeout);

  // Sends a signed request to every validator and waits for f+1 matching, verified replies,
  // resending every `retry` until `timeout`. Returns the agreed result.
  Result<Bytes> submit(const bft::MessagePtr& request, std::chrono::milliseconds timeout,
                       std::chrono::milliseconds retry = std::chrono::milliseconds(1000));

 private:
  const ClusterConfig& config_;
  zmq::context_t context_;
  std::map<bft::ReplicaId, zmq::socket_t> sockets_;
  std::shared_ptr<bft::Verifier> verifier_;
  std::uint64_t last_query_id_ = 0;
};

}  // namespace bftgate::runtime
