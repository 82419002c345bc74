// Replica options for a cluster's config: its replicas, f and quorum (the protocol's timing
// stays at the core's defaults unless a caller changes it).
#pragma once

#include "bftgate/bft/replica.hpp"
#include "bftgate/crypto/cluster_config.hpp"

namespace bftgate::bft {

ReplicaOptions replica_options(const ClusterConfig& config);

}  // namespace bftgate::bft
