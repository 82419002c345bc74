// The agreement line of `bftgate status`: who holds the same replicated state.
#include <gtest/gtest.h>

#include "bftgate/runtime/register_json.hpp"

namespace bftgate::runtime {
namespace {

using nlohmann::json;

json answer(const std::string& head, const std::string& log, std::uint64_t executed) {
  return {{"last_executed", executed}, {"register", {{"head_hash", head}, {"log_head_hash", log}}}};
}

TEST(Agreement, AllTheSame) {
  auto agreement =
      agreement_of({{0, answer("h", "l", 5)}, {1, answer("h", "l", 5)}, {2, answer("h", "l", 5)}});
  EXPECT_TRUE(agreement["agree"]);
  ASSERT_EQ(agreement["groups"].size(), 1u);
  EXPECT_EQ(agreement["groups"][0]["validators"], json::array({0, 1, 2}));
}

TEST(Agreement, ALogThatDiffersUnderTheSameHeadIsShown) {
  // The divergence that went unseen: the same head, different operation logs.
  auto agreement = agreement_of({{0, answer("h", "l", 53)},
                                 {1, answer("h", "l", 53)},
                                 {2, answer("h", "other", 52)},
                                 {3, answer("h", "l", 53)}});
  EXPECT_FALSE(agreement["agree"]);
  ASSERT_EQ(agreement["groups"].size(), 2u);
  EXPECT_EQ(agreement["groups"][0]["validators"], json::array({0, 1, 3}));  // largest first
  EXPECT_EQ(agreement["groups"][1]["validators"], json::array({2}));
  EXPECT_EQ(agreement["groups"][1]["log_head_hash"], "other");
  EXPECT_EQ(agreement["groups"][1]["last_executed"], json::array({52}));
}

TEST(Agreement, MalformedAnswersFormTheirOwnGroup) {
  auto agreement =
      agreement_of({{0, answer("h", "l", 1)}, {1, json("garbage")}, {2, json::object()}});
  EXPECT_FALSE(agreement["agree"]);
  EXPECT_EQ(agreement["groups"].size(), 2u);
  EXPECT_FALSE(agreement_of({})["agree"]);
}

}  // namespace
}  // namespace bftgate::runtime
