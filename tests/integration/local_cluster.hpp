// A real cluster of bftgate processes on 127.0.0.1 for integration tests: free ports, one
// process per validator with its own data directory and log, kill -9 and restart, and every
// child stopped and reaped when the test ends (SIGTERM, then SIGKILL after a grace period).
// Status answers are read with the validators' own codec (bftgate/runtime/net/register_json.hpp).
#pragma once

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>
#include <zmq.hpp>

#include "bftgate/io/file_io.hpp"
#include "bftgate/runtime/client/cluster_client.hpp"
#include "bftgate/runtime/harness/local_cluster.hpp"
#include "run_command.hpp"
#include "test_dirs.hpp"

namespace bftgate::testing {

// The runtime's local cluster (bftgate/runtime/harness/local_cluster.hpp, which the demo runs too)
// with the tests' defaults: a validation command for every validator, per-validator faults and
// strategies, and ids for processes (validator id, 100 + j for node j, -1 for the store).
class LocalCluster {
 public:
  LocalCluster(std::string binary, int validators, std::string validate_command)
      : binary_(std::move(binary)), validate_command_(std::move(validate_command)) {
    auto made = runtime::LocalCluster::create({.binary = binary_,
                                               .dir = dir_.path(),
                                               .validators = static_cast<std::size_t>(validators),
                                               .nodes = 2});
    if (!made) throw std::runtime_error(made.error().message);
    cluster_ = std::move(made.value());
  }
  ~LocalCluster() { stop_all(); }

  std::string config() const { return cluster_->config_path().string(); }
  std::string operator_key() const { return cluster_->operator_key_path().string(); }
  // The operator's CURVE links: what an in-process client of the cluster connects with.
  const runtime::LinkSecurity& link() const { return cluster_->operator_link(); }
  const ClusterConfig& loaded_config() const { return cluster_->config(); }
  // A DEALER under the operator's key to validator `id` (-1: the store), not yet connected: a
  // member's connection, whose frames reach the decoders.
  zmq::socket_t member_socket(zmq::context_t& context, int id) const {
    const auto& config = cluster_->config();
    const auto& server = id < 0 ? config.artifact_store_public_key.value()
                                : config.find_validator(static_cast<std::uint32_t>(id))->public_key;
    zmq::socket_t socket(context, zmq::socket_type::dealer);
    if (!link().secure_client(socket, server))
      throw std::runtime_error("a member key without an X25519 form");
    return socket;
  }
  std::string validator_key(int id) const {
    return cluster_->key_path(static_cast<std::uint32_t>(id)).string();
  }
  std::filesystem::path path(const std::string& name) const { return dir_.path() / name; }
  // Validator `id`'s data folder.
  std::filesystem::path data_dir(int id) const {
    return cluster_->data_dir(
        runtime::LocalCluster::validator_name(static_cast<std::uint32_t>(id)));
  }
  std::string bftgate() const { return binary_; }

  // Inference node j is process 100 + j.
  void start_node(int j) {
    std::vector<std::string> extra = {"--poll-interval", "0.3", "--backend",
                                      node_model.empty() ? "opaque" : "cpu"};
    if (!node_model.empty()) extra.insert(extra.end(), {"--model", node_model});
    check(cluster_->start_node(static_cast<std::uint32_t>(j), extra));
  }
  // The artifact store; it is process -1. `wrapper` runs in front of it (e.g. prlimit).
  void start_store(std::vector<std::string> wrapper = {}) {
    check(cluster_->start_store(std::move(wrapper)));
  }
  void start(int id) {
    std::vector<std::string> extra = {"--validate-cmd", validate_command_, "--log-level", "info"};
    if (auto f = faults.find(id); f != faults.end())
      extra.insert(extra.end(), {"--faults", f->second});
    if (auto b = byzantine.find(id); b != byzantine.end())
      extra.insert(extra.end(), {"--byzantine", b->second});
    if (auto e = extra_args.find(id); e != extra_args.end())
      extra.insert(extra.end(), e->second.begin(), e->second.end());
    check(cluster_->start_validator(static_cast<std::uint32_t>(id), extra));
  }
  // Any other process under `name` (twins, a router).
  void spawn(const std::string& name, const std::vector<std::string>& argv) {
    check(cluster_->spawn(name, argv));
  }
  void start_all() {
    start_store();
    for (std::uint32_t i = 0; i < cluster_->config().n(); ++i) start(static_cast<int>(i));
  }

  // TCP ports, from the config.
  int node_port(int j) const { return cluster_->node_port(static_cast<std::uint32_t>(j)); }
  int validator_port(int id) const {
    return cluster_->validator_port(static_cast<std::uint32_t>(id));
  }
  int store_port() const { return cluster_->store_port(); }

  // The process id of validator `id` (or -1 for the store, 100 + j for node j), while it runs.
  pid_t pid(int id) const { return cluster_->pid(name_of(id)).value_or(-1); }

  // kill -9: no chance to flush anything that was not already durable.
  void kill9(int id) { cluster_->signal(name_of(id), SIGKILL); }
  // SIGTERM; returns the exit status (0 for a clean shutdown).
  int terminate(int id) { return cluster_->signal(name_of(id), SIGTERM); }
  int terminate(const std::string& name) { return cluster_->signal(name, SIGTERM); }
  void stop_all() { cluster_->stop_all(); }

  // A TCP connection to 127.0.0.1:port, or -1.
  static int connect_loopback(int port) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<std::uint16_t>(port));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
      ::close(fd);
      return -1;
    }
    return fd;
  }

  // GET http://127.0.0.1:port/path; the body, or "" on any error.
  static std::string http_get(int port, const std::string& path) {
    int fd = connect_loopback(port);
    if (fd < 0) return "";
    timeval limit{.tv_sec = 10,
                  .tv_usec = 0};  // a node that never answers fails the test, not hangs it
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
    auto request = "GET " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    if (::write(fd, request.data(), request.size()) < 0) {
      ::close(fd);
      return "";
    }
    std::string response;
    char buffer[4096];
    for (ssize_t n; (n = ::read(fd, buffer, sizeof buffer)) > 0;)
      response.append(buffer, static_cast<std::size_t>(n));
    ::close(fd);
    auto body = response.find("\r\n\r\n");
    return body == std::string::npos ? "" : response.substr(body + 4);
  }

  std::map<int, std::string> byzantine;  // validator id -> strategy, applied by start()
  std::map<int, std::string> faults;     // validator id -> --faults spec, applied by start()
  std::map<int, std::vector<std::string>>
      extra_args;  // validator id -> more flags, applied by start()
  // Inference nodes serve this model on the CPU backend when set; otherwise they hold opaque,
  // verified bytes (the tests' artifacts are random bytes, not adapters).
  std::string node_model;

  std::string log(int id) const { return cluster_->log(name_of(id)); }
  std::string log(const std::string& name) const { return cluster_->log(name); }

 private:
  static std::string name_of(int id) {
    return id >= 100 ? runtime::LocalCluster::node_name(static_cast<std::uint32_t>(id - 100))
           : id < 0  ? std::string("store")
                     : runtime::LocalCluster::validator_name(static_cast<std::uint32_t>(id));
  }
  static void check(const Status& status) {
    if (!status) throw std::runtime_error(status.error().message);
  }

  std::string binary_;
  std::string validate_command_;
  TempDir dir_;
  std::unique_ptr<runtime::LocalCluster> cluster_;
};

// The bftgate binary the tests run: BFTGATE_TEST_BINARY runs them against another build (e.g.
// one from before a fix, to see them fail).
inline std::string binary_under_test() {
  const char* other = std::getenv("BFTGATE_TEST_BINARY");
  return other != nullptr && *other != '\0' ? other : BFTGATE_BINARY;
}

// `size` pseudo-random bytes (from `seed`, or from the size) in the cluster's folder; the path.
inline std::string write_random_artifact(const LocalCluster& cluster, const std::string& name,
                                         std::size_t size, std::uint64_t seed = 0) {
  Bytes bytes(size);
  std::mt19937_64 rng(seed == 0 ? size : seed);
  for (auto& b : bytes) b = static_cast<std::uint8_t>(rng());
  auto path = cluster.path(name);
  if (!write_file_atomic(path, bytes, WriteOptions{.mode = 0644, .overwrite = true}).ok()) {
    throw std::runtime_error("cannot write " + path.string());
  }
  return path.string();
}

using runtime::StatusAnswer;

// Every validator's status answer within `timeout`, decoded by the validators' codec; an answer
// that does not decode fails the test.
inline std::map<bft::ReplicaId, StatusAnswer> statuses_of(const LocalCluster& cluster,
                                                          std::chrono::milliseconds timeout) {
  auto config = ClusterConfig::load(cluster.config());
  runtime::ClusterClient client(*config, cluster.link());
  auto statuses = client.status_all(timeout);
  for (const auto& [id, why] : statuses.refused)
    ADD_FAILURE() << "validator " << id << " answered a malformed status: " << why;
  return statuses.answers;
}

// Polls every validator until `predicate` holds for `needed` of them or the time is up; returns
// the answers last seen.
inline std::map<bft::ReplicaId, StatusAnswer> wait_for(
    const LocalCluster& cluster, std::size_t needed,
    const std::function<bool(const StatusAnswer&)>& predicate, int seconds = 40) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  std::map<bft::ReplicaId, StatusAnswer> answers;
  while (std::chrono::steady_clock::now() < deadline) {
    answers = statuses_of(cluster, std::chrono::milliseconds(500));
    std::size_t ok = 0;
    for (const auto& [id, a] : answers) ok += predicate(a) ? 1u : 0u;
    if (ok >= needed) return answers;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return answers;
}

// The state of `version` in a validator's register ("RELEASE_COMMIT", ...), or "absent".
inline std::string state_of(const StatusAnswer& status, std::uint64_t version) {
  const auto* entry = status.entry(version);
  return entry ? std::string(bft::to_string(entry->state)) : "absent";
}

}  // namespace bftgate::testing
