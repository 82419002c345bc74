#include "kernel_faults.hpp"

#include <fmt/format.h>
#include <sched.h>
#include <sys/stat.h>
#include <unistd.h>

#include <exception>
#include <thread>

#include "bftgate/base/strict_json.hpp"
#include "bftgate/experiments/experiment.hpp"
#include "bftgate/validation/external_command.hpp"

namespace bftgate::experiments {

namespace {

constexpr std::uint32_t kFirstUid = 61000;  // validator i runs as kFirstUid + i
constexpr auto kCommandTimeout = std::chrono::seconds(10);

std::uint32_t uid_of(std::uint32_t validator) {
  return kFirstUid + validator;
}

Result<std::string> shell(const std::string& command) {
  auto outcome = validation::run_command(command + " 2>&1", kCommandTimeout);
  if (!outcome) return outcome.error();
  if (outcome->exit_code != 0) {
    return Error{fmt::format("'{}' failed: {}", command, printable(outcome->output, 300))};
  }
  return outcome->output;
}

}  // namespace

std::string KernelFaults::why_not() {
  if (::geteuid() != 0) return "not root: nftables rules and network namespaces need root";
  for (const char* program : {"nft", "ip", "setpriv"}) {
    if (!find_on_path(program)) return fmt::format("no {} on PATH", program);
  }
  return {};
}

Result<std::unique_ptr<KernelFaults>> KernelFaults::enter() {
  if (auto why = why_not(); !why.empty()) return Error{why};
  if (::unshare(CLONE_NEWNET) != 0)
    return Error{fmt::format("unshare(CLONE_NEWNET): {}", std::strerror(errno))};
  if (auto up = shell("ip link set lo up"); !up) return up.error();
  std::unique_ptr<KernelFaults> faults(new KernelFaults());
  if (auto s = faults->apply(); !s) return s.error();
  return faults;
}

Result<std::vector<std::string>> KernelFaults::own_user(const runtime::LocalCluster& cluster,
                                                        std::uint32_t id) {
  const auto uid = uid_of(id);
  const auto data = cluster.data_dir(runtime::LocalCluster::validator_name(id));
  std::error_code ec;
  std::filesystem::create_directories(data, ec);
  if (ec) return Error{fmt::format("cannot create {}: {}", data.string(), ec.message())};
  // The validator reaches its files through folders it may only traverse; its key stays 0600,
  // now its own.
  for (const auto& folder : {cluster.dir(), cluster.dir() / "keys"}) {
    if (::chmod(folder.c_str(), 0711) != 0)
      return Error{fmt::format("chmod {}: {}", folder.string(), std::strerror(errno))};
  }
  if (::chmod(cluster.config_path().c_str(), 0644) != 0 ||
      ::chown(cluster.key_path(id).c_str(), uid, uid) != 0 ||
      ::chown(data.c_str(), uid, uid) != 0) {
    return Error{fmt::format("cannot hand validator {}'s files to uid {}: {}", id, uid,
                             std::strerror(errno))};
  }
  auto setpriv = find_on_path("setpriv");
  if (!setpriv) return Error{"no setpriv on PATH"};
  return std::vector<std::string>{setpriv->string(), fmt::format("--reuid={}", uid),
                                  fmt::format("--regid={}", uid), "--clear-groups", "--"};
}

Status KernelFaults::cut(std::uint32_t id, std::uint16_t port) {
  rules_.push_back(fmt::format("meta skuid {} counter drop", uid_of(id)));
  rules_.push_back(fmt::format("tcp dport {} counter drop", port));
  return apply();
}

Status KernelFaults::lose(std::uint32_t id, std::uint16_t port, double p) {
  const auto per_mille = static_cast<int>(p * 1000);
  rules_.push_back(
      fmt::format("meta skuid {} numgen random mod 1000 < {} counter drop", uid_of(id), per_mille));
  rules_.push_back(
      fmt::format("tcp dport {} numgen random mod 1000 < {} counter drop", port, per_mille));
  return apply();
}

Status KernelFaults::heal() {
  rules_.clear();
  return apply();
}

// The whole table at once (nft -f applies a file atomically).
Status KernelFaults::apply() {
  std::string script =
      "table inet bftgate\ndelete table inet bftgate\ntable inet bftgate {\n"
      "  chain output {\n    type filter hook output priority 0; policy accept;\n";
  for (const auto& rule : rules_) script += "    " + rule + "\n";
  script += "  }\n}\n";
  auto applied = shell("printf '%s' " + validation::shell_quote(script) + " | nft -f -");
  if (!applied) return applied.error();
  return ok_status();
}

Result<std::uint64_t> KernelFaults::dropped_packets() const {
  auto listed = shell("nft -j list table inet bftgate");
  if (!listed) return listed.error();
  auto parsed = parse_json(*listed);
  if (!parsed || !parsed->is_object()) return Error{"nft -j printed no JSON object"};
  std::uint64_t packets = 0;
  for (const auto& item : parsed->value("nftables", nlohmann::json::array())) {
    if (!item.contains("rule")) continue;
    for (const auto& expr : item["rule"].value("expr", nlohmann::json::array())) {
      if (expr.contains("counter")) packets += expr["counter"].value("packets", 0ull);
    }
  }
  return packets;
}

nlohmann::json on_own_thread(const std::function<nlohmann::json()>& run) {
  nlohmann::json result;
  std::exception_ptr error;
  std::thread thread([&] {
    try {
      result = run();
    } catch (...) {
      error = std::current_exception();
    }
  });
  thread.join();
  if (error) std::rethrow_exception(error);
  return result;
}

}  // namespace bftgate::experiments
