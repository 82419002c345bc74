// Creating a cluster in one place: fresh keys for every member (validators, the operator, the
// artifact store and the inference nodes) and the config that names them. Used by `bftgate
// keygen`, the demo and the tests; a real deployment makes each key on its own host instead
// (config/card.hpp).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "bftgate/config/cluster_config.hpp"
#include "bftgate/crypto/ed25519.hpp"

namespace bftgate {

struct ClusterSpec {
  std::size_t validators = 4;
  std::size_t inference_nodes = 2;
  FaultModel fault_model = FaultModel::kBft;
  std::string cluster_id = "bftgate-local";
  std::uint64_t epoch = 1;
  std::string host = "127.0.0.1";
  // Validators listen on base_port + i, the artifact store on base_port + n, and inference
  // node j on base_port + n + 1 + j.
  std::uint16_t base_port = 27000;
  // Validator i also serves /metrics on base_port + n + 1 + nodes + i (keygen's default; the
  // harnesses that reserve only the listening ports leave it off).
  bool metrics = false;
};

// The largest f the fault model tolerates with n validators: (n-1)/3 for BFT, (n-1)/2 for CFT.
std::uint32_t max_faults(FaultModel model, std::size_t validators);

struct GeneratedCluster {
  ClusterConfig config;
  std::vector<crypto::SecretKey> validator_keys;  // validator_keys[i] belongs to validator id i
  crypto::SecretKey operator_key;
  crypto::SecretKey store_key;
  std::vector<crypto::SecretKey> node_keys;  // node_keys[j] belongs to inference node j
};

Result<GeneratedCluster> generate_cluster(const ClusterSpec& spec);

struct ClusterFiles {
  std::filesystem::path config;
  std::vector<std::filesystem::path> validator_keys;
  std::filesystem::path operator_key;
  std::filesystem::path store_key;
  std::vector<std::filesystem::path> node_keys;
  std::filesystem::path prometheus;  // empty when no validator serves /metrics
};

// A Prometheus scrape config (YAML) for the cluster: the validators' /metrics (those that have a
// metrics_port) and the inference nodes' (on their endpoints).
std::string prometheus_config(const ClusterConfig& config);

// Writes DIR/cluster.json and DIR/keys/{validator-<id>,operator,store,node-<j>}.key (mode 0600,
// DIR/keys 0700),
// and DIR/prometheus.yml when a validator has a metrics_port.
Result<ClusterFiles> write_cluster(const GeneratedCluster& cluster,
                                   const std::filesystem::path& dir, bool overwrite = false);

}  // namespace bftgate
