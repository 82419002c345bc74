// The checks on a PEFT adapter_config.json (peft.hpp): the LoRA fields, the target modules
// against the base model, and the PEFT features bftgate refuses rather than ignores.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>

#include "peft_internal.hpp"

namespace bftgate::validation {

using nlohmann::ordered_json;

namespace {

bool absent_or_null(const ordered_json& config, const char* key) {
  auto it = config.find(key);
  return it == config.end() || it->is_null();
}

// A field that must be absent, null, false or empty (an unsupported PEFT feature left off).
bool feature_off(const ordered_json& config, const char* key) {
  auto it = config.find(key);
  if (it == config.end() || it->is_null()) return true;
  if (it->is_boolean()) return !it->get<bool>();
  if (it->is_array() || it->is_object()) return it->empty();
  return false;
}

// PEFT's matching of a target_modules list entry: the module itself or any module whose path
// ends with ".<entry>".
bool list_entry_matches(const std::string& entry, const std::string& module) {
  if (module == entry) return true;
  return module.size() > entry.size() && module.ends_with(entry) &&
         module[module.size() - entry.size() - 1] == '.';
}

// PEFT full-matches a target_modules string as a regular expression. bftgate supports the
// regular expressions that are plain module paths ([A-Za-z0-9_.-]), where '.' matches any
// character, and refuses the rest rather than guessing.
bool is_plain_pattern(const std::string& pattern) {
  return !pattern.empty() && std::all_of(pattern.begin(), pattern.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.' || c == '-';
  });
}
bool plain_pattern_matches(const std::string& pattern, const std::string& module) {
  if (pattern.size() != module.size()) return false;
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] != '.' && pattern[i] != module[i]) return false;
  }
  return true;
}

}  // namespace

namespace peft_detail {

Result<std::vector<std::string>> resolve_target_modules(const ordered_json& targets,
                                                        const BaseModelShape& base) {
  std::vector<std::string> modules;
  auto add = [&modules](const std::string& module) {
    if (std::find(modules.begin(), modules.end(), module) == modules.end())
      modules.push_back(module);
  };
  if (targets.is_string()) {
    const auto& pattern = targets.get_ref<const std::string&>();
    if (!is_plain_pattern(pattern)) {
      return config_error(
          fmt::format("target_modules '{}' is a regular expression; bftgate accepts a list of "
                      "module paths or a "
                      "single plain module path",
                      pattern));
    }
    for (const auto& module : base.modules) {
      if (plain_pattern_matches(pattern, module.module)) add(module.module);
    }
    if (modules.empty()) {
      return config_error(fmt::format(
          "target module '{}' is not a linear module of base model '{}'", pattern, base.name));
    }
    return modules;
  }
  if (!targets.is_array() || targets.empty()) {
    return config_error("target_modules is not a non-empty list of module paths or a string");
  }
  std::set<std::string> seen;
  for (const auto& entry : targets) {
    if (!entry.is_string() || entry.get_ref<const std::string&>().empty()) {
      return config_error(
          fmt::format("target_modules entry {} is not a module path", entry.dump()));
    }
    const auto& path = entry.get_ref<const std::string&>();
    if (!seen.insert(path).second) {
      return config_error(fmt::format("target module '{}' is listed twice", path));
    }
    bool matched = false;
    for (const auto& module : base.modules) {
      if (list_entry_matches(path, module.module)) {
        add(module.module);
        matched = true;
      }
    }
    if (!matched) {
      return config_error(fmt::format(
          "target module '{}' is not a linear module of base model '{}'", path, base.name));
    }
  }
  return modules;
}

Result<CheckedConfig> check_config(const ordered_json& config, const AdapterLimits& limits) {
  if (!config.is_object()) return config_error("not a JSON object");
  CheckedConfig checked;

  auto peft_type = config.find("peft_type");
  if (peft_type == config.end() || !peft_type->is_string() ||
      peft_type->get<std::string>() != "LORA") {
    return config_error(fmt::format("peft_type is {}, not \"LORA\"",
                                    peft_type == config.end() ? "missing" : peft_type->dump()));
  }

  auto r = config.find("r");
  if (r == config.end() || !r->is_number_integer()) return config_error("r is not an integer");
  if (r->is_number_unsigned() ? r->get<std::uint64_t>() == 0 : r->get<std::int64_t>() <= 0) {
    return config_error(fmt::format("r = {} is not positive", r->dump()));
  }
  if (r->get<std::uint64_t>() > static_cast<std::uint64_t>(std::max(limits.max_rank, 0))) {
    return config_error(
        fmt::format("rank r = {} is above the limit {}", r->dump(), limits.max_rank));
  }
  checked.rank = static_cast<int>(r->get<std::uint64_t>());

  auto alpha = config.find("lora_alpha");
  if (alpha == config.end() || !alpha->is_number())
    return config_error("lora_alpha is not a number");
  const double alpha_value = alpha->get<double>();
  if (!std::isfinite(alpha_value) || alpha_value <= 0.0 ||
      alpha_value > static_cast<double>(std::numeric_limits<float>::max())) {
    return config_error(
        fmt::format("lora_alpha = {} is not a positive finite float", alpha->dump()));
  }
  checked.alpha = static_cast<float>(alpha_value);

  auto base_name = config.find("base_model_name_or_path");
  if (base_name == config.end() || !base_name->is_string()) {
    return config_error("base_model_name_or_path is not a string");
  }
  checked.base_model = base_name->get<std::string>();

  if (auto rslora = config.find("use_rslora"); rslora != config.end() && !rslora->is_null()) {
    if (!rslora->is_boolean()) return config_error("use_rslora is not a boolean");
    checked.use_rslora = rslora->get<bool>();
  }
  if (config.find("target_modules") == config.end()) return config_error("no target_modules");

  // Features that would make the adapter compute something else than W + s·B·A on the listed
  // modules: refused, never ignored.
  if (auto bias = config.find("bias"); bias != config.end() && !bias->is_null() &&
                                       (!bias->is_string() || bias->get<std::string>() != "none")) {
    return config_error(fmt::format("bias = {} is not supported (only \"none\")", bias->dump()));
  }
  struct Unsupported {
    const char* key;
    const char* why;
  };
  constexpr Unsupported kMustBeOff[] = {
      {"fan_in_fan_out", "fan_in_fan_out (transposed Conv1D weights) is not supported"},
      {"use_dora", "use_dora (DoRA) is not supported"},
      {"modules_to_save", "modules_to_save (fully trained extra modules) is not supported"},
      {"rank_pattern", "rank_pattern (per-module ranks) is not supported"},
      {"alpha_pattern", "alpha_pattern (per-module alphas) is not supported"},
      {"layers_to_transform", "layers_to_transform is not supported"},
      {"layer_replication", "layer_replication is not supported"},
      {"exclude_modules", "exclude_modules is not supported"},
      {"lora_bias", "lora_bias (a bias on lora_B) is not supported"},
      {"trainable_token_indices", "trainable_token_indices is not supported"},
      {"target_parameters", "target_parameters is not supported"},
      {"use_qalora", "use_qalora is not supported"},
      {"megatron_config", "megatron_config is not supported"},
  };
  for (const auto& feature : kMustBeOff) {
    if (!feature_off(config, feature.key)) {
      return config_error(
          fmt::format("{} ({} = {})", feature.why, feature.key, config.at(feature.key).dump()));
    }
  }

  // Common fields checked for their type; they do not change inference.
  if (auto task = config.find("task_type"); task != config.end() && !task->is_null()) {
    static const std::set<std::string> kCausal = {"CAUSAL_LM", "FEATURE_EXTRACTION"};
    if (!task->is_string()) return config_error("task_type is not a string");
    if (!kCausal.contains(task->get<std::string>())) {
      return config_error(fmt::format(
          "task_type {} is not supported (bftgate adapts causal language models: CAUSAL_LM)",
          task->dump()));
    }
  }
  if (auto dropout = config.find("lora_dropout"); dropout != config.end() && !dropout->is_null()) {
    if (!dropout->is_number() || !(dropout->get<double>() >= 0.0 && dropout->get<double>() < 1.0)) {
      return config_error(fmt::format("lora_dropout = {} is not in [0, 1)", dropout->dump()));
    }
  }
  if (auto init = config.find("init_lora_weights"); init != config.end() && !init->is_null()) {
    // PiSSA, OLoRA, LoftQ, EVA, CorDA... initialisations change the base weights the adapter
    // was trained against unless converted back to plain LoRA on saving.
    if (!init->is_boolean() && !(init->is_string() && init->get<std::string>() == "gaussian")) {
      return config_error(fmt::format(
          "init_lora_weights = {} is not supported (it modifies the base weights; convert the "
          "adapter to plain LoRA)",
          init->dump()));
    }
  }
  if (!absent_or_null(config, "inference_mode") && !config.at("inference_mode").is_boolean()) {
    return config_error("inference_mode is not a boolean");
  }
  if (!absent_or_null(config, "revision") && !config.at("revision").is_string()) {
    return config_error("revision is not a string");
  }
  return checked;
}

Result<ordered_json> parse_config_text(std::string_view text) {
  auto parsed = parse_json_unique_keys(text);
  if (!parsed) return config_error(parsed.error().message);
  if (!parsed->is_object()) return config_error("not a JSON object");
  return parsed;
}

}  // namespace peft_detail
}  // namespace bftgate::validation
