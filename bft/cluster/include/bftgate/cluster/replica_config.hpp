// Replica options for a cluster's config: its replicas, f and quorum (the protocol's timing
// stays at the core's defaults unless a caller changes it).
#pragma once

#include "bftgate/config/cluster_config.hpp"
#include "bftgate/core/replica.hpp"

namespace bftgate::bft {

ReplicaOptions replica_options(const ClusterConfig& config);

}  // namespace bftgate::bft
