// The deterministic safetensors writer (see safetensors.hpp): sorted header keys, the buffer
// 8-byte aligned, tensors in the given order or, re-encoding a parsed file, its bytes unchanged.
#include <fmt/format.h>

#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "bftgate/io/file_io.hpp"
#include "safetensors_internal.hpp"

namespace bftgate::validation {

namespace {

using namespace safetensors_detail;  // the shared parts (safetensors_internal.hpp)

void put_u64_le(Bytes& out, std::uint64_t value) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<std::uint8_t>(value >> (8 * i)));
}

// The header JSON (sorted keys) padded with spaces so the buffer starts 8-byte aligned, as the
// reference writer does, behind its length.
Result<Bytes> assemble(const nlohmann::json& header, std::size_t buffer_size) {
  std::string text;
  try {
    text = header.dump();
  } catch (const nlohmann::json::exception& e) {
    return Error{fmt::format("safetensors: cannot encode the header: {}", e.what())};
  }
  text.append((kLengthPrefix - text.size() % kLengthPrefix) % kLengthPrefix, ' ');
  if (text.size() > kMaxSafetensorsHeader) {
    return Error{fmt::format("safetensors: the header would be {} bytes, over the {}-byte limit",
                             text.size(), kMaxSafetensorsHeader)};
  }
  Bytes out;
  out.reserve(kLengthPrefix + text.size() + buffer_size);
  put_u64_le(out, text.size());
  out.insert(out.end(), text.begin(), text.end());
  return out;
}

nlohmann::json metadata_json(const std::map<std::string, std::string>& metadata) {
  nlohmann::json object = nlohmann::json::object();
  for (const auto& [key, value] : metadata) object[key] = value;
  return object;
}

}  // namespace

Result<Bytes> encode_safetensors(const std::vector<TensorToWrite>& tensors,
                                 const std::map<std::string, std::string>& metadata, DType dtype) {
  if (!is_float_dtype(dtype)) {
    return Error{fmt::format("safetensors: cannot write dtype {} (F32, F16 or BF16 only)",
                             dtype_name(dtype))};
  }
  const std::size_t element_size = dtype_size(dtype);
  nlohmann::json header = nlohmann::json::object();
  if (!metadata.empty()) header[std::string(kMetadataKey)] = metadata_json(metadata);
  std::set<std::string> names;
  std::uint64_t offset = 0;
  for (const auto& tensor : tensors) {
    if (tensor.name.empty() || tensor.name == kMetadataKey) {
      return Error{fmt::format("safetensors: '{}' cannot name a tensor", tensor.name)};
    }
    if (!names.insert(tensor.name).second) {
      return Error{fmt::format("safetensors: tensor '{}' given twice", tensor.name)};
    }
    auto count = checked_element_count(tensor.shape);
    if (!count) {
      return Error{
          fmt::format("safetensors: tensor '{}': shape {} has a negative dimension or "
                      "overflows",
                      tensor.name, shape_text(tensor.shape))};
    }
    if (*count != tensor.values.size()) {
      return Error{
          fmt::format("safetensors: tensor '{}': shape {} has {} elements but {} values given",
                      tensor.name, shape_text(tensor.shape), *count, tensor.values.size())};
    }
    const std::uint64_t bytes = *count * element_size;  // values.size() bounds it
    header[tensor.name] = {{"dtype", std::string(dtype_name(dtype))},
                           {"shape", tensor.shape},
                           {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  auto out = assemble(header, static_cast<std::size_t>(offset));
  if (!out) return out;
  Bytes& bytes = out.value();
  for (const auto& tensor : tensors) {
    for (float value : tensor.values) {
      switch (dtype) {
        case DType::kF32: {
          auto bits = f32_bits(value);
          for (int b = 0; b < 4; ++b) bytes.push_back(static_cast<std::uint8_t>(bits >> (8 * b)));
          break;
        }
        case DType::kF16: {
          auto bits = f32_to_f16(value);
          bytes.push_back(static_cast<std::uint8_t>(bits));
          bytes.push_back(static_cast<std::uint8_t>(bits >> 8));
          break;
        }
        default: {  // BF16
          auto bits = f32_to_bf16(value);
          bytes.push_back(static_cast<std::uint8_t>(bits));
          bytes.push_back(static_cast<std::uint8_t>(bits >> 8));
          break;
        }
      }
    }
  }
  return out;
}

Result<Bytes> encode_safetensors(const SafetensorsFile& file) {
  nlohmann::json header = nlohmann::json::object();
  if (!file.metadata.empty()) header[std::string(kMetadataKey)] = metadata_json(file.metadata);
  std::set<std::string> names;
  std::uint64_t offset = 0;
  for (const auto& tensor : file.tensors) {
    if (tensor.name.empty() || tensor.name == kMetadataKey || !names.insert(tensor.name).second) {
      return Error{
          fmt::format("safetensors: tensor name '{}' is empty, reserved or repeated", tensor.name)};
    }
    auto count = checked_element_count(tensor.shape);
    auto bytes = count ? checked_mul(*count, dtype_size(tensor.dtype)) : std::nullopt;
    if (!bytes || tensor.end < tensor.begin || tensor.end > file.buffer.size() ||
        tensor.end - tensor.begin != *bytes) {
      return Error{
          fmt::format("safetensors: tensor '{}': data_offsets do not match its shape and "
                      "the buffer",
                      tensor.name)};
    }
    header[tensor.name] = {{"dtype", std::string(dtype_name(tensor.dtype))},
                           {"shape", tensor.shape},
                           {"data_offsets", {offset, offset + *bytes}}};
    offset += *bytes;
  }
  auto out = assemble(header, static_cast<std::size_t>(offset));
  if (!out) return out;
  for (const auto& tensor : file.tensors) {
    out.value().insert(out.value().end(),
                       file.buffer.begin() + static_cast<std::ptrdiff_t>(tensor.begin),
                       file.buffer.begin() + static_cast<std::ptrdiff_t>(tensor.end));
  }
  return out;
}

Status write_safetensors_file(const std::filesystem::path& path,
                              const std::vector<TensorToWrite>& tensors,
                              const std::map<std::string, std::string>& metadata, DType dtype) {
  auto bytes = encode_safetensors(tensors, metadata, dtype);
  if (!bytes) return bytes.error();
  return write_file_atomic(path, bytes.value(), {.mode = 0644, .overwrite = true});
}

}  // namespace bftgate::validation
