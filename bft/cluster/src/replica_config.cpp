#include "bftgate/cluster/replica_config.hpp"

#include "bftgate/base/seeded_bug.hpp"

namespace bftgate::bft {

ReplicaOptions replica_options(const ClusterConfig& config) {
  ReplicaOptions options;
  options.epoch = config.epoch;
  for (const auto& v : config.validators) options.replicas.push_back(v.id);
  options.f = config.f;
  options.quorum = config.quorum();
  if constexpr (seeded_bug("quorum-off-by-one")) --options.quorum;
  return options;
}

}  // namespace bftgate::bft
