// The one codec of validators' register answers: what the daemon encodes decodes to the same
// typed values, a malformed answer is refused with a reason, and the agreement line groups
// validators by the state they hold.
#include "bftgate/runtime/net/register_json.hpp"

#include <gtest/gtest.h>

#include "../register/register_test_support.hpp"

namespace bftgate::runtime {
namespace {

using bft::testing::RegisterTestCluster;
using nlohmann::json;

// A status answer from a real register: version 1 released (with its certificate) and version 2
// rejected by FAIL votes.
StatusAnswer status_of_a_real_register(const RegisterTestCluster& cluster) {
  bft::AdapterRegister reg(cluster.config());
  bft::testing::submit(reg, cluster.propose(1));
  for (std::uint32_t id = 0; id < cluster.quorum(); ++id)
    bft::testing::submit(reg, cluster.vote(id, *reg.entry(1), bft::Verdict::kPass));
  bft::testing::submit(reg, cluster.propose(2));
  for (std::uint32_t id = 0; id < cluster.quorum(); ++id)
    bft::testing::submit(reg, cluster.vote(id, *reg.entry(2), bft::Verdict::kFail));
  StatusAnswer status;
  status.validator = 2;
  status.view = 3;
  status.voting = false;
  status.last_executed = 9;
  status.stable_seq = 8;
  fill_register(status, reg);
  status.validations[1] = {
      .pass = true, .reason = "ok", .metrics = {{"qa", {{"acc", 0.5}}}}, .validation_s = 1.25};
  return status;
}

TEST(RegisterJson, AStatusAnswerDecodesToWhatWasEncoded) {
  RegisterTestCluster cluster(4);
  auto status = status_of_a_real_register(cluster);
  auto decoded = status_from_json(to_json(status));
  ASSERT_TRUE(decoded.ok()) << decoded.error().message;
  EXPECT_EQ(to_json(*decoded), to_json(status));
  ASSERT_EQ(decoded->entries.size(), 3u);  // genesis, 1, 2
  const auto* released = decoded->entry(1);
  ASSERT_NE(released, nullptr);
  EXPECT_EQ(released->state, bft::EntryState::kReleaseCommit);
  ASSERT_TRUE(released->certificate.has_value());
  EXPECT_TRUE(crypto::verify(*released->certificate, cluster.config().validator_set()).ok());
  EXPECT_EQ(released->pass_votes(), cluster.quorum());
  EXPECT_EQ(decoded->entry(2)->state, bft::EntryState::kRejected);
  EXPECT_FALSE(decoded->voting);
  EXPECT_EQ(decoded->validation(1)->validation_s, 1.25);
  // The digest a vote carries is over the kept object exactly as the validator wrote it.
  EXPECT_EQ(decoded->validation(1)->digest(), status.validations[1].digest());
}

// A status answer is one page of the register, however long it grew (the whole register made
// answers of 250 KB that clients who did not read them piled up in a validator's memory).
TEST(RegisterJson, AStatusAnswerIsOnePageOfTheRegister) {
  RegisterTestCluster cluster(4);
  bft::AdapterRegister reg(cluster.config());
  for (std::uint64_t v = 1; v <= 100; ++v) bft::testing::submit(reg, cluster.propose(v));
  ASSERT_EQ(reg.entries().size(), 101u);  // with the genesis entry
  StatusAnswer newest;
  fill_register(newest, reg);
  ASSERT_EQ(newest.entries.size(), StatusPage::kDefaultLimit);
  EXPECT_EQ(newest.entries.back().version, 100u);
  EXPECT_EQ(newest.entries.front().version, 69u);
  EXPECT_EQ(newest.entries_omitted, 69u);
  StatusAnswer older;
  fill_register(older, reg, {.before = 10, .limit = 64});
  ASSERT_EQ(older.entries.size(), 10u);
  EXPECT_EQ(older.entries.front().version, 0u);
  EXPECT_EQ(older.entries.back().version, 9u);
  EXPECT_EQ(older.entries_omitted, 0u);
  auto decoded = status_from_json(to_json(newest));
  ASSERT_TRUE(decoded.ok()) << decoded.error().message;
  EXPECT_EQ(decoded->entries_omitted, 69u);
  // The page a query asks for, and the pages no query may ask for.
  auto page = StatusPage::from_query(StatusPage{.before = 7, .limit = 3}.to_query());
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->before, std::optional<std::uint64_t>(7));
  EXPECT_EQ(page->limit, 3u);
  EXPECT_FALSE(StatusPage::from_query(json{{"limit", 65}}).ok());
  EXPECT_FALSE(StatusPage::from_query(json{{"limit", 0}}).ok());
  EXPECT_FALSE(StatusPage::from_query(json{{"before", "7"}}).ok());
}

TEST(RegisterJson, MalformedAnswersAreRefusedWithTheField) {
  RegisterTestCluster cluster(4);
  auto good = to_json(status_of_a_real_register(cluster));
  const auto refusal = [](json answer) {
    auto decoded = status_from_json(answer);
    return decoded.ok() ? std::string("accepted") : decoded.error().message;
  };
  EXPECT_NE(refusal(json("garbage")).find("status: expected an object"), std::string::npos);
  auto no_view = good;
  no_view.erase("view");
  EXPECT_NE(refusal(no_view).find("status: missing field 'view'"), std::string::npos);
  auto bad_state = good;
  bad_state["register"]["entries"][1]["state"] = "SHIPPED";
  EXPECT_NE(refusal(bad_state).find("unknown state"), std::string::npos);
  auto bad_digest = good;
  bad_digest["register"]["head_hash"] = "zz";
  EXPECT_NE(refusal(bad_digest).find("head_hash"), std::string::npos);
  auto negative = good;
  negative["last_executed"] = -1;
  EXPECT_NE(refusal(negative).find("last_executed"), std::string::npos);
  auto forged_certificate = good;
  forged_certificate["register"]["entries"][1]["certificate"] = json{{"version", 1}};
  EXPECT_NE(refusal(forged_certificate).find("certificate"), std::string::npos);
  auto bad_key = good;
  bad_key["validations"]["one"] = good["validations"]["1"];
  EXPECT_NE(refusal(bad_key).find("kept validation"), std::string::npos);
}

TEST(RegisterJson, AReleaseAnswerIsAnOfferAndNoReleaseIsVersionZero) {
  RegisterTestCluster cluster(4);
  bft::AdapterRegister reg(cluster.config());
  bft::testing::submit(reg, cluster.propose(1));
  for (std::uint32_t id = 0; id < cluster.quorum(); ++id)
    bft::testing::submit(reg, cluster.vote(id, *reg.entry(1), bft::Verdict::kPass));
  auto offer = offer_from_json(3, release_answer_json(3, reg.latest_release()));
  ASSERT_TRUE(offer.ok()) << offer.error().message;
  EXPECT_EQ(offer->from, 3u);
  EXPECT_EQ(offer->version, 1u);
  EXPECT_EQ(offer->artifact_digest, reg.entry(1)->artifact_digest);
  EXPECT_TRUE(offer->certificate.has_value());
  auto none = offer_from_json(0, release_answer_json(0, nullptr));
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->version, 0u);
  EXPECT_FALSE(offer_from_json(0, json{{"validator", 0}}).ok());
}

StatusAnswer holding(const std::string& head, const std::string& log, std::uint64_t executed) {
  StatusAnswer answer;
  answer.head_hash = crypto::sha256(as_bytes(head));
  answer.log_head_hash = crypto::sha256(as_bytes(log));
  answer.last_executed = executed;
  return answer;
}

TEST(Agreement, AllTheSame) {
  auto agreement = agreement_of(
      {{0, holding("h", "l", 5)}, {1, holding("h", "l", 5)}, {2, holding("h", "l", 5)}});
  EXPECT_TRUE(agreement.agree);
  ASSERT_EQ(agreement.groups.size(), 1u);
  EXPECT_EQ(agreement.groups[0].validators, (std::vector<bft::ReplicaId>{0, 1, 2}));
  EXPECT_FALSE(agreement_of({}).agree);
}

TEST(Agreement, ALogThatDiffersUnderTheSameHeadIsShown) {
  // The divergence that went unseen: the same head, different operation logs.
  auto agreement = agreement_of({{0, holding("h", "l", 53)},
                                 {1, holding("h", "l", 53)},
                                 {2, holding("h", "other", 52)},
                                 {3, holding("h", "l", 53)}});
  EXPECT_FALSE(agreement.agree);
  ASSERT_EQ(agreement.groups.size(), 2u);
  EXPECT_EQ(agreement.groups[0].validators, (std::vector<bft::ReplicaId>{0, 1, 3}));
  EXPECT_EQ(agreement.groups[1].validators, (std::vector<bft::ReplicaId>{2}));
  EXPECT_EQ(agreement.groups[1].log_head_hash, crypto::sha256(as_bytes(std::string("other"))));
  EXPECT_EQ(agreement.groups[1].last_executed, (std::vector<std::uint64_t>{52}));
  EXPECT_EQ(agreement.to_json()["groups"][1]["last_executed"], json::array({52}));
}

}  // namespace
}  // namespace bftgate::runtime
