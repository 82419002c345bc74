// The one strict reader of a JSON object from outside (configs, scenarios, suites, certificates,
// answers on the wire), over a value parse_json() bounded: only the fields it allows, each of
// the type and range asked for, and the first problem kept with the path of the field it
// concerns ("validators[2].id: expected a non-negative integer"). After a problem every getter
// returns its default, so a decoder reads straight through and checks once at the end.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "bftgate/base/result.hpp"

namespace bftgate {

// A finite number >= 0: NaN, infinities and negative numbers are not.
bool is_finite_non_negative(double value);

class JsonObjectReader {
 public:
  // `path` names the object in errors ("validators[2]"; the top object by what it is, "config").
  // `allowed`: the fields it may have; any other is refused.
  JsonObjectReader(const nlohmann::json& object, std::string path,
                   std::initializer_list<std::string_view> allowed);
  // It reads the object in place: never a temporary that dies before the reader.
  JsonObjectReader(nlohmann::json&& object, std::string path,
                   std::initializer_list<std::string_view> allowed) = delete;

  bool has(std::string_view key) const;

  // Required fields: a missing one is refused.
  std::string string(std::string_view key);
  std::uint64_t unsigned_int(std::string_view key,
                             std::uint64_t max = std::numeric_limits<std::uint64_t>::max());
  double number(std::string_view key);  // finite
  bool boolean(std::string_view key);
  const nlohmann::json& array(std::string_view key);
  const nlohmann::json& object(std::string_view key);

  // Optional fields: `fallback` when absent.
  std::string string_or(std::string_view key, std::string fallback);
  std::uint64_t unsigned_or(std::string_view key, std::uint64_t fallback,
                            std::uint64_t max = std::numeric_limits<std::uint64_t>::max());
  double number_or(std::string_view key, double fallback);
  bool boolean_or(std::string_view key, bool fallback);
  const nlohmann::json& array_or_empty(std::string_view key);
  // An object, or none when the field is absent or null.
  const nlohmann::json* optional_object(std::string_view key);

  // A finite number >= 0 (NaN and infinities refused), and one in [0, 1].
  double non_negative_or(std::string_view key, double fallback);
  double probability_or(std::string_view key, double fallback);

  // Records a problem of a field ("PATH.KEY: problem") or of the object ("PATH: problem").
  void fail(std::string_view key, std::string_view problem);
  void fail_object(std::string_view problem);
  std::string field_path(std::string_view key) const;

  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }
  Status status() const;

 private:
  const nlohmann::json* find(std::string_view key, bool required);

  const nlohmann::json& object_;
  std::string path_;
  std::string error_;
};

}  // namespace bftgate
