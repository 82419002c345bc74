#include "bftgate/base/json_reader.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "bftgate/base/strict_json.hpp"

namespace bftgate {

namespace {
const nlohmann::json kEmptyArray = nlohmann::json::array();
const nlohmann::json kEmptyObject = nlohmann::json::object();
}  // namespace

bool is_finite_non_negative(double value) {
  return value >= 0 && std::isfinite(value);
}

JsonObjectReader::JsonObjectReader(const nlohmann::json& object, std::string path,
                                   std::initializer_list<std::string_view> allowed)
    : object_(object), path_(std::move(path)) {
  if (!object_.is_object()) {
    fail_object("expected an object");
    return;
  }
  for (const auto& [key, value] : object_.items()) {
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
      fail_object(fmt::format("unknown field '{}'", printable(key, 64)));
      return;
    }
  }
}

bool JsonObjectReader::has(std::string_view key) const {
  return object_.is_object() && object_.contains(key);
}

const nlohmann::json* JsonObjectReader::find(std::string_view key, bool required) {
  if (!ok()) return nullptr;
  auto it = object_.find(key);
  if (it == object_.end()) {
    if (required) fail_object(fmt::format("missing field '{}'", key));
    return nullptr;
  }
  return &*it;
}

std::string JsonObjectReader::string(std::string_view key) {
  const auto* value = find(key, true);
  if (value == nullptr) return {};
  if (!value->is_string()) {
    fail(key, "expected a string");
    return {};
  }
  return value->get<std::string>();
}

std::uint64_t JsonObjectReader::unsigned_int(std::string_view key, std::uint64_t max) {
  const auto* value = find(key, true);
  if (value == nullptr) return 0;
  // Only an integer that is not negative: never a float, nor a negative number cast to one. (A
  // value built in code may hold a non-negative integer as a signed one.)
  if (!value->is_number_unsigned() &&
      !(value->is_number_integer() && value->get<std::int64_t>() >= 0)) {
    fail(key, "expected a non-negative integer");
    return 0;
  }
  auto number = value->get<std::uint64_t>();
  if (number > max) {
    fail(key, fmt::format("{} exceeds the maximum {}", number, max));
    return 0;
  }
  return number;
}

double JsonObjectReader::number(std::string_view key) {
  const auto* value = find(key, true);
  if (value == nullptr) return 0;
  if (!value->is_number() || !std::isfinite(value->get<double>())) {
    fail(key, "expected a number");
    return 0;
  }
  return value->get<double>();
}

bool JsonObjectReader::boolean(std::string_view key) {
  const auto* value = find(key, true);
  if (value == nullptr) return false;
  if (!value->is_boolean()) {
    fail(key, "expected true or false");
    return false;
  }
  return value->get<bool>();
}

const nlohmann::json& JsonObjectReader::array(std::string_view key) {
  const auto* value = find(key, true);
  if (value == nullptr) return kEmptyArray;
  if (!value->is_array()) {
    fail(key, "expected an array");
    return kEmptyArray;
  }
  return *value;
}

const nlohmann::json& JsonObjectReader::object(std::string_view key) {
  const auto* value = find(key, true);
  if (value == nullptr) return kEmptyObject;
  if (!value->is_object()) {
    fail(key, "expected an object");
    return kEmptyObject;
  }
  return *value;
}

std::string JsonObjectReader::string_or(std::string_view key, std::string fallback) {
  return has(key) ? string(key) : fallback;
}

std::uint64_t JsonObjectReader::unsigned_or(std::string_view key, std::uint64_t fallback,
                                            std::uint64_t max) {
  return has(key) ? unsigned_int(key, max) : fallback;
}

double JsonObjectReader::number_or(std::string_view key, double fallback) {
  return has(key) ? number(key) : fallback;
}

bool JsonObjectReader::boolean_or(std::string_view key, bool fallback) {
  return has(key) ? boolean(key) : fallback;
}

const nlohmann::json& JsonObjectReader::array_or_empty(std::string_view key) {
  return has(key) ? array(key) : kEmptyArray;
}

const nlohmann::json* JsonObjectReader::optional_object(std::string_view key) {
  const auto* value = find(key, false);
  if (value == nullptr || value->is_null()) return nullptr;
  if (!value->is_object()) {
    fail(key, "expected an object or null");
    return nullptr;
  }
  return value;
}

double JsonObjectReader::non_negative_or(std::string_view key, double fallback) {
  auto value = number_or(key, fallback);
  if (ok() && !is_finite_non_negative(value)) {
    fail(key, "must be a finite number >= 0");
    return fallback;
  }
  return value;
}

double JsonObjectReader::probability_or(std::string_view key, double fallback) {
  auto value = number_or(key, fallback);
  if (ok() && !(value >= 0 && value <= 1)) {
    fail(key, "must be a probability in [0, 1]");
    return fallback;
  }
  return value;
}

void JsonObjectReader::fail(std::string_view key, std::string_view problem) {
  if (ok()) error_ = fmt::format("{}: {}", field_path(key), problem);
}

void JsonObjectReader::fail_object(std::string_view problem) {
  if (ok()) error_ = fmt::format("{}: {}", path_, problem);
}

std::string JsonObjectReader::field_path(std::string_view key) const {
  return path_.empty() ? std::string(key) : fmt::format("{}.{}", path_, key);
}

Status JsonObjectReader::status() const {
  if (ok()) return ok_status();
  return Error{error_};
}

}  // namespace bftgate
