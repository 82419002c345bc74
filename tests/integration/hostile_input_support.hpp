// What the hostile-input tests (hostile_input_test.cpp, infrastructure_faults_test.cpp,
// resource_bounds_test.cpp) share: the passing validation command, submitting an adapter, and
// reaching the processes on 127.0.0.1.
#pragma once

#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <thread>

#include "local_cluster.hpp"

namespace bftgate::testing::hostile_support {

using std::chrono::milliseconds;

inline const std::string kPass = R"(echo '{"pass": true, "metrics": {"suite": "test"}}')";

inline std::string write_artifact(const LocalCluster& cluster, const std::string& name,
                                  std::size_t size, std::uint64_t seed = 0) {
  return write_random_artifact(cluster, name, size, seed);
}

inline CommandResult submit(const LocalCluster& cluster, const std::string& artifact,
                            int timeout_s = 60, const std::string& extra = "") {
  return run_command(cluster.bftgate() + " submit --json --wait --timeout " +
                     std::to_string(timeout_s) + " --config " + cluster.config() +
                     " --operator-key " + cluster.operator_key() + " --adapter " + artifact + " " +
                     extra);
}

inline int connect_loopback(int port) {
  return LocalCluster::connect_loopback(port);
}

// Waits until something listens on the port (processes take a moment to start).
inline bool wait_listening(int port, std::chrono::seconds limit = std::chrono::seconds(30)) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    int fd = connect_loopback(port);
    if (fd >= 0) {
      ::close(fd);
      return true;
    }
    std::this_thread::sleep_for(milliseconds(50));
  }
  return false;
}

// Every validator's status answer, decoded (asked again until `needed` answer).
inline std::map<bft::ReplicaId, StatusAnswer> status_of_all(const LocalCluster& cluster,
                                                            std::size_t needed = 4) {
  std::map<bft::ReplicaId, StatusAnswer> answers;
  for (int attempt = 0; attempt < 50 && answers.size() < needed; ++attempt)
    answers = statuses_of(cluster, milliseconds(500));
  return answers;
}

}  // namespace bftgate::testing::hostile_support
