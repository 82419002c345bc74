// Running a local cluster of bftgate processes (the demo, integration tests): free loopback
// ports, child processes with their output in log files, signals, and a shutdown that reaps
// every child (SIGTERM, then SIGKILL after a grace period).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "bftgate/base/result.hpp"

namespace bftgate::runtime {

// A base port such that [base, base + count) are all free on 127.0.0.1 right now, outside the
// kernel's ephemeral range so no outgoing connection can take one before it is bound.
std::optional<std::uint16_t> free_port_range(int count);

class ChildProcesses {
 public:
  ChildProcesses() = default;
  ChildProcesses(const ChildProcesses&) = delete;
  ChildProcesses& operator=(const ChildProcesses&) = delete;
  ~ChildProcesses() { stop_all(); }

  // Starts argv[0] with argv, stdout and stderr appended to `log`, under the name `key`.
  Status spawn(const std::string& key, const std::vector<std::string>& argv,
               const std::filesystem::path& log);
  // Sends `signal` to `key` and waits for it; returns its exit code (128+signal if killed), -1 if
  // unknown.
  int signal_and_wait(const std::string& key, int signal);
  // SIGTERM to all, SIGKILL to those still running after `grace`; returns the keys whose exit
  // code is not among `clean` (some programs, etcd among them, re-raise SIGTERM: 143).
  std::vector<std::string> stop_all(
      std::chrono::milliseconds grace = std::chrono::milliseconds(5000),
      const std::vector<int>& clean = {0});
  std::size_t size() const { return children_.size(); }
  // The process id of `key`, while it runs.
  std::optional<pid_t> pid(const std::string& key) const {
    auto it = children_.find(key);
    return it == children_.end() ? std::nullopt : std::optional<pid_t>(it->second);
  }

 private:
  std::map<std::string, pid_t> children_;
};

}  // namespace bftgate::runtime
