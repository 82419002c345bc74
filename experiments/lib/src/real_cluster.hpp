// One real run's cluster (the demo's local cluster on 127.0.0.1) in a scratch folder of its own,
// stopped and removed when the run ends. Shared by the experiments that run real processes.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "bftgate/base/result.hpp"
#include "bftgate/runtime/harness/local_cluster.hpp"
#include "kernel_faults.hpp"

namespace bftgate::experiments {

// A folder removed with everything in it when this goes: on tmpfs (/dev/shm) when asked and it
// has room, so a run measures the protocol and not this machine's disk; else in the temp dir.
class ScratchDir {
 public:
  explicit ScratchDir(const std::string& prefix, bool tmpfs = false);
  ~ScratchDir();
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

struct RealClusterSpec {
  std::string name = "real";
  std::size_t validators = 4;
  std::size_t nodes = 0;
  bool store = true;
  // The stand-in validation every validator runs (prints the verdict JSON).
  std::string validate_command = "echo '{\"pass\": true, \"metrics\": {\"stand_in\": true}}'";
  std::map<std::uint32_t, std::vector<std::string>> validator_flags;  // extra flags by id
  std::vector<std::string> node_flags;
  bool tmpfs = false;  // the write-ahead logs on tmpfs (see ScratchDir)
  // When set, every validator runs as its own user, so these rules can tell its packets apart.
  KernelFaults* kernel_faults = nullptr;
  bool trace = false;  // each validator writes its message trace (RealCluster::trace_path)
};

// The stand-in validation of the real-process experiments: a command that sleeps `seconds`,
// then prints a PASS verdict.
std::string stand_in_validation(double seconds);

// An inference node's GET /status, parsed; null when it does not answer.
nlohmann::json node_status(std::uint16_t port);

class RealCluster {
 public:
  // Starts the processes and waits (up to 30 s) until every validator answers.
  static Result<std::unique_ptr<RealCluster>> start(const RealClusterSpec& spec);
  ~RealCluster();

  runtime::LocalCluster& cluster() { return *cluster_; }
  const ClusterConfig& config() const { return cluster_->config(); }
  const std::filesystem::path& dir() const { return scratch_.path(); }
  std::filesystem::path trace_path(std::uint32_t validator) const {
    return cluster_->data_dir(runtime::LocalCluster::validator_name(validator)) / "messages.trace";
  }
  // Starts validator `id` again (after a crash) with the flags it started with, plus `extra`.
  Status start_validator(std::uint32_t id, const std::vector<std::string>& extra = {});
  // Starts inference node `j` again with the flags it started with.
  Status start_node(std::uint32_t j);
  // An error naming what failed, with the end of validator 0's log.
  Error failure(const std::string& what) const;
  // Stops every process; the names that did not exit cleanly.
  std::vector<std::string> stop();

 private:
  explicit RealCluster(const RealClusterSpec& spec)
      : spec_(spec), scratch_("bftgate-" + spec.name, spec.tmpfs) {}
  RealClusterSpec spec_;
  ScratchDir scratch_;
  std::unique_ptr<runtime::LocalCluster> cluster_;
};

}  // namespace bftgate::experiments
