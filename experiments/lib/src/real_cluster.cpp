#include "real_cluster.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "bftgate/base/strict_json.hpp"
#include "bftgate/experiments/experiment.hpp"
#include "bftgate/runtime/client/cluster_client.hpp"
#include "bftgate/runtime/client/operator.hpp"
#include "bftgate/runtime/net/http_get.hpp"

namespace bftgate::experiments {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

ScratchDir::ScratchDir(const std::string& prefix, bool tmpfs) {
  constexpr std::uintmax_t kTmpfsRoom = 256u << 20;
  std::error_code ec;
  auto root = std::filesystem::path("/dev/shm");
  if (!tmpfs || ::access(root.c_str(), W_OK) != 0 ||
      std::filesystem::space(root, ec).available < kTmpfsRoom || ec) {
    root = std::filesystem::temp_directory_path();
  }
  std::string pattern = (root / (prefix + "-XXXXXX")).string();
  if (::mkdtemp(pattern.data()) == nullptr)
    throw std::runtime_error(fmt::format("mkdtemp in {} failed", root.string()));
  path_ = pattern;
}

ScratchDir::~ScratchDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

Result<std::unique_ptr<RealCluster>> RealCluster::start(const RealClusterSpec& spec) {
  std::unique_ptr<RealCluster> real(new RealCluster(spec));
  auto made = runtime::LocalCluster::create({.binary = process_binary(),
                                             .dir = real->scratch_.path(),
                                             .validators = spec.validators,
                                             .nodes = spec.nodes,
                                             .cluster_id = spec.name});
  if (!made) return made.error();
  real->cluster_ = std::move(*made);
  auto& cluster = *real->cluster_;
  if (spec.store) {
    if (auto s = cluster.start_store(); !s) return s.error();
  }
  for (std::uint32_t i = 0; i < spec.validators; ++i) {
    if (auto s = real->start_validator(i); !s) return s.error();
  }
  for (std::uint32_t j = 0; j < spec.nodes; ++j) {
    if (auto s = real->start_node(j); !s) return s.error();
  }
  runtime::ClusterClient client(cluster.config(), cluster.operator_link());
  const auto deadline = Clock::now() + std::chrono::seconds(30);
  while (client.status_all(milliseconds(300)).answers.size() < spec.validators) {
    if (Clock::now() > deadline) return real->failure("the validators did not come up");
  }
  for (std::uint32_t j = 0; j < spec.nodes; ++j) {
    while (!runtime::http_get(cluster.node_port(j), "/status")) {
      if (Clock::now() > deadline) return real->failure("an inference node did not come up");
      std::this_thread::sleep_for(milliseconds(50));
    }
  }
  return real;
}

Status RealCluster::start_validator(std::uint32_t id, const std::vector<std::string>& extra) {
  std::vector<std::string> flags = {"--validate-cmd", spec_.validate_command, "--log-level",
                                    "warn"};
  if (spec_.trace) flags.insert(flags.end(), {"--trace", trace_path(id).string()});
  if (auto it = spec_.validator_flags.find(id); it != spec_.validator_flags.end())
    flags.insert(flags.end(), it->second.begin(), it->second.end());
  flags.insert(flags.end(), extra.begin(), extra.end());
  std::vector<std::string> wrapper;
  if (spec_.kernel_faults != nullptr) {
    auto own = spec_.kernel_faults->own_user(*cluster_, id);
    if (!own) return own.error();
    wrapper = std::move(*own);
  }
  return cluster_->start_validator(id, flags, wrapper);
}

Status RealCluster::start_node(std::uint32_t j) {
  return cluster_->start_node(j, spec_.node_flags);
}

std::string stand_in_validation(double seconds) {
  return fmt::format("sleep {:.3f}; echo '{{\"pass\": true, \"metrics\": {{\"stand_in\": true}}}}'",
                     seconds);
}

nlohmann::json node_status(std::uint16_t port) {
  auto body = runtime::http_get(port, "/status");
  if (!body) return nullptr;
  auto parsed = parse_json(*body);
  return parsed ? parsed.value() : nlohmann::json();
}

RealCluster::~RealCluster() {
  if (cluster_) cluster_->stop_all();
}

Error RealCluster::failure(const std::string& what) const {
  auto log = cluster_ ? cluster_->log("validator-0") : std::string();
  if (log.size() > 600) log = log.substr(log.size() - 600);
  return Error{fmt::format("{} (validator 0's log ends: {})", what, printable(log, 700))};
}

std::vector<std::string> RealCluster::stop() {
  return cluster_ ? cluster_->stop_all() : std::vector<std::string>{};
}

}  // namespace bftgate::experiments
