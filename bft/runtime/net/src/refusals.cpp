#include "bftgate/runtime/net/refusals.hpp"

#include <spdlog/spdlog.h>

#include <bit>

namespace bftgate::runtime {

void Refusals::refuse(std::string_view kind, std::string_view detail) {
  std::uint64_t n = 0;
  {
    std::lock_guard lock(mutex_);
    auto it = counts_.find(kind);
    if (it == counts_.end()) it = counts_.emplace(std::string(kind), 0).first;
    n = ++it->second;
  }
  if (std::has_single_bit(n)) {
    spdlog::warn("{}: refused input ({}, {} so far): {}", who_, kind, n, detail);
  }
}

std::uint64_t Refusals::count(std::string_view kind) const {
  std::lock_guard lock(mutex_);
  auto it = counts_.find(kind);
  return it == counts_.end() ? 0 : it->second;
}

std::uint64_t Refusals::total() const {
  std::lock_guard lock(mutex_);
  std::uint64_t sum = 0;
  for (const auto& [kind, n] : counts_) sum += n;
  return sum;
}

std::map<std::string, std::uint64_t> Refusals::counts() const {
  std::lock_guard lock(mutex_);
  return {counts_.begin(), counts_.end()};
}

nlohmann::json Refusals::to_json() const {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& [kind, n] : counts()) out[kind] = n;
  return out;
}

}  // namespace bftgate::runtime
