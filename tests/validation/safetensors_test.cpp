#include "bftgate/validation/safetensors.hpp"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <random>

#include "bftgate/io/file_io.hpp"
#include "json_file.hpp"
#include "test_dirs.hpp"

namespace bftgate::validation {
namespace {

// A file from a literal header and a zero-filled buffer; the length prefix may lie.
Bytes raw_file(const std::string& header, std::size_t buffer_size,
               std::optional<std::uint64_t> claimed_length = std::nullopt) {
  Bytes out;
  const std::uint64_t length = claimed_length.value_or(header.size());
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<std::uint8_t>(length >> (8 * i)));
  out.insert(out.end(), header.begin(), header.end());
  out.resize(out.size() + buffer_size, 0);
  return out;
}

std::string header_of(const Bytes& file) {
  std::uint64_t length = 0;
  for (int i = 0; i < 8; ++i)
    length |= static_cast<std::uint64_t>(file[static_cast<std::size_t>(i)]) << (8 * i);
  return std::string(file.begin() + 8, file.begin() + 8 + static_cast<std::ptrdiff_t>(length));
}

std::uint32_t bits_of(float value) {
  return std::bit_cast<std::uint32_t>(value);
}

std::vector<TensorToWrite> sample_tensors() {
  return {
      {"layer.weight", {2, 3}, {1.0f, -2.5f, 0.125f, 3.0f, -0.0f, 1024.0f}},
      {"scalar", {}, {7.5f}},
      {"empty", {0, 3}, {}},
      {"bias", {3}, {0.5f, -0.25f, 2.0f}},
  };
}

TEST(Safetensors, F32RoundTripKeepsEveryBit) {
  auto tensors = sample_tensors();
  tensors[0].values[1] = std::numeric_limits<float>::denorm_min();
  tensors[3].values[0] = std::numeric_limits<float>::infinity();
  std::map<std::string, std::string> metadata = {{"format", "pt"}, {"note", "ünïcode"}};
  auto bytes = encode_safetensors(tensors, metadata, DType::kF32);
  ASSERT_TRUE(bytes.ok()) << bytes.error().message;
  auto file = parse_safetensors(bytes.value());
  ASSERT_TRUE(file.ok()) << file.error().message;
  EXPECT_EQ(file->metadata, metadata);
  ASSERT_EQ(file->tensors.size(), tensors.size());
  for (const auto& expected : tensors) {
    const auto* view = file->find(expected.name);
    ASSERT_NE(view, nullptr) << expected.name;
    EXPECT_EQ(view->dtype, DType::kF32);
    EXPECT_EQ(view->shape, expected.shape);
    auto values = file->to_f32(*view);
    ASSERT_TRUE(values.ok()) << values.error().message;
    ASSERT_EQ(values->size(), expected.values.size());
    for (std::size_t i = 0; i < values->size(); ++i) {
      EXPECT_EQ(bits_of((*values)[i]), bits_of(expected.values[i]))
          << expected.name << "[" << i << "]";
    }
  }
}

TEST(Safetensors, ScalarHasOneElementAndZeroDimensionNone) {
  auto bytes = encode_safetensors(sample_tensors(), {}, DType::kF32);
  ASSERT_TRUE(bytes.ok());
  auto file = parse_safetensors(bytes.value());
  ASSERT_TRUE(file.ok()) << file.error().message;
  const auto* scalar = file->find("scalar");
  const auto* empty = file->find("empty");
  ASSERT_TRUE(scalar && empty);
  EXPECT_EQ(scalar->element_count(), 1u);
  EXPECT_EQ(scalar->end - scalar->begin, 4u);
  EXPECT_EQ(empty->element_count(), 0u);
  EXPECT_EQ(empty->begin, empty->end);
  EXPECT_TRUE(file->to_f32(*empty)->empty());
  EXPECT_TRUE(file->metadata.empty());
  EXPECT_EQ(header_of(bytes.value()).find("__metadata__"), std::string::npos);
}

TEST(Safetensors, HalfAndBfloatRoundTripRepresentableValuesExactly) {
  // Every value is exact in both formats, so the round trip must be lossless.
  std::vector<TensorToWrite> tensors = {
      {"w", {2, 2}, {1.0f, -0.5f, 3.0f, 0.0f}},
      {"s", {}, {-2.0f}},
      {"z", {3, 0, 2}, {}},
  };
  for (DType dtype : {DType::kF16, DType::kBF16}) {
    auto bytes = encode_safetensors(tensors, {{"k", "v"}}, dtype);
    ASSERT_TRUE(bytes.ok()) << bytes.error().message;
    auto file = parse_safetensors(bytes.value());
    ASSERT_TRUE(file.ok()) << file.error().message;
    for (const auto& expected : tensors) {
      const auto* view = file->find(expected.name);
      ASSERT_NE(view, nullptr);
      EXPECT_EQ(view->dtype, dtype);
      EXPECT_EQ(view->end - view->begin, expected.values.size() * 2);
      EXPECT_EQ(file->to_f32(*view).value(), expected.values) << dtype_name(dtype);
    }
  }
}

TEST(Safetensors, NarrowingWritesRoundToNearestEven) {
  const float value = 1.0f + std::ldexp(3.0f, -11);  // exact in F32, halfway in F16
  std::vector<TensorToWrite> tensors = {{"x", {1}, {value}}};
  auto f16 = parse_safetensors(encode_safetensors(tensors, {}, DType::kF16).value());
  ASSERT_TRUE(f16.ok());
  EXPECT_EQ(f16->to_f32(f16->tensors[0]).value()[0], 1.0f + std::ldexp(1.0f, -9));
  auto bf16 = parse_safetensors(encode_safetensors(tensors, {}, DType::kBF16).value());
  ASSERT_TRUE(bf16.ok());
  EXPECT_EQ(bf16->to_f32(bf16->tensors[0]).value()[0], 1.0f);
}

TEST(Safetensors, EncodingIsDeterministicWithSortedKeysAndGivenLayout) {
  std::vector<TensorToWrite> tensors = {{"zeta", {1}, {1.0f}}, {"alpha", {2}, {2.0f, 3.0f}}};
  auto first = encode_safetensors(tensors, {{"b", "2"}, {"a", "1"}}, DType::kF32);
  auto second = encode_safetensors(tensors, {{"a", "1"}, {"b", "2"}}, DType::kF32);
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_EQ(first.value(), second.value());
  const auto header = header_of(first.value());
  EXPECT_EQ(header.size() % 8, 0u);  // padded so the buffer is 8-byte aligned
  EXPECT_EQ(header.rfind('}'), header.find_last_not_of(' '));
  EXPECT_LT(header.find("__metadata__"), header.find("\"alpha\""));
  EXPECT_LT(header.find("\"alpha\""), header.find("\"zeta\""));
  auto file = parse_safetensors(first.value());
  ASSERT_TRUE(file.ok());
  const auto* zeta = file->find("zeta");
  const auto* alpha = file->find("alpha");
  EXPECT_EQ(zeta->begin, 0u);  // laid out in the given order, not the header's
  EXPECT_EQ(alpha->begin, 4u);
  EXPECT_EQ(alpha->end, 12u);
}

TEST(Safetensors, ReencodingAParsedFileKeepsDtypesAndBytes) {
  auto bytes = encode_safetensors(sample_tensors(), {{"format", "pt"}}, DType::kBF16);
  auto file = parse_safetensors(bytes.value());
  ASSERT_TRUE(file.ok());
  auto again = encode_safetensors(file.value());
  ASSERT_TRUE(again.ok()) << again.error().message;
  auto reparsed = parse_safetensors(again.value());
  ASSERT_TRUE(reparsed.ok()) << reparsed.error().message;
  EXPECT_EQ(reparsed->metadata, file->metadata);
  for (const auto& tensor : file->tensors) {
    const auto* other = reparsed->find(tensor.name);
    ASSERT_NE(other, nullptr);
    EXPECT_EQ(other->dtype, DType::kBF16);
    EXPECT_EQ(other->shape, tensor.shape);
    EXPECT_EQ(Bytes(reparsed->buffer.begin() + static_cast<std::ptrdiff_t>(other->begin),
                    reparsed->buffer.begin() + static_cast<std::ptrdiff_t>(other->end)),
              Bytes(file->buffer.begin() + static_cast<std::ptrdiff_t>(tensor.begin),
                    file->buffer.begin() + static_cast<std::ptrdiff_t>(tensor.end)));
  }
}

TEST(Safetensors, WriterRefusesInconsistentInput) {
  EXPECT_FALSE(encode_safetensors({{"x", {2, 2}, {1.0f}}}, {}, DType::kF32).ok());
  EXPECT_FALSE(encode_safetensors({{"x", {-1}, {}}}, {}, DType::kF32).ok());
  EXPECT_FALSE(encode_safetensors({{"x", {1}, {1.0f}}, {"x", {1}, {1.0f}}}, {}, DType::kF32).ok());
  EXPECT_FALSE(encode_safetensors({{"__metadata__", {1}, {1.0f}}}, {}, DType::kF32).ok());
  EXPECT_FALSE(encode_safetensors({{"", {1}, {1.0f}}}, {}, DType::kF32).ok());
  auto int_dtype = encode_safetensors({{"x", {1}, {1.0f}}}, {}, DType::kI32);
  ASSERT_FALSE(int_dtype.ok());
  EXPECT_NE(int_dtype.error().message.find("I32"), std::string::npos);
  auto bad_utf8 = encode_safetensors({{"x\xff", {1}, {1.0f}}}, {}, DType::kF32);
  EXPECT_FALSE(bad_utf8.ok());
}

TEST(Safetensors, FilesWrittenAtomicallyAndReadBackWithASizeLimit) {
  TempDir dir;
  const auto path = dir.path() / "model.safetensors";
  ASSERT_TRUE(write_safetensors_file(path, sample_tensors(), {{"a", "b"}}, DType::kF16).ok());
  // Writing again replaces the file (checkpoints are rewritten in place).
  ASSERT_TRUE(write_safetensors_file(path, sample_tensors(), {{"a", "c"}}, DType::kF32).ok());
  auto file = read_safetensors_file(path);
  ASSERT_TRUE(file.ok()) << file.error().message;
  EXPECT_EQ(file->metadata.at("a"), "c");
  EXPECT_EQ(file->find("bias")->dtype, DType::kF32);
  auto limited = read_safetensors_file(path, 16);
  ASSERT_FALSE(limited.ok());
  EXPECT_NE(limited.error().message.find("limit"), std::string::npos);
  EXPECT_FALSE(read_safetensors_file(dir.path() / "missing.safetensors").ok());
  ASSERT_TRUE(write_file_atomic(dir.path() / "bad.safetensors", as_bytes("short")).ok());
  auto bad = read_safetensors_file(dir.path() / "bad.safetensors");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("bad.safetensors"), std::string::npos);
}

TEST(Safetensors, AcceptsWhatTheFormatAllows) {
  // Header order need not be offset order; trailing space padding; any dtype it names.
  auto shuffled =
      parse_safetensors(raw_file(R"({"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]},)"
                                 R"("a":{"data_offsets":[0,4],"shape":[2],"dtype":"I16"}}     )",
                                 8));
  ASSERT_TRUE(shuffled.ok()) << shuffled.error().message;
  ASSERT_EQ(shuffled->tensors.size(), 2u);
  EXPECT_EQ(shuffled->tensors[0].name, "b");  // header order
  EXPECT_EQ(shuffled->tensors[1].dtype, DType::kI16);
  auto not_float = shuffled->to_f32(shuffled->tensors[1]);
  ASSERT_FALSE(not_float.ok());
  EXPECT_NE(not_float.error().message.find("I16"), std::string::npos);

  auto empty = parse_safetensors(raw_file("{}", 0));
  ASSERT_TRUE(empty.ok()) << empty.error().message;
  EXPECT_TRUE(empty->tensors.empty());
  auto metadata_only = parse_safetensors(raw_file(R"({"__metadata__":{"x":"y"}})", 0));
  ASSERT_TRUE(metadata_only.ok());
  EXPECT_EQ(metadata_only->metadata.at("x"), "y");
  // Two zero-size tensors at the same offset, next to a real one.
  auto zeros =
      parse_safetensors(raw_file(R"({"z1":{"dtype":"F32","shape":[0],"data_offsets":[4,4]},)"
                                 R"("z2":{"dtype":"BF16","shape":[5,0],"data_offsets":[4,4]},)"
                                 R"("x":{"dtype":"BOOL","shape":[2,2],"data_offsets":[0,4]}})",
                                 4));
  ASSERT_TRUE(zeros.ok()) << zeros.error().message;
  // A zero dimension makes the count 0 even when the other dimensions' product overflows.
  auto zero_big = parse_safetensors(raw_file(
      R"({"z":{"dtype":"F64","shape":[9223372036854775807,9223372036854775807,0],"data_offsets":[0,0]}})",
      0));
  ASSERT_TRUE(zero_big.ok()) << zero_big.error().message;
}

struct Malformed {
  const char* name;
  Bytes file;
  const char* reason;  // a part of the expected message
};

std::vector<Malformed> malformed_files() {
  const std::string ok_entry = R"({"dtype":"F32","shape":[2],"data_offsets":[0,8]})";
  return {
      {"shorter than the length prefix", Bytes{1, 2, 3}, "shorter than the 8-byte header length"},
      {"header length past the end", raw_file("{}", 0, 64), "runs past the end of the file"},
      {"header length 2^63", raw_file("{}", 0, 1ull << 63), "exceeds the 100000000-byte limit"},
      {"header length just over 100 MB", raw_file("{}", 0, kMaxSafetensorsHeader + 1), "exceeds"},
      {"empty header", raw_file("", 0), "not a JSON object"},
      {"non-object JSON", raw_file("[1,2]", 0), "not a JSON object"},
      {"string JSON", raw_file(R"("{}")", 0), "not a JSON object"},
      {"leading whitespace", raw_file(" {}", 0), "not a JSON object"},
      {"trailing newline", raw_file("{}\n", 0), "padded only with trailing spaces"},
      {"trailing garbage", raw_file("{} x", 0), "not a JSON object"},
      {"truncated JSON", raw_file(R"({"a":})", 0), "invalid JSON"},
      {"two objects", raw_file("{}{}", 0), "invalid JSON"},
      {"invalid UTF-8", raw_file("{\"\xff\":1}", 0), "invalid JSON"},
      {"bad dtype", raw_file(R"({"a":{"dtype":"F8","shape":[2],"data_offsets":[0,2]}})", 2),
       "tensor 'a': unsupported dtype 'F8'"},
      {"lower-case dtype", raw_file(R"({"a":{"dtype":"f32","shape":[2],"data_offsets":[0,8]}})", 8),
       "unsupported dtype 'f32'"},
      {"dtype not a string", raw_file(R"({"a":{"dtype":4,"shape":[2],"data_offsets":[0,8]}})", 8),
       "tensor 'a': dtype is not a string"},
      {"missing dtype", raw_file(R"({"a":{"shape":[2],"data_offsets":[0,8]}})", 8),
       "tensor 'a': no dtype"},
      {"missing shape", raw_file(R"({"a":{"dtype":"F32","data_offsets":[0,8]}})", 8),
       "tensor 'a': no shape"},
      {"missing offsets", raw_file(R"({"a":{"dtype":"F32","shape":[2]}})", 8),
       "tensor 'a': no data_offsets"},
      {"negative dimension",
       raw_file(R"({"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", 8),
       "tensor 'a': negative dimension -2"},
      {"fractional dimension",
       raw_file(R"({"a":{"dtype":"F32","shape":[2.5],"data_offsets":[0,8]}})", 8),
       "not a non-negative integer"},
      {"dimension beyond int64",
       raw_file(R"({"a":{"dtype":"U8","shape":[9223372036854775808],"data_offsets":[0,8]}})", 8),
       "larger than 2^63 - 1"},
      {"shape not an array", raw_file(R"({"a":{"dtype":"F32","shape":2,"data_offsets":[0,8]}})", 8),
       "shape is not an array"},
      {"element count overflows",
       raw_file(R"({"a":{"dtype":"U8","shape":[4294967296,4294967296,2],"data_offsets":[0,8]}})",
                8),
       "tensor 'a': element count of shape [4294967296, 4294967296, 2] overflows"},
      {"byte length overflows",
       raw_file(R"({"a":{"dtype":"F32","shape":[4611686018427387904],"data_offsets":[0,8]}})", 8),
       "tensor 'a': byte length of shape"},
      {"offsets end before begin (out of order)",
       raw_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}})", 8),
       "end before begin"},
      {"offsets not two numbers",
       raw_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0]}})", 8),
       "array of two integers"},
      {"negative offset", raw_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[-8,0]}})", 8),
       "non-negative integers"},
      {"byte length mismatch",
       raw_file(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 8),
       "tensor 'a': byte length 8 (data_offsets [0, 8]) is not 3 elements x 4 bytes (12)"},
      {"gap before the first tensor",
       raw_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})", 12),
       "tensor 'a': data_offsets [4, 12] leave a gap"},
      {"gap between tensors",
       raw_file(
           R"({"a":)" + ok_entry + R"(,"b":{"dtype":"F32","shape":[1],"data_offsets":[12,16]}})",
           16),
       "tensor 'b': data_offsets [12, 16] leave a gap"},
      {"overlapping tensors",
       raw_file(
           R"({"a":)" + ok_entry + R"(,"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
           12),
       "overlap the previous tensor"},
      {"same range twice", raw_file(R"({"a":)" + ok_entry + R"(,"b":)" + ok_entry + "}", 8),
       "tensor 'b': data_offsets [0, 8] overlap"},
      {"trailing bytes not covered", raw_file(R"({"a":)" + ok_entry + "}", 9), "1 trailing bytes"},
      {"buffer too short", raw_file(R"({"a":)" + ok_entry + "}", 7), "the buffer has only 7 bytes"},
      {"duplicate tensor name", raw_file(R"({"a":)" + ok_entry + R"(,"a":)" + ok_entry + "}", 8),
       "duplicate key 'a'"},
      {"duplicate key inside an entry",
       raw_file(R"({"a":{"dtype":"F16","dtype":"F32","shape":[2],"data_offsets":[0,8]}})", 8),
       "duplicate key 'dtype'"},
      {"duplicate metadata key", raw_file(R"({"__metadata__":{"k":"1","k":"2"}})", 0),
       "duplicate key 'k'"},
      {"duplicate metadata object",
       raw_file(R"({"__metadata__":{"k":"1"},"__metadata__":{"k":"2"}})", 0),
       "duplicate key '__metadata__'"},
      {"non-string metadata", raw_file(R"({"__metadata__":{"k":1}})", 0),
       "__metadata__ 'k' is not a string"},
      {"metadata not an object", raw_file(R"({"__metadata__":"x"})", 0),
       "__metadata__ is not an object"},
      {"unknown key in an entry",
       raw_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"extra":1}})", 8),
       "tensor 'a': unknown key 'extra'"},
      {"entry not an object", raw_file(R"({"a":[1]})", 0),
       "tensor 'a': its entry is not an object"},
  };
}

TEST(Safetensors, EveryMalformedFileIsRefusedWithItsReason) {
  for (const auto& bad : malformed_files()) {
    auto parsed = parse_safetensors(bad.file);
    ASSERT_FALSE(parsed.ok()) << bad.name << ": accepted";
    EXPECT_NE(parsed.error().message.find(bad.reason), std::string::npos)
        << bad.name << ": got \"" << parsed.error().message << "\", expected it to contain \""
        << bad.reason << "\"";
  }
}

TEST(Safetensors, DeeplyNestedHeadersAreRefusedWithoutExhaustingTheStack) {
  const std::size_t depth = 200000;
  auto nested = parse_safetensors(
      raw_file(R"({"a":)" + std::string(depth, '[') + std::string(depth, ']') + "}", 0));
  ASSERT_FALSE(nested.ok());
  EXPECT_NE(nested.error().message.find("nested deeper than"), std::string::npos)
      << nested.error().message;
  std::string objects;
  for (std::size_t i = 0; i < depth; ++i) objects += R"({"k":)";
  objects += "1" + std::string(depth, '}');
  auto metadata = parse_safetensors(raw_file(R"({"__metadata__":)" + objects + "}", 0));
  ASSERT_FALSE(metadata.ok());
  EXPECT_NE(metadata.error().message.find("nested deeper than"), std::string::npos)
      << metadata.error().message;
}

TEST(Safetensors, EveryTruncationOfAValidFileIsRefused) {
  auto bytes = encode_safetensors(sample_tensors(), {{"format", "pt"}}, DType::kF16).value();
  for (std::size_t size = 0; size < bytes.size(); ++size) {
    EXPECT_FALSE(parse_safetensors(ByteView(bytes.data(), size)).ok()) << size;
  }
  EXPECT_TRUE(parse_safetensors(bytes).ok());
}

// ---- conversions -------------------------------------------------------------------------

// An independent reading of an IEEE half: (-1)^s x 2^(e-15) x 1.m, or 2^-14 x 0.m.
double half_value(std::uint16_t bits) {
  const int sign = (bits & 0x8000) ? -1 : 1;
  const int exponent = (bits >> 10) & 0x1f;
  const int mantissa = bits & 0x3ff;
  if (exponent == 0x1f) {
    return mantissa ? std::numeric_limits<double>::quiet_NaN()
                    : sign * std::numeric_limits<double>::infinity();
  }
  if (exponent == 0) return sign * std::ldexp(mantissa, -24);
  return sign * std::ldexp(1024 + mantissa, exponent - 25);
}

TEST(HalfConversion, EveryHalfDecodesToItsValue) {
  for (std::uint32_t bits = 0; bits <= 0xffff; ++bits) {
    const auto half = static_cast<std::uint16_t>(bits);
    const float decoded = f16_to_f32(half);
    const double expected = half_value(half);
    if (std::isnan(expected)) {
      EXPECT_TRUE(std::isnan(decoded)) << bits;
      EXPECT_TRUE(std::isnan(f16_to_f32(f32_to_f16(decoded)))) << bits;
      continue;
    }
    ASSERT_EQ(static_cast<double>(decoded), expected) << std::hex << bits;
    ASSERT_EQ(std::signbit(decoded), (bits & 0x8000) != 0) << bits;
    ASSERT_EQ(f32_to_f16(decoded), half) << std::hex << bits;  // exact values survive the trip
  }
}

TEST(HalfConversion, KnownValues) {
  EXPECT_EQ(f32_to_f16(1.0f), 0x3c00);
  EXPECT_EQ(f32_to_f16(-2.0f), 0xc000);
  EXPECT_EQ(f32_to_f16(-0.0f), 0x8000);
  EXPECT_EQ(f32_to_f16(65504.0f), 0x7bff);
  EXPECT_EQ(f32_to_f16(65519.0f), 0x7bff);  // below the halfway point to 65536
  EXPECT_EQ(f32_to_f16(65520.0f), 0x7c00);  // halfway: even is 2^16, out of range: inf
  EXPECT_EQ(f32_to_f16(1e10f), 0x7c00);
  EXPECT_EQ(f32_to_f16(-std::numeric_limits<float>::infinity()), 0xfc00);
  EXPECT_EQ(f32_to_f16(std::ldexp(1.0f, -14)), 0x0400);  // smallest normal
  EXPECT_EQ(f32_to_f16(std::ldexp(1.0f, -24)), 0x0001);  // smallest subnormal
  EXPECT_EQ(f32_to_f16(std::ldexp(1023.0f, -24)), 0x03ff);
  EXPECT_EQ(f32_to_f16(std::ldexp(1.0f, -25)), 0x0000);  // halfway to the first subnormal: even
  EXPECT_EQ(f32_to_f16(std::ldexp(1.5f, -25)), 0x0001);
  EXPECT_EQ(f32_to_f16(std::ldexp(3.0f, -25)), 0x0002);     // 1.5 units: even is 2
  EXPECT_EQ(f32_to_f16(std::ldexp(5.0f, -25)), 0x0002);     // 2.5 units: even is 2
  EXPECT_EQ(f32_to_f16(std::ldexp(2047.0f, -25)), 0x0400);  // rounds up into the normals
  EXPECT_EQ(f32_to_f16(std::numeric_limits<float>::denorm_min()), 0x0000);
  EXPECT_EQ(f32_to_f16(1.0f + std::ldexp(1.0f, -11)), 0x3c00);                          // tie, even
  EXPECT_EQ(f32_to_f16(1.0f + std::ldexp(3.0f, -11)), 0x3c02);                          // tie, even
  EXPECT_EQ(f32_to_f16(1.0f + std::ldexp(1.0f, -11) + std::ldexp(1.0f, -20)), 0x3c01);  // above
  const auto nan = f32_to_f16(std::numeric_limits<float>::quiet_NaN());
  EXPECT_EQ(nan & 0x7c00, 0x7c00);
  EXPECT_NE(nan & 0x03ff, 0);
  // A signalling NaN whose payload lives only in the low bits must not become inf.
  const auto low_payload = f32_to_f16(std::bit_cast<float>(0x7f800001u));
  EXPECT_NE(low_payload & 0x03ff, 0);
  EXPECT_TRUE(std::isinf(f16_to_f32(0x7c00)));
  EXPECT_TRUE(std::isnan(f16_to_f32(0x7e00)));
}

// The nearest half by brute force over every finite half (ties to the even pattern).
std::uint16_t nearest_half(float value) {
  const double x = value;
  if (std::abs(x) >= 65520.0) return x > 0 ? 0x7c00 : 0xfc00;
  std::uint16_t best = 0;
  double best_distance = std::numeric_limits<double>::infinity();
  const std::uint16_t sign = std::signbit(value) ? 0x8000 : 0;
  for (std::uint16_t magnitude = 0; magnitude < 0x7c00; ++magnitude) {
    const auto candidate = static_cast<std::uint16_t>(sign | magnitude);
    const double distance = std::abs(half_value(candidate) - x);
    if (distance < best_distance || (distance == best_distance && (candidate & 1) == 0)) {
      best = candidate;
      best_distance = distance;
    }
  }
  return best;
}

TEST(HalfConversion, RandomFloatsRoundToTheNearestHalf) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> exponent(-27.0f, 17.0f);
  std::uniform_real_distribution<float> mantissa(1.0f, 2.0f);
  for (int i = 0; i < 300; ++i) {
    float value = std::ldexp(mantissa(rng), static_cast<int>(exponent(rng)));
    if (i % 2) value = -value;
    ASSERT_EQ(f32_to_f16(value), nearest_half(value)) << value;
  }
}

TEST(BfloatConversion, EveryBfloatRoundTrips) {
  for (std::uint32_t bits = 0; bits <= 0xffff; ++bits) {
    const auto bf16 = static_cast<std::uint16_t>(bits);
    const float decoded = bf16_to_f32(bf16);
    EXPECT_EQ(bits_of(decoded), bits << 16);
    if (std::isnan(decoded)) {
      EXPECT_TRUE(std::isnan(bf16_to_f32(f32_to_bf16(decoded)))) << bits;
    } else {
      ASSERT_EQ(f32_to_bf16(decoded), bf16) << std::hex << bits;
    }
  }
}

TEST(BfloatConversion, KnownValues) {
  EXPECT_EQ(f32_to_bf16(1.0f), 0x3f80);
  EXPECT_EQ(f32_to_bf16(1.0f + std::ldexp(1.0f, -8)), 0x3f80);  // tie, even
  EXPECT_EQ(f32_to_bf16(1.0f + std::ldexp(3.0f, -8)), 0x3f82);  // tie, even
  EXPECT_EQ(f32_to_bf16(1.0f + std::ldexp(1.0f, -8) + std::ldexp(1.0f, -20)), 0x3f81);
  EXPECT_EQ(f32_to_bf16(std::numeric_limits<float>::max()), 0x7f80);  // rounds up to inf
  EXPECT_EQ(f32_to_bf16(-std::numeric_limits<float>::infinity()), 0xff80);
  EXPECT_EQ(f32_to_bf16(std::bit_cast<float>(0x00008000u)), 0x0000);  // subnormal tie, even
  EXPECT_EQ(f32_to_bf16(std::bit_cast<float>(0x00018000u)), 0x0002);
  EXPECT_EQ(f32_to_bf16(std::bit_cast<float>(0x00008001u)), 0x0001);
  EXPECT_EQ(f32_to_bf16(-0.0f), 0x8000);
  // NaN stays NaN even when rounding the payload would carry into the exponent or drop it.
  for (std::uint32_t nan_bits : {0x7fffffffu, 0x7f800001u, 0xff800001u, 0x7fc00000u}) {
    const auto bf16 = f32_to_bf16(std::bit_cast<float>(nan_bits));
    EXPECT_TRUE(std::isnan(bf16_to_f32(bf16))) << std::hex << nan_bits;
    EXPECT_EQ(bf16 & 0x8000, (nan_bits >> 16) & 0x8000);
  }
}

// ---- the independent fixture (tests/validation/fixtures/make_fixture.py) ------------------

TEST(SafetensorsFixture, ReadsTheFileThePythonScriptWrote) {
  const std::filesystem::path dir = BFTGATE_IO_FIXTURES;
  auto expected = read_json(dir / "tensors.expected.json");
  auto file = read_safetensors_file(dir / "tensors.safetensors");
  ASSERT_TRUE(file.ok()) << file.error().message;
  using Metadata = std::map<std::string, std::string>;
  EXPECT_EQ(file->metadata, expected.at("metadata").get<Metadata>());
  ASSERT_EQ(file->tensors.size(), expected.at("tensors").size());
  std::size_t index = 0;
  for (const auto& tensor : expected.at("tensors")) {
    const auto name = tensor.at("name").get<std::string>();
    const auto& view = file->tensors[index++];
    EXPECT_EQ(view.name, name);  // header order as written
    EXPECT_EQ(dtype_name(view.dtype), tensor.at("dtype").get<std::string>()) << name;
    EXPECT_EQ(view.shape, tensor.at("shape").get<std::vector<std::int64_t>>()) << name;
    EXPECT_EQ(view.begin, tensor.at("data_offsets")[0].get<std::uint64_t>()) << name;
    EXPECT_EQ(view.end, tensor.at("data_offsets")[1].get<std::uint64_t>()) << name;
    auto values = file->to_f32(view);
    ASSERT_TRUE(values.ok()) << values.error().message;
    const auto& wanted = tensor.at("values");
    ASSERT_EQ(values->size(), wanted.size()) << name;
    for (std::size_t i = 0; i < wanted.size(); ++i) {
      if (wanted[i].is_string()) {  // "inf", "-inf", "nan"
        const auto text = wanted[i].get<std::string>();
        if (text == "nan") {
          EXPECT_TRUE(std::isnan((*values)[i])) << name << "[" << i << "]";
        } else {
          EXPECT_EQ((*values)[i], text == "inf" ? std::numeric_limits<float>::infinity()
                                                : -std::numeric_limits<float>::infinity());
        }
      } else {
        EXPECT_EQ(static_cast<double>((*values)[i]), wanted[i].get<double>())
            << name << "[" << i << "]";
      }
    }
  }
}

TEST(SafetensorsFixture, WritesTheSameConversionsAsPython) {
  // Each F16/BF16 value of the fixture was rounded by Python (struct 'e', integer rounding);
  // writing the fixture's source floats must give the fixture's bytes.
  const std::filesystem::path dir = BFTGATE_IO_FIXTURES;
  auto expected = read_json(dir / "tensors.expected.json");
  for (const auto& tensor : expected.at("tensors")) {
    if (!tensor.contains("source_values")) continue;
    const auto dtype_text = tensor.at("dtype").get<std::string>();
    const auto& source = tensor.at("source_values");
    const auto& bits = tensor.at("bits");
    for (std::size_t i = 0; i < source.size(); ++i) {
      const auto value = static_cast<float>(source[i].get<double>());
      const auto written = dtype_text == "F16" ? f32_to_f16(value) : f32_to_bf16(value);
      EXPECT_EQ(written, bits[i].get<std::uint16_t>())
          << tensor.at("name") << "[" << i << "] " << value;
    }
  }
}

}  // namespace
}  // namespace bftgate::validation
