// PEFT LoRA adapters: adapter_config.json + adapter_model.safetensors, and the packed one-file
// form. Loading checks the config, the tensors and the base model's shapes, and refuses the PEFT
// features bftgate does not implement instead of silently applying a different adapter.
#include "bftgate/validation/peft.hpp"

#include <fmt/format.h>

#include <cmath>
#include <nlohmann/json.hpp>
#include <set>

#include "bftgate/io/file_io.hpp"
#include "peft_internal.hpp"

namespace bftgate::validation {

using nlohmann::ordered_json;

namespace {

using namespace peft_detail;  // the shared parts (peft_internal.hpp)

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

}  // namespace bftgate::validation
