#include "bftgate/runtime/validator/switch_crash.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <array>
#include <csignal>
#include <utility>

namespace bftgate::runtime {

namespace {
constexpr std::array<std::pair<SwitchStep, std::string_view>, 4> kSteps{{
    {SwitchStep::kApproved, "approved"},
    {SwitchStep::kCertified, "certified"},
    {SwitchStep::kKept, "kept"},
    {SwitchStep::kStarted, "started"},
}};
}  // namespace

std::optional<SwitchStep> parse_switch_step(std::string_view name) {
  for (const auto& [step, text] : kSteps) {
    if (text == name) return step;
  }
  return std::nullopt;
}

std::string_view to_string(SwitchStep step) {
  for (const auto& [s, text] : kSteps) {
    if (s == step) return text;
  }
  return "none";
}

std::string switch_step_names() {
  std::string names;
  for (const auto& [step, text] : kSteps) names += (names.empty() ? "" : ", ") + std::string(text);
  return names;
}

void crash_at(SwitchStep configured, SwitchStep here, std::uint32_t validator) {
  if (configured == SwitchStep::kNone || configured != here) return;
  spdlog::warn("validator {}: --crash-at {}: killing itself here", validator, to_string(here));
  spdlog::default_logger()->flush();
  std::raise(SIGKILL);
}

}  // namespace bftgate::runtime
