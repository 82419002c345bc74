// Runs a validation command: /bin/sh -c COMMAND with a timeout, capturing its standard output.
#pragma once

#include <atomic>
#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "bftgate/base/result.hpp"

namespace bftgate::validation {

struct CommandOutcome {
  int exit_code = -1;  // -1 when killed by the timeout or a signal
  bool timed_out = false;
  bool cancelled = false;  // *cancel became true: the command was killed
  std::string output;      // standard output (at most max_output bytes)
};

// When `cancel` is given and becomes true, the command's process group is killed within ~100 ms.
Result<CommandOutcome> run_command(const std::string& command, std::chrono::milliseconds timeout,
                                   std::size_t max_output = 1 << 20,
                                   const std::atomic<bool>* cancel = nullptr);

// A validation command's verdict: it prints {"pass": bool, "metrics": {...}} on standard output;
// a non-zero exit, output that is not that JSON, or the timeout make a FAIL with the reason.
struct CommandVerdict {
  bool pass = false;
  bool cancelled = false;
  bool not_started = false;  // this host could not start it (no descriptors, no processes left)
  std::string reason;
  nlohmann::json metrics = nlohmann::json::object();
};
CommandVerdict run_verdict_command(const std::string& command, std::chrono::milliseconds timeout,
                                   const std::atomic<bool>* cancel = nullptr);

// Replaces every {name} in `pattern` with its value; unknown placeholders are left as they are.
std::string fill_placeholders(std::string pattern,
                              const std::vector<std::pair<std::string, std::string>>& values);

// Quotes a string for /bin/sh (single quotes).
std::string shell_quote(const std::string& text);

}  // namespace bftgate::validation
