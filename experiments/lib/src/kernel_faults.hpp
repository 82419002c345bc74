// Network faults in the kernel for real runs: partitions and loss as dropped packets, so
// ZeroMQ meets what a real network does to it (stalled connections, retransmissions,
// reconnects), not only the validators' in-process --faults.
//
// The run's thread moves into a network namespace of its own (a private loopback; every process
// it starts inherits it, nothing else sees it), each validator runs under a uid of its own, and
// nftables rules in that namespace drop what a validator sends (matched by its uid) and what is
// sent to its port. Needs root, nft and setpriv; where any is missing, `why_not()` says so and
// the run uses the in-process faults instead.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "bftgate/base/result.hpp"
#include "bftgate/runtime/harness/local_cluster.hpp"

namespace bftgate::experiments {

class KernelFaults {
 public:
  // Empty when kernel faults can be used here; otherwise why not (no root, no nft, ...).
  static std::string why_not();
  // Moves the calling thread into a new network namespace with its loopback up and an empty
  // nftables table. Call it on the thread that then starts the processes and runs the workload.
  static Result<std::unique_ptr<KernelFaults>> enter();

  // Lets validator `id` of `cluster` run as its own uid (its key and data folder handed to it);
  // returns what to start it with (runtime::LocalCluster::start_validator's wrapper).
  Result<std::vector<std::string>> own_user(const runtime::LocalCluster& cluster, std::uint32_t id);
  // Drops everything validator `id` sends and everything sent to `port` (its listener).
  Status cut(std::uint32_t id, std::uint16_t port);
  // Drops each such packet with probability `p`.
  Status lose(std::uint32_t id, std::uint16_t port, double p);
  // Removes every rule.
  Status heal();
  // Packets the rules dropped so far.
  Result<std::uint64_t> dropped_packets() const;

 private:
  KernelFaults() = default;
  Status apply();
  std::vector<std::string> rules_;
};

// Runs `run` on a thread of its own (so that entering a network namespace there leaves the
// rest of the process where it was) and returns what it returned, or what it threw.
nlohmann::json on_own_thread(const std::function<nlohmann::json()>& run);

}  // namespace bftgate::experiments
