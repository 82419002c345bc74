// What a process does with input it refuses (a malformed frame, a bad query, an HTTP request it
// cannot parse): count it by kind and log it, at a rate an attacker cannot turn into a flood of
// log lines (the 1st, 2nd, 4th, 8th, ... refusal of each kind). Counts are shown in status and
// metrics. Thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace bftgate::runtime {

class Refusals {
 public:
  // `who` prefixes the log line ("validator 2", "store"); `detail` must already be printable
  // (crypto/strict_json.hpp: printable()).
  explicit Refusals(std::string who) : who_(std::move(who)) {}

  void refuse(std::string_view kind, std::string_view detail);
  std::uint64_t count(std::string_view kind) const;
  std::uint64_t total() const;
  nlohmann::json to_json() const;  // {"kind": count, ...}
  std::map<std::string, std::uint64_t> counts() const;

 private:
  std::string who_;
  mutable std::mutex mutex_;
  std::map<std::string, std::uint64_t, std::less<>> counts_;
};

}  // namespace bftgate::runtime
