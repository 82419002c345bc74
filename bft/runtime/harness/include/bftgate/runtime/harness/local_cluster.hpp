// A whole bftgate cluster of real processes on 127.0.0.1, shared by the demo and the integration
// tests: one folder with a generated config and keys on free loopback ports, and the artifact
// store, validators and inference nodes started from it, each with its own data folder and log.
// Every address is read from the config, so the processes and their harness cannot disagree.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "bftgate/base/result.hpp"
#include "bftgate/config/cluster_config.hpp"
#include "bftgate/runtime/harness/local_processes.hpp"
#include "bftgate/runtime/net/link_security.hpp"

namespace bftgate::runtime {

class LocalCluster {
 public:
  struct Options {
    std::filesystem::path binary;  // the bftgate executable every process runs
    std::filesystem::path dir;     // cluster.json, keys/, logs/, one folder per process
    std::size_t validators = 4;
    std::size_t nodes = 2;
    std::string cluster_id = "bftgate-local";
    // Every process with --insecure-plaintext (no CURVE, no keys on links): loopback
    // benchmarks' A/B only.
    bool insecure_plaintext = false;
  };

  // Generates the keys and the config (what `bftgate keygen` writes) on free loopback ports.
  static Result<std::unique_ptr<LocalCluster>> create(const Options& options);

  const ClusterConfig& config() const { return config_; }
  std::filesystem::path config_path() const { return dir_ / "cluster.json"; }
  std::filesystem::path operator_key_path() const { return dir_ / "keys" / "operator.key"; }
  std::filesystem::path key_path(std::uint32_t validator) const {
    return dir_ / "keys" / (validator_name(validator) + ".key");
  }
  std::filesystem::path store_key_path() const { return dir_ / "keys" / "store.key"; }
  std::filesystem::path node_key_path(std::uint32_t j) const {
    return dir_ / "keys" / (node_name(j) + ".key");
  }
  // The operator's links (its key, the config's members), or plaintext where the cluster runs
  // so: what an in-process client of this cluster (a test, the demo) connects with.
  const LinkSecurity& operator_link() const { return operator_link_; }
  bool insecure_plaintext() const { return insecure_plaintext_; }
  // "--insecure-plaintext" where the cluster runs so, else nothing: for the argv of any other
  // process started against it.
  std::vector<std::string> link_flags() const;
  const std::filesystem::path& dir() const { return dir_; }

  std::uint16_t validator_port(std::uint32_t id) const;
  std::uint16_t store_port() const;
  std::uint16_t node_port(std::uint32_t j) const;

  // Process names: "store", "validator-<id>", "node-<j>"; each logs to logs/<name>.log and keeps
  // its data in <name>/.
  static std::string validator_name(std::uint32_t id) { return "validator-" + std::to_string(id); }
  static std::string node_name(std::uint32_t j) { return "node-" + std::to_string(j); }
  std::filesystem::path log_path(const std::string& name) const;
  std::string log(const std::string& name) const;  // "" when there is none yet
  std::filesystem::path data_dir(const std::string& name) const { return dir_ / name; }

  // `wrapper` runs in front of the store (prlimit, say); `extra` flags follow the defaults.
  Status start_store(std::vector<std::string> wrapper = {});
  Status start_validator(std::uint32_t id, const std::vector<std::string>& extra = {},
                         std::vector<std::string> wrapper = {});
  Status start_node(std::uint32_t j, const std::vector<std::string>& extra = {});
  // Any other process (a twin, a router) under `name`, logging to logs/<name>.log.
  Status spawn(const std::string& name, const std::vector<std::string>& argv);

  // Sends `signal` and waits; the exit code (128+signal if killed), -1 for an unknown name.
  int signal(const std::string& name, int signal);
  // SIGTERM to all, SIGKILL after a grace period; the names that did not exit 0.
  std::vector<std::string> stop_all();
  std::size_t running() const { return processes_.size(); }
  std::optional<pid_t> pid(const std::string& name) const { return processes_.pid(name); }

 private:
  LocalCluster(Options options, ClusterConfig config, LinkSecurity operator_link);

  std::filesystem::path binary_;
  std::filesystem::path dir_;
  ClusterConfig config_;
  bool insecure_plaintext_ = false;
  LinkSecurity operator_link_;
  ChildProcesses processes_;
};

}  // namespace bftgate::runtime
