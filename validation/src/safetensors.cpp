// The strict safetensors reader (see safetensors.hpp for the rules; the writer is
// safetensors_write.cpp). Every size is computed with overflow checks: the header and its numbers
// are untrusted input.
#include "bftgate/validation/safetensors.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>

#include "bftgate/base/strict_json.hpp"
#include "bftgate/io/file_io.hpp"
#include "safetensors_internal.hpp"

namespace bftgate::validation {

using nlohmann::ordered_json;

namespace {

using namespace safetensors_detail;  // the shared parts (safetensors_internal.hpp)

struct DTypeInfo {
  DType dtype;
  std::string_view name;
  std::size_t size;
};
constexpr DTypeInfo kDTypes[] = {
    {DType::kF64, "F64", 8},   {DType::kF32, "F32", 4}, {DType::kF16, "F16", 2},
    {DType::kBF16, "BF16", 2}, {DType::kI64, "I64", 8}, {DType::kI32, "I32", 4},
    {DType::kI16, "I16", 2},   {DType::kI8, "I8", 1},   {DType::kU8, "U8", 1},
    {DType::kBool, "BOOL", 1},
};

std::optional<DType> dtype_from_name(std::string_view name) {
  for (const auto& info : kDTypes) {
    if (info.name == name) return info.dtype;
  }
  return std::nullopt;
}

// A JSON number that is a non-negative integer (nlohmann gives "-0" the signed type).
std::optional<std::uint64_t> as_unsigned(const ordered_json& value) {
  if (value.is_number_unsigned()) return value.get<std::uint64_t>();
  if (value.is_number_integer() && value.get<std::int64_t>() >= 0) {
    return static_cast<std::uint64_t>(value.get<std::int64_t>());
  }
  return std::nullopt;
}

Result<TensorView> parse_tensor_entry(const std::string& name, const ordered_json& entry) {
  auto refuse = [&name](std::string_view rule) {
    return Error{fmt::format("safetensors: tensor '{}': {}", name, rule)};
  };
  if (!entry.is_object()) return refuse("its entry is not an object");
  for (const auto& item : entry.items()) {
    if (item.key() != "dtype" && item.key() != "shape" && item.key() != "data_offsets") {
      return refuse(
          fmt::format("unknown key '{}' (allowed: dtype, shape, data_offsets)", item.key()));
    }
  }
  TensorView view;
  view.name = name;

  auto dtype_it = entry.find("dtype");
  if (dtype_it == entry.end()) return refuse("no dtype");
  if (!dtype_it->is_string()) return refuse("dtype is not a string");
  auto dtype = dtype_from_name(dtype_it->get_ref<const std::string&>());
  if (!dtype) {
    return refuse(fmt::format("unsupported dtype '{}'", dtype_it->get_ref<const std::string&>()));
  }
  view.dtype = *dtype;

  auto shape_it = entry.find("shape");
  if (shape_it == entry.end()) return refuse("no shape");
  if (!shape_it->is_array()) return refuse("shape is not an array");
  for (const auto& dim : *shape_it) {
    if (dim.is_number_integer() && !dim.is_number_unsigned() && dim.get<std::int64_t>() < 0) {
      return refuse(fmt::format("negative dimension {} in shape", dim.get<std::int64_t>()));
    }
    auto value = as_unsigned(dim);
    if (!value)
      return refuse(fmt::format("dimension {} is not a non-negative integer", dim.dump()));
    if (*value > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
      return refuse(fmt::format("dimension {} is larger than 2^63 - 1", *value));
    }
    view.shape.push_back(static_cast<std::int64_t>(*value));
  }

  auto offsets_it = entry.find("data_offsets");
  if (offsets_it == entry.end()) return refuse("no data_offsets");
  if (!offsets_it->is_array() || offsets_it->size() != 2) {
    return refuse("data_offsets is not an array of two integers [begin, end]");
  }
  auto begin = as_unsigned((*offsets_it)[0]);
  auto end = as_unsigned((*offsets_it)[1]);
  if (!begin || !end)
    return refuse("data_offsets holds something other than non-negative integers");
  if (*end < *begin)
    return refuse(fmt::format("data_offsets [{}, {}] end before begin", *begin, *end));
  view.begin = *begin;
  view.end = *end;

  auto count = checked_element_count(view.shape);
  if (!count)
    return refuse(fmt::format("element count of shape {} overflows", shape_text(view.shape)));
  auto bytes = checked_mul(*count, dtype_size(view.dtype));
  if (!bytes)
    return refuse(fmt::format("byte length of shape {} overflows", shape_text(view.shape)));
  if (view.end - view.begin != *bytes) {
    return refuse(fmt::format(
        "byte length {} (data_offsets [{}, {}]) is not {} elements x {} bytes ({})",
        view.end - view.begin, view.begin, view.end, *count, dtype_size(view.dtype), *bytes));
  }
  return view;
}

Result<std::map<std::string, std::string>> parse_metadata(const ordered_json& value) {
  if (!value.is_object()) return Error{"safetensors: __metadata__ is not an object"};
  std::map<std::string, std::string> metadata;
  for (const auto& item : value.items()) {
    if (!item.value().is_string()) {
      return Error{fmt::format("safetensors: __metadata__ '{}' is not a string", item.key())};
    }
    metadata.emplace(item.key(), item.value().get<std::string>());
  }
  return metadata;
}

// Offsets contiguous from 0 in offset order, covering the buffer exactly. Zero-size tensors
// (begin == end) sort before a tensor starting at the same offset.
Status check_layout(const std::vector<TensorView>& tensors, std::uint64_t buffer_size) {
  std::vector<const TensorView*> by_offset;
  by_offset.reserve(tensors.size());
  for (const auto& tensor : tensors) by_offset.push_back(&tensor);
  std::sort(by_offset.begin(), by_offset.end(), [](const TensorView* a, const TensorView* b) {
    if (a->begin != b->begin) return a->begin < b->begin;
    if (a->end != b->end) return a->end < b->end;
    return a->name < b->name;
  });
  std::uint64_t expected = 0;
  for (const auto* tensor : by_offset) {
    if (tensor->begin != expected) {
      return fail(fmt::format(
          "safetensors: tensor '{}': data_offsets [{}, {}] {} (offsets must be contiguous from 0: "
          "expected begin {})",
          tensor->name, tensor->begin, tensor->end,
          tensor->begin > expected ? "leave a gap" : "overlap the previous tensor", expected));
    }
    expected = tensor->end;
  }
  if (expected != buffer_size) {
    if (expected > buffer_size) {
      return fail(
          fmt::format("safetensors: data_offsets end at {} but the buffer has only {} bytes",
                      expected, buffer_size));
    }
    return fail(fmt::format(
        "safetensors: the buffer has {} bytes but the tensors cover only {} ({} trailing bytes)",
        buffer_size, expected, buffer_size - expected));
  }
  return ok_status();
}

}  // namespace

std::string_view dtype_name(DType dtype) {
  for (const auto& info : kDTypes) {
    if (info.dtype == dtype) return info.name;
  }
  return "?";
}

std::size_t dtype_size(DType dtype) {
  for (const auto& info : kDTypes) {
    if (info.dtype == dtype) return info.size;
  }
  return 0;
}

std::uint64_t TensorView::element_count() const {
  return checked_element_count(shape).value_or(std::numeric_limits<std::uint64_t>::max());
}

const TensorView* SafetensorsFile::find(const std::string& name) const {
  for (const auto& tensor : tensors) {
    if (tensor.name == name) return &tensor;
  }
  return nullptr;
}

Result<std::vector<float>> SafetensorsFile::to_f32(const TensorView& tensor) const {
  if (!is_float_dtype(tensor.dtype)) {
    return Error{fmt::format("tensor '{}': dtype {} is not F32, F16 or BF16", tensor.name,
                             dtype_name(tensor.dtype))};
  }
  auto count = checked_element_count(tensor.shape);
  auto bytes = count ? checked_mul(*count, dtype_size(tensor.dtype)) : std::nullopt;
  if (!bytes || tensor.end < tensor.begin || tensor.end > buffer.size() ||
      tensor.end - tensor.begin != *bytes) {
    return Error{fmt::format("tensor '{}': its data_offsets do not match its shape and this buffer",
                             tensor.name)};
  }
  std::vector<float> values(*count);
  const std::uint8_t* data = buffer.data() + tensor.begin;
  for (std::size_t i = 0; i < values.size(); ++i) {
    switch (tensor.dtype) {
      case DType::kF32: {
        std::uint32_t bits = 0;
        for (int b = 3; b >= 0; --b) bits = (bits << 8) | data[4 * i + static_cast<std::size_t>(b)];
        values[i] = std::bit_cast<float>(bits);
        break;
      }
      case DType::kF16:
        values[i] = f16_to_f32(static_cast<std::uint16_t>(data[2 * i] | (data[2 * i + 1] << 8)));
        break;
      default:  // BF16
        values[i] = bf16_to_f32(static_cast<std::uint16_t>(data[2 * i] | (data[2 * i + 1] << 8)));
        break;
    }
  }
  return values;
}

Result<ordered_json> parse_json_unique_keys(std::string_view text) {
  // Headers and configs hold flat objects of tensors: depth 8 is generous; the value count is
  // bounded by the header size limit.
  return parse_ordered_json(text, JsonLimits{.max_bytes = kMaxSafetensorsHeader,
                                             .max_depth = 8,
                                             .max_values = kMaxSafetensorsHeader / 2});
}

Result<SafetensorsFile> parse_safetensors(ByteView file) {
  if (file.size() < kLengthPrefix) {
    return Error{
        fmt::format("safetensors: {} bytes, shorter than the 8-byte header length", file.size())};
  }
  std::uint64_t header_size = 0;
  for (std::size_t i = 0; i < kLengthPrefix; ++i) {
    header_size |= static_cast<std::uint64_t>(file[i]) << (8 * i);
  }
  if (header_size > kMaxSafetensorsHeader) {
    return Error{fmt::format("safetensors: header length {} exceeds the {}-byte limit", header_size,
                             kMaxSafetensorsHeader)};
  }
  if (header_size > file.size() - kLengthPrefix) {
    return Error{
        fmt::format("safetensors: header length {} runs past the end of the file ({} bytes)",
                    header_size, file.size())};
  }
  std::string_view header(reinterpret_cast<const char*>(file.data() + kLengthPrefix),
                          static_cast<std::size_t>(header_size));
  // The format allows trailing spaces (writers pad for alignment) and nothing else around the
  // object: it starts with '{' and, once the spaces are dropped, ends with '}'.
  auto last = header.find_last_not_of(' ');
  if (header.empty() || header.front() != '{' || last == std::string_view::npos ||
      header[last] != '}') {
    return Error{
        "safetensors: the header is not a JSON object (it must start with '{' and end with "
        "'}', padded only with trailing spaces)"};
  }
  auto parsed = parse_json_unique_keys(header.substr(0, last + 1));
  if (!parsed) return Error{"safetensors: header: " + parsed.error().message};
  const ordered_json& json = parsed.value();
  if (!json.is_object()) return Error{"safetensors: the header is not a JSON object"};

  SafetensorsFile result;
  for (const auto& item : json.items()) {
    if (item.key() == kMetadataKey) {
      auto metadata = parse_metadata(item.value());
      if (!metadata) return metadata.error();
      result.metadata = std::move(metadata.value());
      continue;
    }
    auto tensor = parse_tensor_entry(item.key(), item.value());
    if (!tensor) return tensor.error();
    result.tensors.push_back(std::move(tensor.value()));
  }
  auto buffer = file.subspan(kLengthPrefix + static_cast<std::size_t>(header_size));
  if (auto layout = check_layout(result.tensors, buffer.size()); !layout) return layout.error();
  result.buffer.assign(buffer.begin(), buffer.end());
  return result;
}

Result<SafetensorsFile> read_safetensors_file(const std::filesystem::path& path,
                                              std::uint64_t max_size) {
  auto content = read_small_file(path, static_cast<std::size_t>(std::min<std::uint64_t>(
                                           max_size, std::numeric_limits<std::size_t>::max())));
  if (!content) return content.error();
  auto parsed = parse_safetensors(as_bytes(content.value()));
  if (!parsed) return Error{fmt::format("{}: {}", path.string(), parsed.error().message)};
  return parsed;
}

}  // namespace bftgate::validation
