// Fault injection for the tests of the epoch switch (`bftgate validator --crash-at STEP`): the
// validator kills itself at one step of the switch with SIGKILL (nothing flushed, nothing cleaned
// up, as a power cut or the OOM killer would), so that a test can start it again and check that
// it ends in the right epoch.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace bftgate::runtime {

enum class SwitchStep {
  kNone,
  kApproved,   // its approval of the next epoch is sent to its peers and its own replica
  kCertified,  // its register holds the epoch certificate; the handoff is not kept yet
  kKept,       // the handoff is kept (synced); the next epoch's replica has not started
  kStarted,    // the next epoch's replica runs: its write-ahead log open, its socket listening
};

std::optional<SwitchStep> parse_switch_step(std::string_view name);
std::string_view to_string(SwitchStep step);
// "approved, certified, kept, started": for --help.
std::string switch_step_names();

// Kills this process when `configured` is `here` (logged first, flushed), else returns.
void crash_at(SwitchStep configured, SwitchStep here, std::uint32_t validator);

}  // namespace bftgate::runtime
