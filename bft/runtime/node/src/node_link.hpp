// How an inference node links to its cluster: CURVE under its own key (keys/node-<id>.key),
// which the config must list for this node, or plaintext where --insecure-plaintext asks.
#pragma once

#include "bftgate/base/result.hpp"
#include "bftgate/config/cluster_config.hpp"
#include "bftgate/runtime/net/link_security.hpp"
#include "bftgate/runtime/node/inference_node.hpp"

namespace bftgate::runtime {

Result<LinkSecurity> node_link_security(const ClusterConfig& config, const NodeOptions& options);

}  // namespace bftgate::runtime
