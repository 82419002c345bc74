// What an inference node knows of its cluster's epochs: the genesis config, the handoffs it kept
// beside served.json (runtime/client/epoch_store.hpp, under the cache folder), the chain of epoch
// certificates they make (crypto::EpochChain: what release certificates are verified against),
// and the newest epoch's config, whose validators it polls. Used by the poll thread only.
#pragma once

#include <filesystem>

#include "bftgate/config/cluster_config.hpp"
#include "bftgate/crypto/epoch_chain.hpp"
#include "bftgate/runtime/net/link_security.hpp"

namespace bftgate::runtime {

class NodeEpochs {
 public:
  NodeEpochs(ClusterConfig genesis, std::filesystem::path dir);

  // Reads the handoffs kept; with `security`, first asks the validators for those it missed.
  // True when the node now knows a newer epoch than before.
  bool follow(const LinkSecurity* security);

  const ClusterConfig& genesis() const { return genesis_; }
  const ClusterConfig& config() const { return config_; }  // the newest epoch known
  const crypto::EpochChain& chain() const { return chain_; }

 private:
  ClusterConfig genesis_;
  std::filesystem::path dir_;
  ClusterConfig config_;
  crypto::EpochChain chain_;
};

}  // namespace bftgate::runtime
