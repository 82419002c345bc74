// A validator that lags behind a switch while it runs (cut off from its peers, or slow, without
// a restart) would stay in its epoch: the others have left it, and no message of theirs verifies
// in its epoch. So while its replica executes nothing, it asks the validators of its epoch now and
// then for the handoff that ended it (runtime/client/epoch_store.hpp: catch_up_epochs, every
// link verified from genesis), on a thread of its own so the event loop never waits; once one is
// kept, the validator leaves its epoch as a restart would and runs the newest it is in.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <thread>

#include "bftgate/config/cluster_config.hpp"
#include "bftgate/runtime/net/link_security.hpp"

namespace bftgate::runtime {

class EpochProbe {
 public:
  EpochProbe(ClusterConfig genesis, std::filesystem::path data_dir, LinkSecurity security,
             std::uint32_t id)
      : genesis_(std::move(genesis)),
        data_dir_(std::move(data_dir)),
        security_(std::move(security)),
        id_(id) {}
  ~EpochProbe();  // waits for a probe under way
  EpochProbe(const EpochProbe&) = delete;
  EpochProbe& operator=(const EpochProbe&) = delete;

  // What the replica executed when it started (recovered from its log).
  void start(std::uint64_t executed) { last_executed_ = executed; }
  // Every few seconds, with the replica's last executed sequence number: asks when it has not
  // moved since the last call and no probe is under way.
  void on_housekeeping(std::uint64_t last_executed);
  // Whether a probe kept the handoff that ended this validator's epoch.
  bool found() const { return found_; }

 private:
  ClusterConfig genesis_;
  std::filesystem::path data_dir_;
  LinkSecurity security_;
  std::uint32_t id_;
  std::uint64_t last_executed_ = 0;
  std::thread thread_;
  std::atomic<bool> running_ = false;
  std::atomic<bool> found_ = false;
};

}  // namespace bftgate::runtime
