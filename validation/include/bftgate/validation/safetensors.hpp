// A strict safetensors reader and writer (https://huggingface.co/docs/safetensors): 8-byte
// little-endian header length N; N bytes of JSON: name -> {"dtype", "shape", "data_offsets":
// [begin, end]} plus an optional "__metadata__" object of string -> string; then the byte buffer.
// Refused, each with its reason: a header over 100 MB or past the file, JSON that is not an
// object, unknown keys or dtypes, a shape with a negative dimension or an overflowing element
// count, offsets that are not contiguous from 0 (in offset order), a tensor whose byte length is
// not elements x dtype size, a buffer not covered exactly, duplicate names, non-string metadata.
// The header must start with '{'; trailing spaces (writers pad to 8-byte alignment) are accepted,
// nothing else around the object. A shape [] is a scalar (1 element); a zero dimension makes 0
// elements (begin == end). Dtypes outside DType (U16, U32, U64, F8_*) are refused as unsupported.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "bftgate/base/bytes.hpp"
#include "bftgate/base/result.hpp"

namespace bftgate::validation {

// Every dtype the format names is parsed (so sizes are checked); to_f32 converts F32/F16/BF16.
enum class DType : std::uint8_t { kF64, kF32, kF16, kBF16, kI64, kI32, kI16, kI8, kU8, kBool };

std::string_view dtype_name(DType dtype);  // "F32", "F16", ...
std::size_t dtype_size(DType dtype);       // bytes per element

inline constexpr std::uint64_t kMaxSafetensorsHeader = 100ull * 1000 * 1000;

struct TensorView {
  std::string name;
  DType dtype = DType::kF32;
  std::vector<std::int64_t> shape;
  std::uint64_t begin = 0;  // offsets into the buffer after the header
  std::uint64_t end = 0;

  // The product of the dimensions (1 for a scalar []); UINT64_MAX when a dimension is negative
  // or the product overflows (a parsed file never has either).
  std::uint64_t element_count() const;
};

struct SafetensorsFile {
  std::map<std::string, std::string> metadata;
  std::vector<TensorView> tensors;  // in header order
  Bytes buffer;                     // the data after the header

  const TensorView* find(const std::string& name) const;
  // The tensor's values as float (F32, F16 and BF16; any other dtype is an error).
  Result<std::vector<float>> to_f32(const TensorView& tensor) const;
};

Result<SafetensorsFile> parse_safetensors(ByteView file);
// Reads the whole file (refusing files over max_size bytes) and parses it.
Result<SafetensorsFile> read_safetensors_file(const std::filesystem::path& path,
                                              std::uint64_t max_size = 4ull << 30);

struct TensorToWrite {
  std::string name;
  std::vector<std::int64_t> shape;
  std::vector<float> values;  // row-major, element_count(shape) values
};

// Writes F32, F16 (round to nearest even) or BF16. Tensors are laid out in the given order; the
// header JSON has sorted keys, so equal inputs give equal bytes (and equal digests).
Result<Bytes> encode_safetensors(const std::vector<TensorToWrite>& tensors,
                                 const std::map<std::string, std::string>& metadata, DType dtype);
// encode_safetensors, then written atomically (temp file, fsync, rename).
Status write_safetensors_file(const std::filesystem::path& path,
                              const std::vector<TensorToWrite>& tensors,
                              const std::map<std::string, std::string>& metadata, DType dtype);

// A parsed file again, each tensor's dtype, shape and bytes unchanged, laid out in
// file.tensors order behind a canonical header (sorted keys); used to pack PEFT adapters.
Result<Bytes> encode_safetensors(const SafetensorsFile& file);

// JSON text through the strict reader (crypto/strict_json.hpp: distinct keys at any depth,
// UTF-8, bounded depth) with insertion order kept. Shared by the safetensors header and the
// PEFT config readers.
Result<nlohmann::ordered_json> parse_json_unique_keys(std::string_view text);

// IEEE half and bfloat16 conversions (round to nearest even when narrowing).
float f16_to_f32(std::uint16_t bits);
std::uint16_t f32_to_f16(float value);
float bf16_to_f32(std::uint16_t bits);
std::uint16_t f32_to_bf16(float value);

}  // namespace bftgate::validation
