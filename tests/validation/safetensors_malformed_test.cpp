#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <random>

#include "bftgate/io/file_io.hpp"
#include "bftgate/validation/safetensors.hpp"
#include "json_file.hpp"
#include "safetensors_test_support.hpp"
#include "test_dirs.hpp"

namespace bftgate::validation {
namespace {

using namespace safetensors_testing;  // the shared helpers (safetensors_test_support.hpp)

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

}  // namespace
}  // namespace bftgate::validation
