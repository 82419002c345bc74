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
#include "safetensors_test_support.hpp"
#include "test_dirs.hpp"

namespace bftgate::validation {
namespace {

using namespace safetensors_testing;  // the shared helpers (safetensors_test_support.hpp)

std::string header_of(const Bytes& file) {
  std::uint64_t length = 0;
  for (int i = 0; i < 8; ++i)
    length |= static_cast<std::uint64_t>(file[static_cast<std::size_t>(i)]) << (8 * i);
  return std::string(file.begin() + 8, file.begin() + 8 + static_cast<std::ptrdiff_t>(length));
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
