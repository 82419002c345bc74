// A JSON file the test wrote or a fixture holds, parsed whole (a test's own input: no limits).
#pragma once

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

namespace bftgate {

inline nlohmann::json read_json(const std::filesystem::path& path) {
  std::ifstream in(path);
  return nlohmann::json::parse(in);
}

}  // namespace bftgate
