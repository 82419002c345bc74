// A real cluster of bftgate processes on 127.0.0.1 for integration tests: free ports, one
// process per validator with its own data directory and log, kill -9 and restart, and every
// child stopped and reaped when the test ends (SIGTERM, then SIGKILL after a grace period).
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
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "bftgate/crypto/file_io.hpp"
#include "bftgate/runtime/local_processes.hpp"
#include "run_command.hpp"
#include "test_dirs.hpp"

namespace bftgate::testing {

class LocalCluster {
 public:
  LocalCluster(std::string binary, int validators, std::string validate_command)
      : binary_(std::move(binary)), n_(validators), validate_command_(std::move(validate_command)) {
    auto base = runtime::free_port_range(validators + 4);
    if (!base) throw std::runtime_error("no free port range on 127.0.0.1");
    base_port_ = *base;
    auto result = run_command(binary_ + " keygen --validators " + std::to_string(validators) +
                              " --nodes 2 --base-port " + std::to_string(base_port_) + " --out " +
                              dir_.path().string());
    if (result.exit_code != 0) throw std::runtime_error("keygen failed: " + result.output);
  }
  ~LocalCluster() { stop_all(); }

  std::string config() const { return (dir_.path() / "cluster.json").string(); }
  std::string operator_key() const { return (dir_.path() / "keys" / "operator.key").string(); }
  std::filesystem::path path(const std::string& name) const { return dir_.path() / name; }
  std::string bftgate() const { return binary_; }

  // Inference node j is process 100 + j; it serves HTTP on base_port + n + 1 + j.
  void start_node(int j) {
    std::vector<std::string> args = {binary_,
                                     "node",
                                     "--config",
                                     config(),
                                     "--id",
                                     std::to_string(j),
                                     "--cache",
                                     (dir_.path() / ("node-cache-" + std::to_string(j))).string(),
                                     "--poll-interval",
                                     "0.3",
                                     "--backend",
                                     node_model.empty() ? "opaque" : "cpu"};
    if (!node_model.empty()) {
      args.push_back("--model");
      args.push_back(node_model);
    }
    spawn(100 + j, std::move(args),
          (dir_.path() / ("node-" + std::to_string(j) + ".log")).string());
  }
  int node_port(int j) const { return base_port_ + n_ + 1 + j; }

  // The artifact store; it is process -1. `wrapper` runs in front of it (e.g. prlimit).
  void start_store(std::vector<std::string> wrapper = {}) {
    wrapper.insert(wrapper.end(), {binary_, "store", "--config", config(), "--dir",
                                   (dir_.path() / "store").string()});
    spawn(-1, std::move(wrapper), (dir_.path() / "store.log").string());
  }

  // TCP ports from the config: validator `id`'s endpoint, and the store's.
  int validator_port(int id) const { return base_port_ + id; }
  int store_port() const { return base_port_ + n_; }

  void start(int id) {
    std::vector<std::string> args = {
        binary_,
        "validator",
        "--config",
        config(),
        "--id",
        std::to_string(id),
        "--key",
        (dir_.path() / "keys" / ("validator-" + std::to_string(id) + ".key")).string(),
        "--data",
        (dir_.path() / ("data-" + std::to_string(id))).string(),
        "--validate-cmd",
        validate_command_,
        "--log-level",
        "info"};
    if (auto f = faults.find(id); f != faults.end()) {
      args.push_back("--faults");
      args.push_back(f->second);
    }
    if (auto b = byzantine.find(id); b != byzantine.end()) {
      args.push_back("--byzantine");
      args.push_back(b->second);
    }
    if (auto e = extra_args.find(id); e != extra_args.end())
      args.insert(args.end(), e->second.begin(), e->second.end());
    spawn(id, std::move(args),
          (dir_.path() / ("validator-" + std::to_string(id) + ".log")).string());
  }

  void spawn(int id, std::vector<std::string> args, const std::string& log) {
    if (auto s = processes_.spawn(std::to_string(id), args, log); !s)
      throw std::runtime_error(s.error().message);
  }
  void start_all() {
    start_store();
    for (int i = 0; i < n_; ++i) start(i);
  }

  // kill -9: no chance to flush anything that was not already durable.
  void kill9(int id) { stop(id, SIGKILL); }
  // SIGTERM; returns the exit status (0 for a clean shutdown).
  int terminate(int id) { return stop(id, SIGTERM); }

  void stop_all() { processes_.stop_all(); }

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

  std::string log(int id) const {
    auto name = id >= 100 ? "node-" + std::to_string(id - 100)
                : id < 0  ? std::string("store")
                          : "validator-" + std::to_string(id);
    std::ifstream in(dir_.path() / (name + ".log"));
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

 private:
  int stop(int id, int signal) { return processes_.signal_and_wait(std::to_string(id), signal); }

  std::string binary_;
  int n_;
  std::string validate_command_;
  TempDir dir_;
  int base_port_ = 0;
  runtime::ChildProcesses processes_;
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

}  // namespace bftgate::testing
