#include "bftgate/bft/replica_config.hpp"

namespace bftgate::bft {

ReplicaOptions replica_options(const ClusterConfig& config) {
  ReplicaOptions options;
  for (const auto& v : config.validators) options.replicas.push_back(v.id);
  options.f = config.f;
  options.quorum = config.quorum();
  return options;
}

}  // namespace bftgate::bft
