// A real etcd cluster beside bftgate: Debian's etcd-server (3.4), started here with its own data
// directories on 127.0.0.1, and a lean client of its own, so that Raft (crash faults) and PBFT
// (Byzantine faults) are measured on the same machine in one run.
//
// Every peer link goes through a proxy this process runs. Raft messages to a member arrive over
// connections it accepted and over connections it dialled (etcd's rafthttp streams flow from the
// dialled side), so each proxy reads which member dialled (the X-Server-From header of the
// connection's first request) and can hold back what flows toward one chosen member: a
// straggler that waits before each chunk of peer traffic it receives, one chunk at a time.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "bftgate/base/result.hpp"

namespace bftgate::experiments::etcd {

// The etcd binary on PATH (etcd-server's /usr/bin/etcd), if there is one.
std::optional<std::filesystem::path> find_binary();

struct ClusterOptions {
  std::filesystem::path binary;  // etcd
  std::filesystem::path dir;     // data directories and logs, one folder per member
  std::size_t members = 3;
  std::chrono::seconds start_timeout{30};
  // Peer links through this process's proxies (stragglers, peer bytes); false: members talk to
  // each other directly, as a deployment does (benchmarks against etcd).
  bool proxied = true;
};

class Cluster {
 public:
  // Starts the members and waits until they have a leader and answer puts.
  static Result<std::unique_ptr<Cluster>> start(const ClusterOptions& options);
  ~Cluster();
  Cluster(const Cluster&) = delete;
  Cluster& operator=(const Cluster&) = delete;

  std::size_t members() const;
  std::size_t leader() const;  // as found at start
  std::uint16_t client_port(std::size_t member) const;
  // The peer traffic toward `member` waits uniformly in [0, max] before each chunk, from now on
  // (proxied clusters only).
  void make_straggler(std::size_t member, std::chrono::microseconds max);
  // SIGKILL: a crash.
  void crash(std::size_t member);
  // SIGTERM to every member still running (a crashed one is gone already), then the proxies
  // stop; the members that did not exit cleanly.
  std::vector<std::string> stop();
  // Whether any member process is still running.
  bool running() const;
  // Bytes the proxies forwarded between members so far (0 unless proxied).
  std::uint64_t peer_bytes() const;

 private:
  struct State;
  explicit Cluster(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

// Puts through one member's v2 keys API (HTTP/1.1, keep-alive), one request in flight on each
// of `in_flight` connections, `count` in all; `on_complete(k)` runs after the k-th completes
// (1-based), with its latency. Returns the latencies in completion order, in milliseconds.
Result<std::vector<double>> run_puts(std::uint16_t client_port, std::size_t count,
                                     std::size_t in_flight, std::size_t value_bytes,
                                     const std::function<void(std::size_t)>& on_complete,
                                     std::chrono::seconds timeout = std::chrono::seconds(120));

}  // namespace bftgate::experiments::etcd
