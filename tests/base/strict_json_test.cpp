#include "bftgate/base/strict_json.hpp"

#include <gtest/gtest.h>

#include <string>

namespace bftgate {
namespace {

bool contains(const std::string& text, std::string_view part) {
  return text.find(part) != std::string::npos;
}

// What the validator's query handler needed: its error text must go into a JSON reply.
void expect_safe_to_dump(const std::string& text) {
  EXPECT_NO_THROW((void)nlohmann::json(text).dump()) << "not valid UTF-8: " << printable(text);
}

TEST(StrictJson, ParsesOrdinaryDocuments) {
  auto parsed =
      parse_json(R"({"query": "status", "query_id": 7, "list": [1, 2.5, null, true, "x"]})");
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ((*parsed)["query"], "status");
  EXPECT_EQ((*parsed)["list"].size(), 5u);
  auto ordered = parse_ordered_json(R"({"b": 1, "a": 2})");
  ASSERT_TRUE(ordered.ok());
  EXPECT_EQ(ordered->begin().key(), "b");  // insertion order kept
}

TEST(StrictJson, DuplicateKeysAreRefusedAtAnyDepth) {
  auto top = parse_json(R"({"f": 1, "fault_model": "bft", "f": 3})");
  ASSERT_FALSE(top.ok());
  EXPECT_TRUE(contains(top.error().message, "duplicate key 'f'")) << top.error().message;
  EXPECT_FALSE(parse_json(R"({"a": [{"k": 1, "k": 2}]})").ok());
  EXPECT_FALSE(parse_ordered_json(R"({"a": {"k": 1, "k": 1}})").ok());
  EXPECT_TRUE(parse_json(R"({"a": {"k": 1}, "b": {"k": 1}})").ok());  // same key, different objects
}

TEST(StrictJson, InvalidUtf8IsRefusedAndTheErrorIsSafeToDump) {
  // The 6-byte packet's body: one byte that is not UTF-8.
  auto bare = parse_json("\xff");
  ASSERT_FALSE(bare.ok());
  expect_safe_to_dump(bare.error().message);
  auto in_string = parse_json("{\"query\": \"st\xc3\x28tus\"}");
  ASSERT_FALSE(in_string.ok());
  expect_safe_to_dump(in_string.error().message);
  EXPECT_TRUE(contains(in_string.error().message, "\\x")) << in_string.error().message;
  EXPECT_TRUE(
      parse_json("{\"name\": \"caf\xc3\xa9 \xe2\x82\xac\"}").ok());  // valid multi-byte UTF-8
}

TEST(StrictJson, LimitsAreEnforcedBeforeTheDocumentIsBuilt) {
  JsonLimits limits{.max_bytes = 100, .max_depth = 3, .max_values = 10};
  auto big = parse_json(std::string(101, ' '), limits);
  ASSERT_FALSE(big.ok());
  EXPECT_TRUE(contains(big.error().message, "over the limit of 100")) << big.error().message;
  EXPECT_TRUE(parse_json("[[[1]]]", limits).ok());
  auto deep = parse_json("[[[[1]]]]", limits);
  ASSERT_FALSE(deep.ok());
  EXPECT_TRUE(contains(deep.error().message, "nested deeper than 3")) << deep.error().message;
  auto many = parse_json("[1,2,3,4,5,6,7,8,9,10,11]", limits);
  ASSERT_FALSE(many.ok());
  EXPECT_TRUE(contains(many.error().message, "more than 10 JSON values")) << many.error().message;
  // A deeply nested document far over the depth limit is refused without recursion trouble.
  std::string nested(200'000, '[');
  EXPECT_FALSE(
      parse_json(nested + std::string(200'000, ']'), JsonLimits{.max_bytes = 1 << 20}).ok());
}

TEST(StrictJson, SyntaxErrorsSayWhere) {
  auto truncated = parse_json(R"({"query": )");
  ASSERT_FALSE(truncated.ok());
  EXPECT_TRUE(contains(truncated.error().message, "invalid JSON near byte"))
      << truncated.error().message;
  EXPECT_FALSE(parse_json("").ok());
  EXPECT_FALSE(parse_json("{} {}").ok());
}

TEST(StrictJson, PrintableKeepsUtf8AndEscapesEverythingElse) {
  EXPECT_EQ(printable("plain text"), "plain text");
  EXPECT_EQ(printable("caf\xc3\xa9"), "caf\xc3\xa9");
  EXPECT_EQ(printable("a\xff"
                      "b"),
            "a\\xffb");
  EXPECT_EQ(printable("line\nbreak"), "line\\x0abreak");
  EXPECT_EQ(printable("\xed\xa0\x80"), "\\xed\\xa0\\x80");  // a UTF-16 surrogate is not UTF-8
  EXPECT_EQ(printable("\xc0\xaf"), "\\xc0\\xaf");           // overlong
  EXPECT_EQ(printable(std::string(1000, 'x'), 10), std::string(10, 'x') + "...");
  expect_safe_to_dump(printable("\x01\x00\x03\x00\x02\xff"));
}

TEST(StrictJson, DumpJsonNeverThrows) {
  nlohmann::json value = {{"reason", std::string("bad \xff byte")}};
  EXPECT_THROW((void)value.dump(), nlohmann::json::exception);
  std::string text;
  EXPECT_NO_THROW(text = dump_json(value));
  EXPECT_TRUE(parse_json(text).ok());
}

}  // namespace
}  // namespace bftgate
