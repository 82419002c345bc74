#include "bftgate/config/card.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "bftgate/io/file_io.hpp"
#include "test_dirs.hpp"

namespace bftgate {
namespace {

using crypto::KeyRole;
using crypto::SecretKey;
using nlohmann::json;

// A whole cluster's cards, each made with its own key: n validators, the operator, the store and
// one node.
struct Members {
  std::vector<SecretKey> keys;
  std::vector<MemberCard> cards;

  explicit Members(std::size_t validators) {
    for (std::size_t i = 0; i < validators; ++i)
      add(KeyRole::kValidator, static_cast<std::uint32_t>(i),
          "tcp://10.0.0." + std::to_string(i + 1) + ":7000", static_cast<std::uint16_t>(9100 + i));
    add(KeyRole::kOperator, 0, "", 0);
    add(KeyRole::kStore, 0, "tcp://10.0.1.1:7100", 0);
    add(KeyRole::kNode, 0, "tcp://10.0.2.1:7200", 0);
  }
  void add(KeyRole role, std::uint32_t id, std::string endpoint, std::uint16_t metrics) {
    keys.push_back(SecretKey::generate());
    cards.push_back(MemberCard::make(role, id, std::move(endpoint), metrics, keys.back()));
  }
};

std::string assemble_error(const std::vector<MemberCard>& cards,
                           FaultModel model = FaultModel::kBft) {
  auto config = assemble_cluster(cards, {.cluster_id = "prod", .fault_model = model, .epoch = 1});
  return config.ok() ? std::string("assembled") : config.error().message;
}

TEST(MemberCard, EachRoleRoundTripsThroughJsonWithAProofThatVerifies) {
  Members members(4);
  for (const auto& card : members.cards) {
    ASSERT_TRUE(card.check().ok()) << card.check().error().message;
    auto again = MemberCard::parse(card.to_json().dump());
    ASSERT_TRUE(again.ok()) << again.error().message;
    EXPECT_EQ(again->canonical_bytes(), card.canonical_bytes());
    EXPECT_EQ(again->proof, card.proof);
  }
}

TEST(MemberCard, ATamperedCardIsRefusedWhateverField) {
  Members members(4);
  const auto good = members.cards[1].to_json();
  struct Case {
    const char* name;
    std::function<void(json&)> mutate;
    const char* reason;
  } cases[] = {
      {"endpoint", [](json& j) { j["endpoint"] = "tcp://10.9.9.9:7000"; }, "proof of possession"},
      {"id", [](json& j) { j["id"] = 3; }, "proof of possession"},
      {"role", [](json& j) { j["role"] = "node"; }, "node 1: "},
      {"metrics port", [](json& j) { j["metrics_port"] = 9200; }, "proof of possession"},
      {"another key", [](json& j) { j["public_key"] = SecretKey::generate().public_key().hex(); },
       "proof of possession"},
      {"short proof", [](json& j) { j["proof"] = "abcd"; }, "card.proof: must be 128 hex"},
      {"unknown role", [](json& j) { j["role"] = "admin"; }, "card.role"},
      {"unknown field", [](json& j) { j["weight"] = 1; }, "unknown field 'weight'"},
      {"no key", [](json& j) { j.erase("public_key"); }, "missing field 'public_key'"},
      {"other format", [](json& j) { j["format"] = "v0"; }, "card.format"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    auto j = good;
    c.mutate(j);
    auto card = MemberCard::from_json(j);
    ASSERT_FALSE(card.ok());
    EXPECT_NE(card.error().message.find(c.reason), std::string::npos) << card.error().message;
  }
}

TEST(MemberCard, TruncatedAndNonUtf8CardsAreRefused) {
  Members members(4);
  auto text = members.cards[0].to_json().dump();
  auto truncated = MemberCard::parse(text.substr(0, text.size() / 2));
  ASSERT_FALSE(truncated.ok());
  EXPECT_NE(truncated.error().message.find("not valid JSON"), std::string::npos);

  auto bad_utf8 = text;
  bad_utf8.replace(bad_utf8.find("10.0.0.1"), 1, "\xff");
  auto refused = MemberCard::parse(bad_utf8);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("UTF-8"), std::string::npos) << refused.error().message;
}

TEST(MemberCard, FieldsMustFitTheRole) {
  auto key = SecretKey::generate();
  EXPECT_FALSE(MemberCard::make(KeyRole::kOperator, 0, "tcp://10.0.0.1:1", 0, key).check().ok());
  EXPECT_FALSE(MemberCard::make(KeyRole::kStore, 0, "", 0, key).check().ok());
  EXPECT_FALSE(MemberCard::make(KeyRole::kStore, 0, "tcp://10.0.0.1:1", 9100, key).check().ok());
  EXPECT_FALSE(MemberCard::make(KeyRole::kOperator, 2, "", 0, key).check().ok());
  EXPECT_FALSE(MemberCard::make(KeyRole::kValidator, 0, "http://x", 0, key).check().ok());
}

TEST(MemberCard, SavedWithoutSecretsAndLoadedBack) {
  TempDir dir;
  Members members(4);
  auto path = dir.path() / "validator-0.card.json";
  ASSERT_TRUE(members.cards[0].save(path).ok());
  EXPECT_FALSE(members.cards[0].save(path).ok());  // no overwrite unless asked
  auto loaded = MemberCard::load(path);
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  EXPECT_EQ(loaded->public_key, members.cards[0].public_key);
  auto text = read_small_file(path, 1 << 16);
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(text->find("seed"), std::string::npos);
}

TEST(AssembleCluster, CardsAloneMakeAValidConfigWithAStableFingerprint) {
  Members members(4);
  auto config = assemble_cluster(members.cards, {.cluster_id = "prod"});
  ASSERT_TRUE(config.ok()) << config.error().message;
  EXPECT_EQ(config->n(), 4u);
  EXPECT_EQ(config->f, 1u);
  EXPECT_EQ(config->quorum(), 3u);
  EXPECT_EQ(config->operator_public_key, members.cards[4].public_key);
  EXPECT_EQ(config->artifact_store_endpoint, "tcp://10.0.1.1:7100");
  EXPECT_EQ(config->artifact_store_public_key, members.cards[5].public_key);
  ASSERT_EQ(config->inference_nodes.size(), 1u);
  EXPECT_EQ(config->inference_nodes[0].public_key, members.cards[6].public_key);
  EXPECT_EQ(config->validators[2].metrics_port, 9102);

  // The same cards in another order give the same config; the fingerprint survives a reload.
  auto reversed = members.cards;
  std::reverse(reversed.begin(), reversed.end());
  auto again = assemble_cluster(reversed, {.cluster_id = "prod"});
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->fingerprint(), config->fingerprint());
  auto reloaded = ClusterConfig::parse(config->to_json().dump());
  ASSERT_TRUE(reloaded.ok()) << reloaded.error().message;
  EXPECT_EQ(reloaded->fingerprint(), config->fingerprint());
  EXPECT_TRUE(config->fingerprint().starts_with("sha256:"));
  // Anything else, another fingerprint.
  auto other = assemble_cluster(members.cards, {.cluster_id = "prod", .epoch = 2});
  ASSERT_TRUE(other.ok());
  EXPECT_NE(other->fingerprint(), config->fingerprint());
}

TEST(AssembleCluster, RefusesEachBadSetOfCardsWithAReason) {
  {
    Members members(4);
    members.cards[2].endpoint = "tcp://10.9.9.9:7000";  // tampered after signing
    EXPECT_NE(assemble_error(members.cards).find("validator 2: the proof of possession"),
              std::string::npos);
  }
  {
    Members members(4);
    members.cards.push_back(MemberCard::make(KeyRole::kValidator, 9, "tcp://10.0.0.9:7000", 0,
                                             members.keys[0]));  // validator 0's key again
    EXPECT_NE(assemble_error(members.cards).find("same public key"), std::string::npos);
  }
  {
    Members members(4);
    members.add(KeyRole::kValidator, 1, "tcp://10.0.0.8:7000", 0);
    EXPECT_NE(assemble_error(members.cards).find("two cards for validator 1"), std::string::npos);
  }
  {
    Members members(4);
    members.add(KeyRole::kNode, 5, "tcp://10.0.0.1:07000", 0);  // validator 0's endpoint
    EXPECT_NE(assemble_error(members.cards).find("same endpoint"), std::string::npos);
  }
  {
    Members members(5);
    EXPECT_NE(assemble_error(members.cards).find("n = 3f+1"), std::string::npos);
    EXPECT_EQ(assemble_error(members.cards, FaultModel::kCft), "assembled");
  }
  {
    Members members(4);
    members.cards.erase(members.cards.begin() + 5);  // the store
    EXPECT_NE(assemble_error(members.cards).find("no store card"), std::string::npos);
  }
  {
    Members members(4);
    members.cards.erase(members.cards.begin() + 4);  // the operator
    EXPECT_NE(assemble_error(members.cards).find("no operator card"), std::string::npos);
  }
  {
    Members members(4);
    members.add(KeyRole::kOperator, 0, "", 0);
    EXPECT_NE(assemble_error(members.cards).find("two cards for the operator"), std::string::npos);
  }
}

}  // namespace
}  // namespace bftgate
