// The schedule search: f Byzantine validators under round-bound faults break no safety
// invariant; f+1 do, and the search shrinks what it found to a minimal, replayable scenario.
#include "bftgate/sim/search.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <nlohmann/json.hpp>
#include <set>

#include "property_seeds.hpp"

namespace bftgate::sim {
namespace {

using bftgate::testing::property_seeds;

TEST(Search, DrawsTheSameScheduleForASeedAndItsFaultsStayInTheirBounds) {
  SearchOptions options;
  options.network_faults = 3;
  options.process_faults = 5;
  for (std::uint64_t seed = 1; seed <= 50; ++seed) {
    auto s = draw_schedule(options, seed);
    EXPECT_EQ(s.to_json(), draw_schedule(options, seed).to_json());
    EXPECT_EQ(s.seed, std::optional<std::uint64_t>(seed));
    ASSERT_EQ(s.byzantine.size(), 1u);  // f
    EXPECT_EQ(fault_count(s), 8u);
    for (const auto& m : s.mutations) {
      EXPECT_TRUE(s.byzantine.contains(m.replica));
      EXPECT_LT(m.round.view, options.rounds);
      EXPECT_TRUE(bft::mutation_kinds()[static_cast<std::size_t>(m.kind)].small_scope);
    }
    // The split adapter's one honest PASS is an honest validator's.
    for (const auto& [id, verdict] : s.adapters[1].verdict_by_validator)
      EXPECT_FALSE(s.byzantine.contains(id));
    // Drawn schedules are valid scenarios.
    auto parsed = Scenario::from_json(s.to_json());
    ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  }
}

TEST(Search, FByzantineValidatorsUnderRoundFaultsBreakNoSafetyInvariant) {
  SearchOptions options;
  SearchBudget budget;
  budget.seeds = property_seeds();
  budget.max_findings = 1;
  auto report = search(options, budget);
  EXPECT_EQ(report.schedules, budget.seeds);
  ASSERT_EQ(report.violating, 0u) << report.findings.front().violation;

  options.any_scope = true;
  options.process_faults = 8;
  budget.first_seed = 1'000'000;
  budget.seeds = property_seeds() / 2;
  report = search(options, budget);
  ASSERT_EQ(report.violating, 0u) << report.findings.front().violation;
  EXPECT_GT(report.mutations_by_kind.at("corrupt"), 0u);
}

// Epoch changes drawn among the faults: replaced validators, rotated keys, a set grown by three
// and shrunk back, with round faults and f Byzantine validators around each switch.
TEST(Search, EpochChangesUnderRoundFaultsBreakNoSafetyInvariant) {
  SearchOptions options;
  options.epoch_changes = 2;
  SearchBudget budget;
  budget.first_seed = 2'000'000;
  budget.seeds = property_seeds() / 2;
  budget.max_findings = 1;
  auto report = search(options, budget);
  ASSERT_EQ(report.violating, 0u) << report.findings.front().violation;
  std::set<std::string> drawn;
  std::uint64_t switched = 0;
  for (std::uint64_t seed = 1; seed <= 50; ++seed) {
    auto schedule = draw_schedule(options, seed);
    ASSERT_EQ(schedule.reconfigurations.size(), 2u);
    for (const auto& r : schedule.reconfigurations) drawn.insert(std::string(to_string(r.change)));
    auto parsed = Scenario::from_json(schedule.to_json());
    ASSERT_TRUE(parsed.ok()) << parsed.error().message;
    // The switches happen within the run (round faults and view changes may hold the second
    // one past its end).
    auto result = simulate(schedule, seed);
    if (result.epochs.size() == 2 && result.epochs.back().started_s) ++switched;
  }
  EXPECT_EQ(drawn, (std::set<std::string>{"replace", "rotate", "grow", "shrink"}));
  EXPECT_GE(switched, 40u);
}

TEST(Search, FPlusOneColludersYieldAMinimalCounterexampleThatReplays) {
  SearchOptions options;
  options.byzantine = 2;  // f + 1 at n = 4
  options.process_faults = 6;
  SearchBudget budget;
  budget.seeds = 200;
  budget.max_findings = 2;
  auto report = search(options, budget);
  ASSERT_EQ(report.findings.size(), 2u);
  for (const auto& finding : report.findings) {
    SCOPED_TRACE(finding.violation);
    EXPECT_LE(fault_count(finding.shrunk), finding.faults_drawn);
    EXPECT_TRUE(finding.replay.has_violation(finding.invariant));
    EXPECT_EQ(finding.shrunk.expect_violation, finding.invariant);

    // The scenario file replays the same run, event for event.
    auto parsed = Scenario::from_json(nlohmann::json::parse(finding.shrunk.to_json().dump()));
    ASSERT_TRUE(parsed.ok()) << parsed.error().message;
    ASSERT_TRUE(parsed->seed);
    auto again = simulate(*parsed, *parsed->seed);
    EXPECT_EQ(again.to_json(), finding.replay.to_json());

    // Minimal: leaving out any one fault, or making a Byzantine validator honest, loses it.
    const auto& shrunk = finding.shrunk;
    for (std::size_t i = 0; i < shrunk.mutations.size(); ++i) {
      auto fewer = shrunk;
      fewer.mutations.erase(fewer.mutations.begin() + static_cast<std::ptrdiff_t>(i));
      EXPECT_FALSE(simulate(fewer, finding.seed).has_violation(finding.invariant)) << i;
    }
    for (std::size_t i = 0; i < shrunk.round_partitions.size(); ++i) {
      auto fewer = shrunk;
      fewer.round_partitions.erase(fewer.round_partitions.begin() + static_cast<std::ptrdiff_t>(i));
      EXPECT_FALSE(simulate(fewer, finding.seed).has_violation(finding.invariant)) << i;
    }
    for (const auto& [id, strategy] : shrunk.byzantine) {
      auto fewer = shrunk;
      fewer.byzantine.erase(id);
      std::erase_if(fewer.mutations, [&](const bft::Mutation& m) { return m.replica == id; });
      EXPECT_FALSE(simulate(fewer, finding.seed).has_violation(finding.invariant)) << id;
    }
  }
}

TEST(Search, ShrinkingKeepsOnlyTheFaultsThatMatter) {
  // f+1 colluders flip their votes on the split adapter: two flips certify it; the partitions
  // and the other mutations are noise that the shrinking must take away.
  auto s = search_base_scenario(4);
  s.byzantine = {{0, "mutate"}, {1, "mutate"}};
  s.adapters[1].verdict_by_validator = {{2, Verdict::kPass}};
  s.round_partitions.push_back({{5, std::nullopt}, {{0}, {1, 2, 3}}});
  s.mutations.push_back({0, bft::MutationKind::kDuplicate, {0, 1}, 0, {}, 3});
  s.mutations.push_back({0, bft::MutationKind::kVoteFlip, {}, 2, {}, 0});
  s.mutations.push_back({1, bft::MutationKind::kViewUp, {4, std::nullopt}, 0, {}, 0});
  s.mutations.push_back({1, bft::MutationKind::kVoteFlip, {}, 2, {}, 0});
  s.expect_violation = "register-safety";
  const std::uint64_t seed = 3;
  ASSERT_TRUE(simulate(s, seed).has_violation("register-safety"));
  auto finding = shrink(s, seed, "register-safety", "");
  ASSERT_EQ(finding.shrunk.mutations.size(), 2u);
  EXPECT_TRUE(finding.shrunk.round_partitions.empty());
  for (const auto& m : finding.shrunk.mutations) EXPECT_EQ(m.kind, bft::MutationKind::kVoteFlip);
  EXPECT_EQ(finding.faults_drawn, 5u);
}

TEST(Search, ABaseScenarioWithMutationsForAnHonestValidatorIsRefused) {
  auto j = search_base_scenario(4).to_json();
  j["mutations"] = nlohmann::json::array(
      {nlohmann::json::object({{"validator", 1u}, {"kind", "drop"}, {"view", 0u}})});
  auto parsed = Scenario::from_json(j);
  ASSERT_FALSE(parsed.ok());
  EXPECT_NE(parsed.error().message.find("mutate"), std::string::npos) << parsed.error().message;
  j["byzantine"] = {{"1", "mutate"}};
  auto accepted = Scenario::from_json(j);
  EXPECT_TRUE(accepted.ok()) << accepted.error().message;
  j["mutations"][0]["kind"] = "seq+2";
  parsed = Scenario::from_json(j);
  ASSERT_FALSE(parsed.ok());
  EXPECT_NE(parsed.error().message.find("seq+2"), std::string::npos);
}

}  // namespace
}  // namespace bftgate::sim
