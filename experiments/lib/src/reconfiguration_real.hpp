// The real-process half of the `reconfiguration` experiment: the demo's local cluster on
// 127.0.0.1 (the artifact store, 4 validators with a stand-in validation of `validation_s`, one
// inference node) releases `released` adapters back to back, then adapters come one every
// `every_s` while the operator replaces validator 2 with a new host: the host makes its key
// (`bftgate init validator`), the operator proposes its card (`bftgate reconfigure --replace`,
// proposed again while a vote is under way), and once the epoch is certified the host starts with
// --join, fetches the handoff and verifies it from the genesis config.
//
// Measured, in seconds from the first proposal of the change: the wait for the register to take
// it (wait_s), the epoch certificate (certified_after_s), a quorum of the new set running it
// (quorum_running_s), every member running it (switch_s), the first adapter released in the new
// epoch and the node serving it; the new host's join from its start (join_s) and the handoff it
// kept (bytes), against `released`; the release gap spanning the switch against the median gap,
// and the load's proposals made again.
#pragma once

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>

namespace bftgate::experiments {

struct RealReconfigurationParams {
  std::size_t released = 4;
  double every_s = 1;
  double validation_s = 0.2;
  std::uint64_t seed = 0;
};

// Throws with the reason when the run does not complete (a process that does not come up, a
// change never certified, the new set never running whole).
nlohmann::json run_real_reconfiguration(const RealReconfigurationParams& params);

}  // namespace bftgate::experiments
