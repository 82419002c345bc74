// Property tests: the real protocol core and register in the simulator, over many seeds, with
// the invariant checker running after every event.
#include "bftgate/sim/simulator.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <nlohmann/json.hpp>
#include <random>

#include "bftgate/byzantine/byzantine.hpp"
#include "bftgate/sim/aggregate.hpp"
#include "property_seeds.hpp"

namespace bftgate::sim {
namespace {

// Seeds per property test: 1,000 by default (the issue's bar); CI's sanitizer build sets fewer.
using bftgate::testing::property_seeds;

// n = 4, f = 1: a passing adapter, then a failing one; short enough for thousands of runs.
Scenario short_scenario() {
  Scenario s;
  s.validators = 4;
  s.link.latency = DurationDistribution::uniform(1, 10);
  s.validation_time = DurationDistribution::uniform(100, 400);
  s.adapters.push_back({.version = 1,
                        .submit_s = 0.2,
                        .size_bytes = 16 << 20,
                        .verdict = Verdict::kPass,
                        .verdict_by_validator = {},
                        .tampered_artifact = false});
  s.adapters.push_back({.version = 2,
                        .submit_s = 3.5,
                        .size_bytes = 16 << 20,
                        .verdict = Verdict::kFail,
                        .verdict_by_validator = {},
                        .tampered_artifact = false});
  s.fleet.nodes = 2;
  s.duration_s = 7;
  return s;
}

// A passing 1 MiB adapter submitted at `at_s`.
AdapterSpec passing(std::uint64_t version, double at_s) {
  return {.version = version,
          .submit_s = at_s,
          .size_bytes = 1 << 20,
          .verdict = Verdict::kPass,
          .verdict_by_validator = {},
          .tampered_artifact = false};
}

// Checkpoints every 4 and batches of 2: checkpoints become stable often, and after later
// batches, which is where recovery and compaction are exercised.
void frequent_checkpoints(Scenario& scenario) {
  scenario.timing.checkpoint_interval = 4;
  scenario.timing.watermark_window = 16;
  scenario.timing.max_batch = 2;
}

class ByzantineStrategyProperty : public ::testing::TestWithParam<std::string> {};

// Every strategy in the registry (bft/byzantine.hpp), so a new one is covered at once.
std::vector<std::string> all_strategies() {
  std::vector<std::string> names;
  for (const auto& s : bft::strategies()) {
    if (s.standalone) names.emplace_back(s.name);
  }
  return names;
}

TEST_P(ByzantineStrategyProperty, FByzantineValidatorsBreakNoInvariant) {
  auto seeds = property_seeds();
  std::uint64_t certified = 0;
  for (std::uint64_t seed = 1; seed <= seeds; ++seed) {
    auto scenario = short_scenario();
    // The Byzantine validator's position rotates, so it is primary in some runs, backup in others.
    scenario.byzantine[static_cast<ReplicaId>(seed % scenario.validators)] = GetParam();
    auto result = simulate(scenario, seed);
    ASSERT_TRUE(result.violations.empty()) << "seed " << seed << ": " << result.violations.front();
    ASSERT_EQ(result.versions[0].state, "RELEASE_COMMIT") << "seed " << seed;
    ASSERT_EQ(result.versions[1].state, "REJECTED") << "seed " << seed;
    if (result.versions[0].converged_s) ++certified;
  }
  EXPECT_EQ(certified, seeds);  // the fleet converged on the passing adapter in every run
}

INSTANTIATE_TEST_SUITE_P(Strategies, ByzantineStrategyProperty,
                         ::testing::ValuesIn(all_strategies()), [](const auto& param_info) {
                           std::string name = param_info.param;
                           std::replace(name.begin(), name.end(), '-', '_');
                           return name;
                         });

TEST(SimulatorProperty, LossPartitionsAndCrashesBeforeGstBreakNoInvariant) {
  auto seeds = std::max<std::uint64_t>(property_seeds() / 4, 10);
  for (std::uint64_t seed = 1; seed <= seeds; ++seed) {
    auto scenario = short_scenario();
    scenario.before_gst = LinkSpec{DurationDistribution::uniform(1, 60), 0.2, 0.05};
    scenario.gst_s = 4;
    scenario.partitions.push_back({0.5, 2.0, {{0, 1}, {2, 3}}});
    scenario.crashes.push_back({static_cast<ReplicaId>(seed % 4), 1.0, 2.5});
    scenario.adapters[1].submit_s = 5.0;
    scenario.adapters.push_back(passing(3, 6.0));
    scenario.duration_s = 12;
    auto result = simulate(scenario, seed);
    ASSERT_TRUE(result.violations.empty()) << "seed " << seed << ": " << result.violations.front();
    ASSERT_EQ(result.versions[2].state, "RELEASE_COMMIT") << "seed " << seed;
  }
}

// Restarts every second or so, one replica at a time, while adapters keep coming: checkpoints
// become stable after later batches executed, which is where recovery once rolled a replica's
// register back. Agreement covers the whole replicated state (log hashes, checkpoint digests).
Scenario restart_storm(std::uint64_t seed) {
  auto scenario = short_scenario();
  frequent_checkpoints(scenario);
  scenario.adapters.clear();
  for (std::uint64_t v = 1; v <= 8; ++v) {  // the last one after the storm, for liveness
    auto submit_s = v < 8 ? 0.1 + 1.2 * static_cast<double>(v - 1) : 10.5;
    auto adapter = passing(v, submit_s);
    if (v % 3 == 0) adapter.verdict = Verdict::kFail;
    scenario.adapters.push_back(adapter);
  }
  std::mt19937_64 rng(seed);
  for (double at = 0.3; at < 10.0;) {
    auto down = 0.05 + static_cast<double>(rng() % 900) / 1000.0;
    scenario.crashes.push_back({static_cast<ReplicaId>(rng() % 4), at, at + down});
    at += down + 0.05 + static_cast<double>(rng() % 600) / 1000.0;
  }
  scenario.duration_s = 16;
  return scenario;
}

TEST(SimulatorProperty, RestartStormsKeepTheWholeReplicatedStateIdentical) {
  auto seeds = property_seeds();
  for (std::uint64_t seed = 1; seed <= seeds; ++seed) {
    auto result = simulate(restart_storm(seed), seed);
    ASSERT_TRUE(result.violations.empty()) << "seed " << seed << ": " << result.violations.front();
    ASSERT_EQ(result.versions.back().state, "RELEASE_COMMIT") << "seed " << seed;
    // Once quiet, every replica is in one view, at one point of execution, with one log.
    const auto& first = result.replicas_at_end.front();
    for (const auto& r : result.replicas_at_end) {
      ASSERT_EQ(r.view, first.view) << "seed " << seed << ": replica " << r.id;
      ASSERT_TRUE(r.view_active) << "seed " << seed << ": replica " << r.id << " "
                                 << result.to_json()["replicas_at_end"].dump();
      ASSERT_EQ(r.last_executed, first.last_executed) << "seed " << seed << ": replica " << r.id;
      ASSERT_EQ(r.log_hash, first.log_hash) << "seed " << seed << ": replica " << r.id;
    }
  }
}

// Logs compacted to the replicas' live records every few dozen records, and a replica crashing
// right after a compaction (before that step's messages leave) a third of the time.
TEST(SimulatorProperty, CrashesRightAfterCompactionsBreakNoInvariant) {
  auto seeds = property_seeds();
  std::uint64_t compactions = 0;
  std::uint64_t crashes = 0;
  for (std::uint64_t seed = 1; seed <= seeds; ++seed) {
    auto scenario = short_scenario();
    frequent_checkpoints(scenario);
    scenario.compaction = {.wal_records = 24, .crash_after_probability = 0.3, .down_s = 0.3};
    scenario.adapters[1].submit_s = 2.5;
    scenario.adapters.push_back(passing(3, 5.0));
    scenario.duration_s = 12;
    auto result = simulate(scenario, seed);
    ASSERT_TRUE(result.violations.empty()) << "seed " << seed << ": " << result.violations.front();
    ASSERT_EQ(result.versions[0].state, "RELEASE_COMMIT") << "seed " << seed;
    ASSERT_EQ(result.versions[1].state, "REJECTED") << "seed " << seed;
    ASSERT_EQ(result.versions[2].state, "RELEASE_COMMIT") << "seed " << seed;
    compactions += result.compactions;
    crashes += result.crashes_after_compaction;
  }
  EXPECT_GT(compactions, seeds);  // several per run
  EXPECT_GT(crashes, seeds / 2);
}

// Validators sync executed batches late (Ready::needs_sync), so a machine that loses power loses
// the last of them. Every validator in turn loses power and restarts behind; none may break an
// invariant, and the adapters still certify.
TEST(SimulatorProperty, PowerLossesThatTakeUnsyncedExecutionsBreakNoInvariant) {
  auto seeds = property_seeds();
  std::uint64_t lost = 0;
  for (std::uint64_t seed = 1; seed <= seeds; ++seed) {
    auto scenario = short_scenario();
    frequent_checkpoints(scenario);
    scenario.adapters[1].submit_s = 2.5;
    scenario.adapters.push_back(passing(3, 5.0));
    scenario.duration_s = 12;
    for (ReplicaId v = 0; v < 4; ++v) {
      auto at = 0.6 + 1.5 * static_cast<double>(v);
      scenario.crashes.push_back(
          {.replica = v, .at_s = at, .recover_s = at + 0.4, .power_loss = true});
    }
    auto result = simulate(scenario, seed);
    ASSERT_TRUE(result.violations.empty()) << "seed " << seed << ": " << result.violations.front();
    ASSERT_EQ(result.versions[0].state, "RELEASE_COMMIT") << "seed " << seed;
    ASSERT_EQ(result.versions[1].state, "REJECTED") << "seed " << seed;
    ASSERT_EQ(result.versions[2].state, "RELEASE_COMMIT") << "seed " << seed;
    lost += result.records_lost_to_power;
  }
  EXPECT_GT(lost, 0u);  // the power losses did take records
}

TEST(SimulatorProperty, FPlusOneColludersCanCertifyAnAdapterMostHonestValidatorsFail) {
  // The limit of the model, shown rather than hidden: beyond f, a certificate can hold fewer
  // than f+1 honest PASS votes.
  for (std::uint64_t seed = 1; seed <= 50; ++seed) {
    auto scenario = short_scenario();
    scenario.adapters.resize(1);
    scenario.adapters[0].verdict = Verdict::kFail;
    scenario.adapters[0].verdict_by_validator = {{2, Verdict::kPass}};
    scenario.byzantine = {{0, "pass-all"}, {1, "pass-all"}};
    auto result = simulate(scenario, seed);
    EXPECT_EQ(result.versions[0].state, "RELEASE_COMMIT") << seed;
    EXPECT_TRUE(result.has_violation("register-safety")) << seed;
    EXPECT_FALSE(result.has_violation("agreement")) << seed;
  }
}

TEST(SimulatorProperty, FColludersCannotCertifyIt) {
  for (std::uint64_t seed = 1; seed <= 50; ++seed) {
    auto scenario = short_scenario();
    scenario.adapters.resize(1);
    scenario.adapters[0].verdict = Verdict::kFail;
    scenario.adapters[0].verdict_by_validator = {{2, Verdict::kPass}};
    scenario.byzantine = {{0, "pass-all"}};
    auto result = simulate(scenario, seed);
    EXPECT_NE(result.versions[0].state, "RELEASE_COMMIT") << seed;
    EXPECT_TRUE(result.violations.empty()) << seed;
  }
}

TEST(SimulatorProperty, TamperedArtifactsAreNeverServed) {
  for (std::uint64_t seed = 1; seed <= 30; ++seed) {
    auto scenario = short_scenario();
    scenario.adapters.resize(1);
    scenario.adapters[0].tampered_artifact = true;
    auto result = simulate(scenario, seed);
    EXPECT_EQ(result.versions[0].state, "RELEASE_COMMIT");
    EXPECT_FALSE(result.versions[0].converged_s) << seed;  // certified, but the bytes are wrong
    EXPECT_GT(result.refused_loads, 0u);
    EXPECT_TRUE(result.violations.empty()) << seed;
  }
}

TEST(SimulatorProperty, CftModeWithACrash) {
  for (std::uint64_t seed = 1; seed <= 100; ++seed) {
    auto scenario = short_scenario();
    scenario.validators = 3;
    scenario.fault_model = FaultModel::kCft;
    scenario.crashes.push_back({static_cast<ReplicaId>(seed % 3), 0.0, std::nullopt});
    auto result = simulate(scenario, seed);
    ASSERT_TRUE(result.violations.empty()) << "seed " << seed << ": " << result.violations.front();
    EXPECT_EQ(result.versions[0].state, "RELEASE_COMMIT") << seed;
  }
}

TEST(Simulator, SameSeedReplaysByteForByte) {
  auto scenario = short_scenario();
  scenario.byzantine[0] = "equivocate";
  scenario.link.loss = 0.05;
  for (std::uint64_t seed : {1u, 7u, 1234u}) {
    auto first = simulate(scenario, seed).to_json().dump();
    auto second = simulate(scenario, seed).to_json().dump();
    EXPECT_EQ(first, second) << seed;
  }
  EXPECT_NE(simulate(scenario, 1).trace_hash, simulate(scenario, 2).trace_hash);
}

TEST(Simulator, CountsMessagesAndDecisions) {
  auto result = simulate(short_scenario(), 3);
  auto j = result.to_json();
  EXPECT_GT(j["messages_sent"]["pre-prepare"].get<int>(), 0);
  EXPECT_GT(j["messages_sent"]["prepare"].get<int>(), 0);
  EXPECT_GT(j["messages_sent"]["commit"].get<int>(), 0);
  EXPECT_GT(result.deliveries, 0u);
  ASSERT_TRUE(result.versions[0].certified_s.has_value());
  ASSERT_TRUE(result.versions[0].converged_s.has_value());
  EXPECT_LT(*result.versions[0].converged_s - result.versions[0].submitted_s,
            result.versions[0].bound_s);
}

TEST(Scenario, ParsesAndRefusesWithReasons) {
  auto ok = Scenario::from_json(nlohmann::json::parse(R"({"name": "x", "validators": 7,
      "byzantine": {"3": "slow"}, "adapters": [{"submit_s": 1, "verdict": "fail"}],
      "link": {"latency_ms": {"exponential": 3}, "loss": 0.1},
      "compaction": {"wal_records": 10, "crash_after_probability": 0.5}})"));
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  EXPECT_EQ(ok->f(), 2u);
  EXPECT_EQ(ok->byzantine.at(3), "slow");
  EXPECT_EQ(ok->adapters[0].version, 1u);
  EXPECT_EQ(ok->compaction.wal_records, 10u);
  EXPECT_EQ(ok->compaction.crash_after_probability, 0.5);
  auto round_trip = Scenario::from_json(ok->to_json());
  ASSERT_TRUE(round_trip.ok()) << round_trip.error().message;
  EXPECT_EQ(round_trip->to_json(), ok->to_json());
  auto epochs = Scenario::from_json(nlohmann::json::parse(R"({"validators": 4,
      "reconfigurations": [{"at_s": 2, "change": "grow", "validators": 7},
                           {"at_s": 3, "change": "replace", "validator": 6},
                           {"at_s": 4, "change": "shrink", "validators": 4},
                           {"at_s": 5, "change": "rotate"}],
      "byzantine": {"6": "silent"}, "leak_retired_keys": true})"));
  ASSERT_TRUE(epochs.ok()) << epochs.error().message;
  EXPECT_EQ(epochs->slots(), 7u);
  EXPECT_EQ(epochs->reconfigurations.size(), 4u);
  auto epochs_again = Scenario::from_json(epochs->to_json());
  ASSERT_TRUE(epochs_again.ok()) << epochs_again.error().message;
  EXPECT_EQ(epochs_again->to_json(), epochs->to_json());

  struct Case {
    const char* json;
    const char* reason;
  } cases[] = {
      {R"({"validatorz": 4})", "unknown field 'validatorz'"},
      {R"({"byzantine": {"9": "silent"}})", "not a validator id"},
      {R"({"byzantine": {"1": "sneaky"}})", "unknown strategy 'sneaky'"},
      {R"({"link": {"loss": 1.5}})", "probability"},
      {R"({"link": {"latency_ms": {"uniform": [5, 1]}}})", "hi < lo"},
      {R"({"adapters": [{"version": 2}, {"version": 1}]})", "versions must increase"},
      {R"({"timing": {"checkpoint_interval": 3, "watermark_window": 8}})", "multiple"},
      {R"({"crashes": [{"validator": 1, "at_s": 5, "recover_s": 2}]})", "recover_s"},
      {R"({"fault_model": "pbft"})", "fault_model"},
      {R"({"compaction": {"crash_after_probability": 2}})", "at most 1"},
      {R"({"compaction": {"wal_record": 5}})", "unknown field 'wal_record'"},
      // Integers are integers: never a float, a negative number or one too large, cast.
      {R"({"validators": -4})", "validators: expected a non-negative integer"},
      {R"({"adapters": [{"size_bytes": -9.3e19}]})", "size_bytes: expected a non-negative"},
      {R"({"timing": {"max_batch": 2.5}})", "max_batch: expected a non-negative integer"},
      {R"({"seed": 1e30})", "seed: expected a non-negative integer"},
      {R"({"fleet": {"poll_interval_s": "1"}})", "poll_interval_s: expected a number"},
      {R"({"adapters": [{"tampered_artifact": 1}]})", "expected true or false"},
      {R"({"byzantine": {"1": "mutate"}, "mutations": [{"validator": 1, "kind": "drop",
          "view": -1}]})",
       "view: expected a non-negative integer"},
      {R"({"reconfigurations": [{"change": "grow", "validators": 3}]})", "grow from 4"},
      {R"({"reconfigurations": [{"change": "shrink", "validators": 0}]})", "shrink from 4"},
      {R"({"reconfigurations": [{"change": "replace", "validator": 4}]})", "validator id"},
      {R"({"reconfigurations": [{"change": "merge"}]})", "'merge' is not one of"},
      {R"({"reconfigurations": [{"at_s": 5, "change": "rotate"}, {"at_s": 4, "change": "rotate"}]})",
       "at_s must not decrease"},
      // Ids of validators that join later are validator ids; others are not.
      {R"({"reconfigurations": [{"change": "grow", "validators": 7}],
          "byzantine": {"7": "silent"}})",
       "not a validator id in [0, 7)"},
  };
  for (const auto& c : cases) {
    auto parsed = Scenario::from_json(nlohmann::json::parse(c.json));
    ASSERT_FALSE(parsed.ok()) << c.json;
    EXPECT_NE(parsed.error().message.find(c.reason), std::string::npos) << parsed.error().message;
  }
}

}  // namespace
}  // namespace bftgate::sim

namespace bftgate::sim {
namespace {

TEST(SeedAggregate, SumsRunsAndJudgesThemAgainstTheScenario) {
  EXPECT_EQ(percentile({3, 1, 2}, 0.5), 2);
  EXPECT_EQ(percentile({}, 0.99), 0);
  auto scenario = short_scenario();
  SeedAggregate clean(scenario);
  for (std::uint64_t seed = 1; seed <= 3; ++seed) clean.add(simulate(scenario, seed));
  EXPECT_EQ(clean.runs(), 3u);
  EXPECT_TRUE(clean.as_expected());
  auto json = clean.to_json(1.0);
  EXPECT_EQ(json["decisions"]["v1 RELEASE_COMMIT"], 3);
  EXPECT_EQ(json["certification_latency_s"]["count"], 3);
  RunResult broken;
  broken.violations = {"agreement: made up"};
  clean.add(broken);
  EXPECT_FALSE(clean.as_expected());
  scenario.expect_violation = "agreement";
  SeedAggregate expected(scenario);
  expected.add(broken);
  EXPECT_TRUE(expected.as_expected());
  EXPECT_EQ(*parse_shard("1/4"), (std::pair<std::uint64_t, std::uint64_t>{1, 4}));
  for (const char* bad : {"4/4", "1/0", "x/2", "1/", "1-2", "-1/3"})
    EXPECT_FALSE(parse_shard(bad).ok()) << bad;
}

}  // namespace
}  // namespace bftgate::sim
