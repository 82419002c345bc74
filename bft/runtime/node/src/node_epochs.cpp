#include "node_epochs.hpp"

#include <spdlog/spdlog.h>

#include "bftgate/runtime/client/epoch_store.hpp"

namespace bftgate::runtime {

NodeEpochs::NodeEpochs(ClusterConfig genesis, std::filesystem::path dir)
    : genesis_(std::move(genesis)),
      dir_(std::move(dir)),
      config_(genesis_),
      chain_(genesis_.validator_set()) {}

bool NodeEpochs::follow(const LinkSecurity* security) {
  if (security != nullptr)
    catch_up_epochs(genesis_, dir_, *security, std::chrono::milliseconds(800));
  auto newest = newest_epoch(genesis_, dir_);
  if (!newest) {
    spdlog::warn("node: the kept epochs do not read: {}", newest.error().message);
    return false;
  }
  if (newest->config.epoch <= config_.epoch) return false;
  crypto::EpochChain chain(genesis_.validator_set());
  if (auto verdict = chain.extend(newest->links); !verdict.ok()) {
    spdlog::warn("node: the kept epochs' chain does not verify: {}", verdict.reason);
    return false;
  }
  spdlog::info("node: epoch {} runs ({} validators, f={})", newest->config.epoch,
               newest->config.n(), newest->config.f);
  config_ = std::move(newest->config);
  chain_ = std::move(chain);
  return true;
}

}  // namespace bftgate::runtime
