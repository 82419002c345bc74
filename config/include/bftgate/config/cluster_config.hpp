// The cluster configuration: who the validators are (ids, endpoints, public keys), the fault
// model and f, the inference nodes and the artifact store. Every certificate is checked against
// it, so it is validated strictly on load and every problem is reported with where it is.
#pragma once

#include <cstdint>
#include <filesystem>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bftgate/base/result.hpp"
#include "bftgate/crypto/ed25519.hpp"
#include "bftgate/crypto/validator_set.hpp"

namespace bftgate {

// The largest artifact a cluster accepts unless its config says otherwise
// (artifact_store.max_artifact_bytes): refused at submit, by the store and by every fetch.
inline constexpr std::uint64_t kDefaultMaxArtifactBytes = std::uint64_t{1} << 30;

struct ValidatorInfo {
  std::uint32_t id = 0;
  std::string endpoint;  // ZeroMQ endpoint its replica listens on
  crypto::PublicKey public_key;
  std::uint16_t metrics_port = 0;  // where it serves GET /metrics (Prometheus); 0: nowhere

  bool operator==(const ValidatorInfo&) const = default;
};

struct InferenceNodeInfo {
  std::uint32_t id = 0;
  std::string endpoint;                         // where it serves status and metrics
  std::optional<crypto::PublicKey> public_key;  // from its card (config/card.hpp); none: keygen
};

struct ClusterConfig {
  std::string cluster_id;
  std::uint64_t epoch = 0;  // validator-set epoch: certificates bind to it
  FaultModel fault_model = FaultModel::kBft;
  std::uint32_t f = 0;
  std::vector<ValidatorInfo> validators;
  std::vector<InferenceNodeInfo> inference_nodes;
  std::string artifact_store_endpoint;
  std::optional<crypto::PublicKey> artifact_store_public_key;  // from its card; none: keygen
  std::uint64_t max_artifact_bytes = kDefaultMaxArtifactBytes;
  crypto::PublicKey operator_public_key;  // signs adapter proposals

  std::size_t n() const { return validators.size(); }
  // Signatures needed for a release certificate (quorum_size).
  std::size_t quorum() const { return quorum_size(fault_model, n(), f); }
  const ValidatorInfo* find_validator(std::uint32_t id) const;
  // What certificates are verified against: the cluster, epoch, fault model, f and keys.
  ValidatorSet validator_set() const;

  // Checks every rule (sizes vs f, unique ids/keys/endpoints, endpoint syntax); the first
  // violation is returned with its location.
  Status validate() const;

  nlohmann::json to_json() const;
  // What every party compares out of band before trusting a config (as with an SSH host key):
  // "sha256:" and the hex SHA-256 of the config's canonical JSON.
  std::string fingerprint() const;
  static Result<ClusterConfig> from_json(const nlohmann::json& json);
  static Result<ClusterConfig> parse(std::string_view text);
  static Result<ClusterConfig> load(const std::filesystem::path& path);
  Status save(const std::filesystem::path& path, bool overwrite = false) const;
};

// tcp://host:port (port 1-65535, host a name, IPv4 address or [IPv6]) or ipc://path.
bool is_valid_endpoint(std::string_view endpoint);
// The port of a valid tcp:// endpoint; none for ipc:// or anything invalid.
std::optional<std::uint16_t> tcp_port(std::string_view endpoint);
// What a valid endpoint names, for telling whether two endpoints are one: for tcp://, the host's
// address in its normal form (localhost is 127.0.0.1; another name is not looked up and stands
// for itself, lower-cased) with the port as a number; for ipc://, the path made absolute and
// normal. So tcp://localhost:5000, tcp://127.0.0.1:05000 and tcp://127.0.0.1:5000 are one.
std::vector<std::string> endpoint_identities(std::string_view endpoint);
// Whether a process may bind `endpoint` without harm: ZeroMQ deletes whatever an ipc:// path
// names before it binds, so a path that names an existing file other than a socket is refused.
Status check_bindable(std::string_view endpoint);

}  // namespace bftgate
