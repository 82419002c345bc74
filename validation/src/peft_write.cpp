// Writing PEFT LoRA adapters: the directory form (adapter_config.json + adapter_model.safetensors)
// and the packed one-file form, each refusing an adapter that would load back as another.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "bftgate/io/file_io.hpp"
#include "bftgate/validation/peft.hpp"
#include "peft_internal.hpp"

namespace bftgate::validation {

using nlohmann::ordered_json;

namespace {

using namespace peft_detail;  // the shared parts (peft_internal.hpp)

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
