#include <fmt/format.h>
#include <unistd.h>

#include <cstdlib>
#include <sstream>

#include "bftgate/base/strict_json.hpp"
#include "bftgate/experiments/experiments.hpp"

namespace bftgate::experiments {

std::string_view to_string(Size size) {
  return size == Size::kSmoke ? "smoke" : "full";
}

Result<Size> parse_size(std::string_view text) {
  if (text == "smoke") return Size::kSmoke;
  if (text == "full") return Size::kFull;
  return Error{fmt::format("unknown size '{}' (smoke or full)", printable(text, 32))};
}

std::uint64_t seed_of(const nlohmann::json& params) {
  std::uint64_t seed = 1469598103934665603ull;  // FNV-1a
  for (char c : dump_json(params)) seed = (seed ^ static_cast<std::uint8_t>(c)) * 1099511628211ull;
  return seed;
}

namespace {
std::filesystem::path& binary_setting() {
  static std::filesystem::path binary;
  return binary;
}
}  // namespace

const std::filesystem::path& process_binary() {
  auto& binary = binary_setting();
  if (binary.empty()) {
    std::error_code ec;
    binary = std::filesystem::read_symlink("/proc/self/exe", ec);
  }
  return binary;
}

void set_process_binary(std::filesystem::path binary) {
  binary_setting() = std::move(binary);
}

std::optional<std::filesystem::path> find_on_path(std::string_view program) {
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path != nullptr ? path : "/usr/bin:/bin:/usr/sbin:/sbin");
  for (std::string dir; std::getline(dirs, dir, ':');) {
    if (dir.empty()) continue;
    auto candidate = std::filesystem::path(dir) / program;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return std::nullopt;
}

const std::vector<std::unique_ptr<Experiment>>& experiments() {
  static const auto registry = [] {
    std::vector<std::unique_ptr<Experiment>> all;
    all.push_back(make_convergence());
    all.push_back(make_consistability());
    all.push_back(make_exposure());
    all.push_back(make_convergence_real());
    all.push_back(make_smr_vs_consensus());
    all.push_back(make_adversaries());
    all.push_back(make_scale());
    all.push_back(make_reconfiguration());
    return all;
  }();
  return registry;
}

const Experiment* find_experiment(std::string_view name) {
  for (const auto& experiment : experiments()) {
    if (experiment->name() == name) return experiment.get();
  }
  return nullptr;
}

}  // namespace bftgate::experiments
