// libFuzzer target: the strict safetensors reader, parse_safetensors.
//
// Properties: never crashes or throws; a refusal has a reason; an accepted file's tensors lie
// inside the buffer and cover it exactly, each with elements x dtype size bytes; float tensors
// convert to exactly element_count values; re-encoding an accepted file gives a file that parses
// to the same metadata, tensors and bytes, and re-encoding reaches a fixed point.
#include <cstddef>
#include <cstdint>
#include <string>

#include "bftgate/validation/safetensors.hpp"
#include "fuzz_support.hpp"

using bftgate::Bytes;
using bftgate::ByteView;
using bftgate::fuzz::fail;
namespace validation = bftgate::validation;

namespace {

Bytes tensor_bytes(const validation::SafetensorsFile& file, const validation::TensorView& tensor) {
  return Bytes(file.buffer.begin() + static_cast<std::ptrdiff_t>(tensor.begin),
               file.buffer.begin() + static_cast<std::ptrdiff_t>(tensor.end));
}

void check_accepted(const validation::SafetensorsFile& file, ByteView input) {
  std::uint64_t covered = 0;
  for (const auto& tensor : file.tensors) {
    if (tensor.begin > tensor.end || tensor.end > file.buffer.size()) {
      fail("an accepted tensor lies outside the buffer", input);
    }
    const std::uint64_t count = tensor.element_count();
    if (count != 0 && count * validation::dtype_size(tensor.dtype) / count !=
                          validation::dtype_size(tensor.dtype)) {
      fail("an accepted tensor's byte length overflows", input);
    }
    if (count * validation::dtype_size(tensor.dtype) != tensor.end - tensor.begin) {
      fail("an accepted tensor's byte length is not elements x dtype size", input);
    }
    if (file.find(tensor.name) != &tensor)
      fail("an accepted file has two tensors with one name", input);
    covered += tensor.end - tensor.begin;
    auto values = file.to_f32(tensor);
    const bool is_float = tensor.dtype == validation::DType::kF32 ||
                          tensor.dtype == validation::DType::kF16 ||
                          tensor.dtype == validation::DType::kBF16;
    if (values.ok() != is_float) fail("to_f32 accepts exactly the float dtypes", input);
    if (values.ok() && values->size() != count)
      fail("to_f32 returned another element count", input);
    if (!values.ok() && values.error().message.empty())
      fail("to_f32 refused without a reason", input);
  }
  if (covered != file.buffer.size())
    fail("an accepted file's tensors do not cover the buffer", input);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const ByteView input(data, size);
  auto parsed = validation::parse_safetensors(input);
  if (!parsed) {
    if (parsed.error().message.empty()) fail("parse_safetensors refused without a reason", input);
    return 0;
  }
  check_accepted(parsed.value(), input);

  auto encoded = validation::encode_safetensors(parsed.value());
  if (!encoded) fail("an accepted file does not re-encode: " + encoded.error().message, input);
  auto reparsed = validation::parse_safetensors(encoded.value());
  if (!reparsed) fail("a re-encoded file is refused: " + reparsed.error().message, input);
  if (reparsed->metadata != parsed->metadata) fail("re-encoding changed the metadata", input);
  if (reparsed->tensors.size() != parsed->tensors.size())
    fail("re-encoding changed the tensors", input);
  for (const auto& tensor : parsed->tensors) {
    const auto* again = reparsed->find(tensor.name);
    if (again == nullptr || again->dtype != tensor.dtype || again->shape != tensor.shape ||
        tensor_bytes(reparsed.value(), *again) != tensor_bytes(parsed.value(), tensor)) {
      fail("re-encoding changed tensor '" + tensor.name + "'", input);
    }
  }
  // The header lists tensors sorted by name, so after one more round (which lays them out in
  // that order) the bytes are a fixed point.
  auto sorted = validation::encode_safetensors(reparsed.value());
  if (!sorted) fail("a re-encoded file does not re-encode", input);
  auto sorted_parsed = validation::parse_safetensors(sorted.value());
  if (!sorted_parsed) fail("a twice re-encoded file is refused", input);
  auto fixed_point = validation::encode_safetensors(sorted_parsed.value());
  if (!fixed_point || fixed_point.value() != sorted.value())
    fail("re-encoding is not idempotent", input);
  return 0;
}
