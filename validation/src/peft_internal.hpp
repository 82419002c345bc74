// What the PEFT adapter reader (peft.cpp), its config checks (peft_config.cpp) and the writer
// (peft_write.cpp) share: the file and tensor names and the checked config.
#pragma once

#include <fmt/format.h>

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "bftgate/validation/peft.hpp"

namespace bftgate::validation::peft_detail {

inline constexpr const char* kConfigFile = "adapter_config.json";
inline constexpr const char* kWeightsFile = "adapter_model.safetensors";
inline constexpr std::size_t kMaxPeftConfigSize = 1 << 20;
inline constexpr std::string_view kTensorPrefix = "base_model.model.";
inline constexpr std::string_view kASuffix = ".lora_A.weight";
inline constexpr std::string_view kBSuffix = ".lora_B.weight";

inline std::string a_name(const std::string& module) {
  return std::string(kTensorPrefix) + module + std::string(kASuffix);
}
inline std::string b_name(const std::string& module) {
  return std::string(kTensorPrefix) + module + std::string(kBSuffix);
}

inline Error config_error(std::string_view message) {
  return Error{fmt::format("adapter_config.json: {}", message)};
}

// The base modules the config's target_modules select, in target_modules order (an entry
// matching several modules contributes them in the base model's order).
Result<std::vector<std::string>> resolve_target_modules(const nlohmann::ordered_json& targets,
                                                        const BaseModelShape& base);

// The config fields, checked; the target modules are resolved against the base model later.
struct CheckedConfig {
  int rank = 0;
  float alpha = 0.0f;
  bool use_rslora = false;
  std::string base_model;
};

Result<CheckedConfig> check_config(const nlohmann::ordered_json& config,
                                   const AdapterLimits& limits);

Result<nlohmann::ordered_json> parse_config_text(std::string_view text);

}  // namespace bftgate::validation::peft_detail
