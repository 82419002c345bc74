// Network faults injected at a validator's own sockets, for experiments on real processes:
// loss and delay on the links to chosen peers, and partitions (everything to and from chosen
// peers dropped) that heal after a while. Spec (--faults): comma-separated key=value pairs
//   loss=P          drop each outgoing message to the chosen peers with probability P
//   delay=A-Bms     delay each outgoing message to the chosen peers uniformly in [A, B] ms
//   peers=1+2       the peers loss and delay apply to (default: every peer)
//   cut=1+2         drop everything to and from these peers (a partition)
//   process=A-Bus   a straggler (Antoniadis et al.): each protocol message this validator processes
//                   first waits uniformly in [A, B] microseconds
//   until=S         every rule stops S seconds after the process starts (the partition heals)
//   heal-file=PATH  every rule stops once PATH exists (an experiment heals at the moment it
//                   chooses; checked every 10 ms)
#pragma once

#include <chrono>
#include <optional>
#include <random>
#include <set>
#include <string>

#include "bftgate/base/result.hpp"
#include "bftgate/core/types.hpp"

namespace bftgate::runtime {

class LinkFaults {
 public:
  static Result<LinkFaults> parse(const std::string& spec);

  // The fate of one outgoing message to `peer`: nullopt = dropped; otherwise the delay.
  std::optional<std::chrono::milliseconds> outgoing(bft::ReplicaId peer,
                                                    std::chrono::steady_clock::time_point now);
  // How long processing the next incoming protocol message waits (zero unless process= is set).
  std::chrono::microseconds processing_delay(std::chrono::steady_clock::time_point now);
  // Whether a message from `peer` is dropped on arrival.
  bool drop_incoming(bft::ReplicaId peer, std::chrono::steady_clock::time_point now) const;
  bool empty() const {
    return loss_ == 0 && delay_max_ms_ == 0 && cut_.empty() && process_max_us_ == 0;
  }
  std::string describe() const;

 private:
  bool active(std::chrono::steady_clock::time_point now) const;

  double loss_ = 0;
  int delay_min_ms_ = 0;
  int delay_max_ms_ = 0;
  int process_min_us_ = 0;
  int process_max_us_ = 0;
  std::set<bft::ReplicaId> peers_;  // empty: all
  std::set<bft::ReplicaId> cut_;
  std::optional<std::chrono::milliseconds> until_;
  std::string heal_file_;
  mutable bool healed_ = false;
  mutable std::chrono::steady_clock::time_point heal_checked_{};
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  std::mt19937_64 rng_{0xfa017};
};

}  // namespace bftgate::runtime
