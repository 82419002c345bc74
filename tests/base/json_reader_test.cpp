#include "bftgate/base/json_reader.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "bftgate/base/strict_json.hpp"

namespace bftgate {
namespace {

using nlohmann::json;

json parsed(std::string_view text) {
  auto j = parse_json(text);
  EXPECT_TRUE(j.ok()) << text;
  return j.ok() ? *j : json();
}

TEST(JsonObjectReader, ReadsEachTypeAndTheFallbacksOfAbsentFields) {
  auto j = parsed(R"({"name": "a", "n": 7, "x": 0.5, "on": true, "list": [1], "sub": {}})");
  JsonObjectReader r(j, "thing", {"name", "n", "x", "on", "list", "sub", "absent"});
  EXPECT_EQ(r.string("name"), "a");
  EXPECT_EQ(r.unsigned_int("n", 7), 7u);
  EXPECT_EQ(r.number("x"), 0.5);
  EXPECT_TRUE(r.boolean("on"));
  EXPECT_EQ(r.array("list").size(), 1u);
  EXPECT_TRUE(r.object("sub").is_object());
  EXPECT_EQ(r.string_or("absent", "d"), "d");
  EXPECT_EQ(r.unsigned_or("absent", 3), 3u);
  EXPECT_EQ(r.number_or("absent", 1.5), 1.5);
  EXPECT_FALSE(r.boolean_or("absent", false));
  EXPECT_TRUE(r.array_or_empty("absent").empty());
  EXPECT_EQ(r.optional_object("absent"), nullptr);
  EXPECT_TRUE(r.ok()) << r.error();
}

TEST(JsonObjectReader, UnknownAndMissingFieldsAreRefusedWithThePath) {
  auto j = parsed(R"({"id": 1, "weight": 2})");
  JsonObjectReader unknown(j, "validators[0]", {"id"});
  EXPECT_EQ(unknown.error(), "validators[0]: unknown field 'weight'");

  JsonObjectReader missing(j, "validators[0]", {"id", "weight", "endpoint"});
  missing.string("endpoint");
  EXPECT_EQ(missing.error(), "validators[0]: missing field 'endpoint'");

  const auto not_object_json = parsed("[1]");
  JsonObjectReader not_object(not_object_json, "config", {});
  EXPECT_EQ(not_object.error(), "config: expected an object");
}

TEST(JsonObjectReader, UnsignedIntegersAreNeverFloatsOrNegativeAndRespectTheirMaximum) {
  for (const char* text : {R"({"n": -1})", R"({"n": 2.5})", R"({"n": 1e30})", R"({"n": "3"})"}) {
    const auto r_json = parsed(text);
    JsonObjectReader r(r_json, "t", {"n"});
    r.unsigned_int("n");
    EXPECT_EQ(r.error(), "t.n: expected a non-negative integer") << text;
  }
  const auto too_big_json = parsed(R"({"n": 1024})");
  JsonObjectReader too_big(too_big_json, "t", {"n"});
  too_big.unsigned_int("n", 1023);
  EXPECT_EQ(too_big.error(), "t.n: 1024 exceeds the maximum 1023");
  // A value built in code may hold a non-negative integer as a signed one.
  const auto built_json = json{{"n", 4}};
  JsonObjectReader built(built_json, "t", {"n"});
  EXPECT_EQ(built.unsigned_int("n"), 4u);
  EXPECT_TRUE(built.ok());
}

TEST(JsonObjectReader, NumbersAreFiniteAndNonNegativeOnesRefuseNaN) {
  const auto infinite_json = json{{"x", std::numeric_limits<double>::infinity()}};
  JsonObjectReader infinite(infinite_json, "t", {"x"});
  infinite.number("x");
  EXPECT_EQ(infinite.error(), "t.x: expected a number");
  const auto negative_json = parsed(R"({"x": -0.1})");
  JsonObjectReader negative(negative_json, "t", {"x"});
  negative.non_negative_or("x", 1);
  EXPECT_EQ(negative.error(), "t.x: must be a finite number >= 0");
  const auto above_one_json = parsed(R"({"p": 1.5})");
  JsonObjectReader above_one(above_one_json, "t", {"p"});
  above_one.probability_or("p", 0);
  EXPECT_EQ(above_one.error(), "t.p: must be a probability in [0, 1]");
  EXPECT_FALSE(is_finite_non_negative(std::nan("")));
  EXPECT_FALSE(is_finite_non_negative(-1));
  EXPECT_TRUE(is_finite_non_negative(0));
}

TEST(JsonObjectReader, TheFirstProblemIsKeptAndLaterReadsGiveDefaults) {
  const auto r_json = parsed(R"({"a": "x", "b": 3})");
  JsonObjectReader r(r_json, "", {"a", "b"});
  EXPECT_EQ(r.unsigned_int("a"), 0u);
  EXPECT_EQ(r.unsigned_int("b"), 0u);  // readable, but a problem came first
  EXPECT_EQ(r.error(), "a: expected a non-negative integer");
  EXPECT_FALSE(r.status().ok());
}

TEST(JsonObjectReader, AnOptionalObjectMayBeNullButNotAnotherType) {
  const auto null_is_absent_json = parsed(R"({"o": null})");
  JsonObjectReader null_is_absent(null_is_absent_json, "t", {"o"});
  EXPECT_EQ(null_is_absent.optional_object("o"), nullptr);
  EXPECT_TRUE(null_is_absent.ok());
  const auto wrong_json = parsed(R"({"o": 1})");
  JsonObjectReader wrong(wrong_json, "t", {"o"});
  EXPECT_EQ(wrong.optional_object("o"), nullptr);
  EXPECT_EQ(wrong.error(), "t.o: expected an object or null");
}

TEST(JsonObjectReader, AnUnknownFieldNameIsPrintedSafely) {
  const auto r_json = parsed("{\"\\u001b[2Jx\": 1}");
  JsonObjectReader r(r_json, "t", {});
  EXPECT_EQ(r.error().find('\x1b'), std::string::npos) << r.error();
}

}  // namespace
}  // namespace bftgate
