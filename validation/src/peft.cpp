// PEFT LoRA adapters: adapter_config.json + adapter_model.safetensors, and the packed one-file
// form. Loading checks the config, the tensors and the base model's shapes, and refuses the PEFT
// features bftgate does not implement instead of silently applying a different adapter.
#include "bftgate/validation/peft.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>

#include "bftgate/io/file_io.hpp"

namespace bftgate::validation {

using nlohmann::ordered_json;

namespace {

constexpr const char* kConfigFile = "adapter_config.json";
constexpr const char* kWeightsFile = "adapter_model.safetensors";
constexpr std::size_t kMaxPeftConfigSize = 1 << 20;
constexpr std::string_view kTensorPrefix = "base_model.model.";
constexpr std::string_view kASuffix = ".lora_A.weight";
constexpr std::string_view kBSuffix = ".lora_B.weight";

std::string a_name(const std::string& module) {
  return std::string(kTensorPrefix) + module + std::string(kASuffix);
}
std::string b_name(const std::string& module) {
  return std::string(kTensorPrefix) + module + std::string(kBSuffix);
}

Error config_error(std::string_view message) {
  return Error{fmt::format("adapter_config.json: {}", message)};
}

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

// The base modules the config's target_modules select, in target_modules order (an entry
// matching several modules contributes them in the base model's order).
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

// The config fields, checked; the target modules are resolved against the base model later.
struct CheckedConfig {
  int rank = 0;
  float alpha = 0.0f;
  bool use_rslora = false;
  std::string base_model;
};

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

// Copies a row-major [rows, cols] tensor into an Eigen matrix, refusing non-finite values.
Result<Eigen::MatrixXf> to_matrix(const SafetensorsFile& file, const TensorView& tensor,
                                  std::int64_t rows, std::int64_t cols) {
  auto values = file.to_f32(tensor);
  if (!values) return Error{"adapter_model.safetensors: " + values.error().message};
  Eigen::MatrixXf matrix(static_cast<Eigen::Index>(rows), static_cast<Eigen::Index>(cols));
  std::size_t i = 0;
  for (Eigen::Index row = 0; row < matrix.rows(); ++row) {
    for (Eigen::Index col = 0; col < matrix.cols(); ++col, ++i) {
      const float value = values.value()[i];
      if (!std::isfinite(value)) {
        return Error{
            fmt::format("adapter_model.safetensors: tensor '{}' has a non-finite value ({}) "
                        "at [{}, {}]",
                        tensor.name, value, row, col)};
      }
      matrix(row, col) = value;
    }
  }
  return matrix;
}

Result<Eigen::MatrixXf> lora_matrix(const SafetensorsFile& file, const std::string& name,
                                    std::int64_t rows, std::int64_t cols, std::string_view role) {
  const auto* tensor = file.find(name);
  if (tensor == nullptr) {
    return Error{fmt::format("adapter_model.safetensors: missing tensor '{}' ({})", name, role)};
  }
  if (tensor->shape != std::vector<std::int64_t>{rows, cols}) {
    return Error{
        fmt::format("adapter_model.safetensors: tensor '{}' has shape [{}], expected [{}, {}] "
                    "({})",
                    name, fmt::join(tensor->shape, ", "), rows, cols, role)};
  }
  return to_matrix(file, *tensor, rows, cols);
}

// Every check on a parsed config and tensor file; shared by the directory and packed forms.
Result<LoraAdapter> build_adapter(const ordered_json& config, const SafetensorsFile& tensors,
                                  const BaseModelShape& base, const AdapterLimits& limits) {
  auto checked = check_config(config, limits);
  if (!checked) return checked.error();
  if (checked->base_model != base.name) {
    return config_error(fmt::format("base_model_name_or_path '{}' is not the base model '{}'",
                                    checked->base_model, base.name));
  }
  auto modules = resolve_target_modules(config.at("target_modules"), base);
  if (!modules) return modules.error();

  LoraAdapter adapter;
  adapter.config.rank = checked->rank;
  adapter.config.alpha = checked->alpha;
  adapter.config.use_rslora = checked->use_rslora;
  adapter.config.target_modules = modules.value();
  adapter.config.base_model_name_or_path = checked->base_model;
  const float scaling = adapter.config.scaling();

  std::set<std::string> expected;
  for (const auto& module : modules.value()) {
    const auto* shape = base.find(module);
    const auto* a = tensors.find(a_name(module));
    // The rank in the tensors must be the config's r (the scaling is computed from r).
    if (a != nullptr && a->shape.size() == 2 && a->shape[0] != checked->rank) {
      return Error{
          fmt::format("adapter_model.safetensors: tensor '{}' has rank {} but the config's r "
                      "is {}",
                      a->name, a->shape[0], checked->rank)};
    }
    auto a_matrix =
        lora_matrix(tensors, a_name(module), checked->rank, shape->in, "lora_A is [r, in]");
    if (!a_matrix) return a_matrix.error();
    auto b_matrix =
        lora_matrix(tensors, b_name(module), shape->out, checked->rank, "lora_B is [out, r]");
    if (!b_matrix) return b_matrix.error();
    expected.insert(a_name(module));
    expected.insert(b_name(module));
    adapter.deltas.push_back(
        {module, std::move(a_matrix.value()), std::move(b_matrix.value()), scaling});
  }
  for (const auto& tensor : tensors.tensors) {
    if (!expected.contains(tensor.name)) {
      return Error{
          fmt::format("adapter_model.safetensors: extra tensor '{}' (not the lora_A/lora_B of "
                      "a target module)",
                      tensor.name)};
    }
  }
  return adapter;
}

Result<ordered_json> parse_config_text(std::string_view text) {
  auto parsed = parse_json_unique_keys(text);
  if (!parsed) return config_error(parsed.error().message);
  if (!parsed->is_object()) return config_error("not a JSON object");
  return parsed;
}

// The config JSON PEFT would write for this adapter (keys sorted by nlohmann::json).
Result<nlohmann::json> config_json(const LoraAdapter& adapter) {
  const auto& config = adapter.config;
  if (config.rank <= 0)
    return Error{fmt::format("LoRA adapter: rank {} is not positive", config.rank)};
  if (!std::isfinite(config.alpha) || config.alpha <= 0.0f) {
    return Error{
        fmt::format("LoRA adapter: alpha {} is not a positive finite number", config.alpha)};
  }
  if (config.target_modules.empty()) return Error{"LoRA adapter: no target modules"};
  if (config.target_modules.size() != adapter.deltas.size()) {
    return Error{fmt::format("LoRA adapter: {} target modules but {} deltas",
                             config.target_modules.size(), adapter.deltas.size())};
  }
  const float scaling = config.scaling();
  std::set<std::string> modules;
  for (std::size_t i = 0; i < adapter.deltas.size(); ++i) {
    const auto& delta = adapter.deltas[i];
    if (delta.module != config.target_modules[i] || !modules.insert(delta.module).second) {
      return Error{
          fmt::format("LoRA adapter: delta {} is for module '{}', target_modules[{}] is '{}' "
                      "(deltas must follow target_modules, each once)",
                      i, delta.module, i, config.target_modules[i])};
    }
    if (delta.a.rows() != config.rank || delta.b.cols() != config.rank) {
      return Error{
          fmt::format("LoRA adapter: module '{}': A is [{}, {}] and B is [{}, {}], rank {} "
                      "expected",
                      delta.module, delta.a.rows(), delta.a.cols(), delta.b.rows(), delta.b.cols(),
                      config.rank)};
    }
    if (!delta.a.allFinite() || !delta.b.allFinite()) {
      return Error{fmt::format("LoRA adapter: module '{}' has non-finite weights", delta.module)};
    }
    // The file stores alpha and r only: a delta scaled otherwise would load as another adapter.
    if (std::abs(delta.scaling - scaling) > 1e-6f * std::max(1.0f, std::abs(scaling))) {
      return Error{
          fmt::format("LoRA adapter: module '{}' has scaling {} but the config gives {} "
                      "(alpha {}, r {}{})",
                      delta.module, delta.scaling, scaling, config.alpha, config.rank,
                      config.use_rslora ? ", rsLoRA" : "")};
    }
  }
  nlohmann::json json = {
      {"alpha_pattern", nlohmann::json::object()},
      {"base_model_name_or_path", config.base_model_name_or_path},
      {"bias", "none"},
      {"fan_in_fan_out", false},
      {"inference_mode", true},
      {"init_lora_weights", true},
      {"lora_alpha", config.alpha},
      {"lora_dropout", 0.0},
      {"modules_to_save", nullptr},
      {"peft_type", "LORA"},
      {"r", config.rank},
      {"rank_pattern", nlohmann::json::object()},
      {"revision", nullptr},
      {"target_modules", config.target_modules},
      {"task_type", "CAUSAL_LM"},
      {"use_dora", false},
      {"use_rslora", config.use_rslora},
  };
  return json;
}

std::vector<TensorToWrite> adapter_tensors(const LoraAdapter& adapter) {
  std::vector<TensorToWrite> tensors;
  auto row_major = [](const Eigen::MatrixXf& matrix) {
    std::vector<float> values;
    values.reserve(static_cast<std::size_t>(matrix.size()));
    for (Eigen::Index row = 0; row < matrix.rows(); ++row) {
      for (Eigen::Index col = 0; col < matrix.cols(); ++col) values.push_back(matrix(row, col));
    }
    return values;
  };
  for (const auto& delta : adapter.deltas) {
    tensors.push_back({a_name(delta.module), {delta.a.rows(), delta.a.cols()}, row_major(delta.a)});
    tensors.push_back({b_name(delta.module), {delta.b.rows(), delta.b.cols()}, row_major(delta.b)});
  }
  return tensors;
}

Status check_write_dtype(DType dtype) {
  if (dtype != DType::kF32 && dtype != DType::kF16 && dtype != DType::kBF16) {
    return fail(
        fmt::format("PEFT adapter: cannot write dtype {} (F32, F16 or BF16)", dtype_name(dtype)));
  }
  return ok_status();
}

Result<std::string> dump_json(const nlohmann::json& json, int indent) {
  try {
    return json.dump(indent);
  } catch (const nlohmann::json::exception& e) {
    return Error{fmt::format("PEFT adapter: cannot encode the config: {}", e.what())};
  }
}

const std::map<std::string, std::string> kWeightsMetadata = {{"format", "pt"}};

}  // namespace

Result<LoraAdapter> parse_packed_adapter(ByteView packed, const BaseModelShape& base,
                                         const AdapterLimits& limits) {
  auto file = parse_safetensors(packed);
  if (!file) return Error{"packed adapter: " + file.error().message};
  auto config_text = file->metadata.find(kPackedConfigKey);
  if (config_text == file->metadata.end()) {
    return Error{fmt::format("packed adapter: no __metadata__ \"{}\" (the adapter config)",
                             kPackedConfigKey)};
  }
  auto config = parse_config_text(config_text->second);
  if (!config) return Error{"packed adapter: " + config.error().message};
  auto adapter = build_adapter(config.value(), file.value(), base, limits);
  if (!adapter) return Error{"packed adapter: " + adapter.error().message};
  return adapter;
}

Status check_packed_adapter(ByteView packed, const AdapterLimits& limits) {
  auto file = parse_safetensors(packed);
  if (!file) return fail("packed adapter: " + file.error().message);
  auto config_text = file->metadata.find(kPackedConfigKey);
  if (config_text == file->metadata.end()) {
    return fail(fmt::format("packed adapter: no __metadata__ \"{}\" (the adapter config)",
                            kPackedConfigKey));
  }
  auto config = parse_config_text(config_text->second);
  if (!config) return fail("packed adapter: " + config.error().message);
  if (auto checked = check_config(config.value(), limits); !checked)
    return fail("packed adapter: " + checked.error().message);
  return ok_status();
}

Result<LoraAdapter> load_peft_adapter(const std::filesystem::path& dir_or_packed_file,
                                      const BaseModelShape& base, const AdapterLimits& limits) {
  std::error_code ec;
  if (!std::filesystem::is_directory(dir_or_packed_file, ec)) {
    auto bytes = read_small_file(dir_or_packed_file, std::size_t{4} << 30);
    if (!bytes) return bytes.error();
    auto adapter = parse_packed_adapter(as_bytes(bytes.value()), base, limits);
    if (!adapter)
      return Error{fmt::format("{}: {}", dir_or_packed_file.string(), adapter.error().message)};
    return adapter;
  }
  const auto where = dir_or_packed_file.string();
  auto text = read_small_file(dir_or_packed_file / kConfigFile, kMaxPeftConfigSize);
  if (!text) return text.error();
  auto config = parse_config_text(text.value());
  if (!config) return Error{fmt::format("{}: {}", where, config.error().message)};
  auto tensors = read_safetensors_file(dir_or_packed_file / kWeightsFile);
  if (!tensors) return tensors.error();
  auto adapter = build_adapter(config.value(), tensors.value(), base, limits);
  if (!adapter) return Error{fmt::format("{}: {}", where, adapter.error().message)};
  return adapter;
}

Status write_peft_adapter(const std::filesystem::path& dir, const LoraAdapter& adapter,
                          DType dtype) {
  if (auto status = check_write_dtype(dtype); !status) return status;
  auto json = config_json(adapter);
  if (!json) return json.error();
  auto text = dump_json(json.value(), 2);
  if (!text) return text.error();
  text.value().push_back('\n');
  auto weights = encode_safetensors(adapter_tensors(adapter), kWeightsMetadata, dtype);
  if (!weights) return weights.error();
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return fail(fmt::format("cannot create {}: {}", dir.string(), ec.message()));
  const WriteOptions overwrite{.mode = 0644, .overwrite = true};
  if (auto status = write_file_atomic(dir / kWeightsFile, weights.value(), overwrite); !status) {
    return status;
  }
  return write_file_atomic(dir / kConfigFile, as_bytes(text.value()), overwrite);
}

Result<Bytes> pack_peft_adapter(const std::filesystem::path& dir) {
  const auto where = dir.string();
  auto text = read_small_file(dir / kConfigFile, kMaxPeftConfigSize);
  if (!text) return text.error();
  auto config = parse_config_text(text.value());
  if (!config) return Error{fmt::format("{}: {}", where, config.error().message)};
  auto tensors = read_safetensors_file(dir / kWeightsFile);
  if (!tensors) return tensors.error();
  SafetensorsFile packed = std::move(tensors.value());
  // The original layout (offset order), each tensor's dtype and bytes unchanged.
  std::stable_sort(packed.tensors.begin(), packed.tensors.end(),
                   [](const TensorView& a, const TensorView& b) {
                     return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
                   });
  // The canonical dump: sorted keys (nlohmann::json), no whitespace.
  nlohmann::json canonical;
  try {
    canonical = nlohmann::json::parse(config.value().dump());
  } catch (const nlohmann::json::exception& e) {
    return Error{fmt::format("{}: adapter_config.json: {}", where, e.what())};
  }
  auto dumped = dump_json(canonical, -1);
  if (!dumped) return dumped.error();
  packed.metadata[kPackedConfigKey] = std::move(dumped.value());
  auto bytes = encode_safetensors(packed);
  if (!bytes) return Error{fmt::format("{}: {}", where, bytes.error().message)};
  return bytes;
}

Result<Bytes> encode_packed_adapter(const LoraAdapter& adapter, DType dtype) {
  if (auto status = check_write_dtype(dtype); !status) return status.error();
  auto json = config_json(adapter);
  if (!json) return json.error();
  auto text = dump_json(json.value(), -1);
  if (!text) return text.error();
  auto metadata = kWeightsMetadata;
  metadata[kPackedConfigKey] = std::move(text.value());
  return encode_safetensors(adapter_tensors(adapter), metadata, dtype);
}

Status write_packed_adapter(const std::filesystem::path& file, const LoraAdapter& adapter,
                            DType dtype) {
  auto bytes = encode_packed_adapter(adapter, dtype);
  if (!bytes) return bytes.error();
  return write_file_atomic(file, bytes.value(), {.mode = 0644, .overwrite = true});
}

}  // namespace bftgate::validation
