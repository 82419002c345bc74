// The experiment runner and the experiments at their smoke size: run folders, shards and merge,
// and each experiment's own checks (the properties its summary claims).
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <set>

#include "bftgate/base/strict_json.hpp"
#include "bftgate/experiments/experiment.hpp"
#include "bftgate/experiments/runner.hpp"
#include "test_dirs.hpp"

namespace bftgate::experiments {
namespace {

using nlohmann::json;

std::vector<json> read_records(const std::filesystem::path& dir, const std::string& name) {
  std::ifstream in(dir / "data" / (name + ".jsonl"));
  std::vector<json> records;
  for (std::string line; std::getline(in, line);) records.push_back(json::parse(line));
  return records;
}

RunOptions smoke(const std::filesystem::path& out,
                 std::pair<std::uint64_t, std::uint64_t> shard = {0, 1}) {
  set_process_binary(BFTGATE_BINARY);  // experiments that start real processes start this one
  RunOptions options;
  options.size = Size::kSmoke;
  options.jobs = 2;
  options.shard = shard;
  options.out = out;
  options.git_revision = "test";
  options.plots = false;
  return options;
}

const Experiment& convergence() {
  const auto* experiment = find_experiment("convergence");
  EXPECT_NE(experiment, nullptr);
  return *experiment;
}

TEST(Experiments, EverySweepIsDeterministicWithDistinctSeedsAndFullParameters) {
  for (const auto& experiment : experiments()) {
    for (auto size : {Size::kSmoke, Size::kFull}) {
      auto config = experiment->config(size);
      auto sweep = experiment->sweep(config);
      ASSERT_FALSE(sweep.empty()) << experiment->name();
      EXPECT_EQ(sweep, experiment->sweep(config)) << experiment->name();
      std::set<json> distinct(sweep.begin(), sweep.end());
      EXPECT_EQ(distinct.size(), sweep.size()) << experiment->name() << ": two identical runs";
      for (const auto& params : sweep) EXPECT_TRUE(params.contains("seed")) << params;
    }
  }
}

TEST(Convergence, SmokeSweepNeverExceedsTheQuorumBoundAfterGst) {
  bftgate::TempDir dir;
  auto folder = run_experiment(convergence(), smoke(dir.path() / "run"));
  ASSERT_TRUE(folder.ok()) << folder.error().message;
  ASSERT_TRUE(folder->complete);
  const auto& summary = folder->summary.data;
  EXPECT_TRUE(folder->summary.ok) << folder->summary.markdown;
  EXPECT_EQ(summary["quorum_bound_violations_after_gst"], 0) << summary.dump(2);
  EXPECT_EQ(summary["unconverged"], 0) << summary.dump(2);
  EXPECT_EQ(summary["simulator_invariant_violations"], 0) << summary.dump(2);
  auto records = read_records(folder->dir, "convergence");
  ASSERT_EQ(records.size(), folder->runs);
  for (const auto& record : records) {
    const auto& params = record["params"];
    for (const char* field : {"validators", "validation_kind", "validation_mean_s", "poll_s",
                              "size_mib", "bandwidth_mb_s", "network", "crashed", "seed"})
      EXPECT_TRUE(params.contains(field)) << field << " missing in " << params;
    const auto& r = record["result"];
    ASSERT_TRUE(r.contains("t_conv_s")) << record;
    // The quorum bound waits for the (2f+1)-th validator, Vaidyanathan's for the slowest one.
    EXPECT_LE(r["v_quorum_s"].get<double>(), r["v_max_s"].get<double>());
    EXPECT_LE(r["ratio_quorum"].get<double>(), 1.0) << record;
    // Nothing is served before a quorum has validated it.
    EXPECT_GE(r["t_conv_s"].get<double>(), r["v_quorum_s"].get<double>()) << record;
  }
  // The manifest names the experiment, size, config hash and revision.
  std::ifstream in(folder->dir / "manifest.json");
  auto manifest = json::parse(in);
  EXPECT_EQ(manifest["experiment"], "convergence");
  EXPECT_EQ(manifest["size"], "smoke");
  EXPECT_EQ(manifest["config_hash"], config_hash(manifest["config"]));
  EXPECT_EQ(manifest["runs"], records.size());
  ASSERT_EQ(manifest["seeds"].size(), records.size());
  for (std::size_t i = 0; i < records.size(); ++i)
    EXPECT_EQ(manifest["seeds"][i], records[i]["params"]["seed"]);
}

const Experiment& consistability() {
  const auto* experiment = find_experiment("consistability");
  EXPECT_NE(experiment, nullptr);
  return *experiment;
}

TEST(Consistability, CProbIsTheFProbWeightedSumOfTimeFractions) {
  // Two scenarios with FProb 0.75 and 0.25; the runs' class fractions are made up.
  json config = {{"scenarios", {"calm", "storm"}}, {"fprob", {{"calm", 0.75}, {"storm", 0.25}}}};
  const auto record = [](const char* scenario, double single, double within, double certified) {
    return json{{"params", {{"strategy", "s"}, {"scenario", scenario}}},
                {"result",
                 {{"classes",
                   {{"single-certified", single},
                    {"certified-within-1", within},
                    {"certified", certified},
                    {"none", 1 - certified}}}}}};
  };
  // Two seeds of "storm" average to (0.2, 0.4, 0.6).
  auto summary = consistability().summarize(
      config,
      {record("calm", 0.9, 1, 1), record("storm", 0.1, 0.3, 0.5), record("storm", 0.3, 0.5, 0.7)});
  const auto& cprob = summary.data["cprob"]["s"];
  EXPECT_DOUBLE_EQ(cprob["single-certified"].get<double>(), 0.75 * 0.9 + 0.25 * 0.2);
  EXPECT_DOUBLE_EQ(cprob["certified-within-1"].get<double>(), 0.75 * 1 + 0.25 * 0.4);
  EXPECT_DOUBLE_EQ(cprob["certified"].get<double>(), 0.75 * 1 + 0.25 * 0.6);
  EXPECT_DOUBLE_EQ(cprob["none"].get<double>(), 0.25 * 0.4);
  // Nested classes: the CProbs sum to at least 1.
  EXPECT_GE(cprob["sum"].get<double>(), 1.0);
  EXPECT_TRUE(summary.ok);
  config["fprob"]["storm"] = 0.5;  // an FProb that does not sum to 1 is refused
  EXPECT_FALSE(consistability().summarize(config, {record("calm", 1, 1, 1)}).ok);
}

TEST(Consistability, TheGateServesNothingUncertifiedWithinTheFaultModel) {
  bftgate::TempDir dir;
  auto folder = run_experiment(consistability(), smoke(dir.path() / "run"));
  ASSERT_TRUE(folder.ok()) << folder.error().message;
  ASSERT_TRUE(folder->complete);
  EXPECT_TRUE(folder->summary.ok) << folder->summary.markdown;
  bool rolling_served_the_bad_adapter = false;
  for (const auto& record : read_records(folder->dir, "consistability")) {
    const auto& classes = record["result"]["classes"];
    auto single = classes["single-certified"].get<double>();
    auto within = classes["certified-within-1"].get<double>();
    auto certified = classes["certified"].get<double>();
    auto none = classes["none"].get<double>();
    EXPECT_LE(single, within) << record;
    EXPECT_LE(within, certified) << record;
    EXPECT_NEAR(certified + none, 1, 1e-9) << record;
    auto scenario = record["params"]["scenario"].get<std::string>();
    if (record["params"]["strategy"] == "bftgate") {
      // Beyond f colluders the model is broken on purpose; a fleet cut off from the
      // validators reaches no certified version by definition. Everything else: never none.
      if (scenario != "f-plus-1-colluders" && scenario != "fleet-cut-off") {
        EXPECT_EQ(none, 0) << record;
      }
      if (scenario == "none") {
        EXPECT_GT(single, 0.9) << record;
      }
    } else if (record["params"]["strategy"] == "rolling" && none > 0) {
      rolling_served_the_bad_adapter = true;
    }
  }
  EXPECT_TRUE(rolling_served_the_bad_adapter);
}

TEST(Exposure, OnlyTheBftGateKeepsBadAdaptersFromEveryRequestWithinF) {
  bftgate::TempDir dir;
  const auto* exposure = find_experiment("exposure");
  ASSERT_NE(exposure, nullptr);
  auto folder = run_experiment(*exposure, smoke(dir.path() / "run"));
  ASSERT_TRUE(folder.ok()) << folder.error().message;
  EXPECT_TRUE(folder->summary.ok) << folder->summary.markdown;
  std::map<std::string, double> worst;  // strategy -> largest bad-request fraction within f
  for (const auto& record : read_records(folder->dir, "exposure")) {
    const auto& p = record["params"];
    auto bad = record["result"]["bad_request_fraction"].get<double>();
    EXPECT_GE(bad, 0) << record;
    EXPECT_LE(bad, 1) << record;
    if (p["byzantine"].get<int>() <= 2) {
      auto& w = worst[p["strategy"].get<std::string>()];
      w = std::max(w, bad);
    }
  }
  EXPECT_EQ(worst["bftgate"], 0);
  EXPECT_GT(worst["rolling"], 0);  // no gate: every bad adapter reaches every node
  EXPECT_GT(worst["canary"], 0);   // the canaries serve it until it is judged
}

TEST(ConvergenceReal, RealProcessesConvergeAndTheSimulatorPredictsThem) {
  set_process_binary(BFTGATE_BINARY);
  bftgate::TempDir dir;
  const auto* real = find_experiment("convergence-real");
  ASSERT_NE(real, nullptr);
  auto folder = run_experiment(*real, smoke(dir.path() / "run"));
  ASSERT_TRUE(folder.ok()) << folder.error().message;
  for (const auto& record : read_records(folder->dir, "convergence-real")) {
    const auto& p = record["params"];
    const auto& r = record["result"];
    auto measured = r["real_t_conv_s"].get<double>();
    // Nothing converges before the validation is done; nothing takes longer than validation,
    // two polls and a few seconds of consensus and process overhead on loopback.
    EXPECT_GE(measured, p["validation_s"].get<double>()) << record;
    EXPECT_LE(measured, p["validation_s"].get<double>() + 2 * p["poll_s"].get<double>() + 5)
        << record;
    EXPECT_GT(r["sim_median_t_conv_s"].get<double>(), 0) << record;
  }
  EXPECT_LT(folder->summary.data["median_absolute_relative_error"].get<double>(), 1.0)
      << folder->summary.markdown;
}

TEST(SmrVsConsensus, TheSwitchSpikeIsSmrCostAndCatchUpGrowsWithTheBacklogUnlessStateTransfer) {
  bftgate::TempDir dir;
  const auto* experiment = find_experiment("smr-vs-consensus");
  ASSERT_NE(experiment, nullptr);
  auto folder = run_experiment(*experiment, smoke(dir.path() / "run"));
  ASSERT_TRUE(folder.ok()) << folder.error().message;
  EXPECT_TRUE(folder->summary.ok) << folder->summary.markdown;
  std::map<std::string, std::map<std::uint64_t, double>> spike;  // catch-up -> missed -> msgs
  std::size_t switches = 0;
  std::size_t real_runs = 0;
  for (const auto& row : folder->summary.data["series"]) {
    if (row["system"] == "pbft-real") {
      // Real processes: every command completed, and the simulator's prediction is recorded.
      ++real_runs;
      EXPECT_TRUE(std::isfinite(row["relative_error"].get<double>())) << row;
      if (row["scenario"] == "switch") {
        // The straggler joins the quorum: its backlog shows as a latency spike on the wire too,
        // and the validators' traces charge it to the command's SMR cost, not its instance.
        EXPECT_GT(row["spike_latency_ms"].get<double>(), 5 * row["latency_before_ms"].get<double>())
            << row;
        EXPECT_GT(row["spike_smr_messages"].get<double>(), 10 * row["smr_mean"].get<double>())
            << row;
        EXPECT_LE(row["spike_consensus_messages"].get<double>(),
                  2 * row["consensus_mean"].get<double>())
            << row;
      }
      continue;
    }
    if (row["system"] != "series" || row["scenario"] != "switch") continue;
    ++switches;
    // The spike command's SMR cost holds the straggler's backlog; its instance does not.
    EXPECT_GT(row["spike_smr_messages"].get<double>(), 10 * row["smr_mean"].get<double>()) << row;
    EXPECT_LE(row["spike_consensus_messages"].get<double>(),
              row["consensus_mean"].get<double>() + 5)
        << row;
    EXPECT_GT(row["latency_after_ms"].get<double>(), 2 * row["latency_before_ms"].get<double>())
        << row;
  }
  EXPECT_GT(switches, 0u);
  EXPECT_EQ(real_runs, 3u);
  // etcd ran the same scenarios in the same run, and every member it started was stopped.
  std::set<std::string> etcd_scenarios;
  for (const auto& record : read_records(folder->dir, "smr-vs-consensus")) {
    if (record["params"]["kind"] != "etcd-real") continue;
    const auto& r = record["result"];
    ASSERT_TRUE(r.contains("latency_ms")) << record;
    EXPECT_EQ(r["latency_ms"].size(), 1000u) << record;
    EXPECT_FALSE(r["left_running"].get<bool>()) << record;
    EXPECT_TRUE(r["unclean_exits"].empty()) << record;
    etcd_scenarios.insert(record["params"]["scenario"].get<std::string>());
  }
  EXPECT_EQ(etcd_scenarios, (std::set<std::string>{"graceful", "straggler", "switch"}));
  // The real backlog: the partition is the kernel's where this machine allows it (root, nft),
  // else the validator's own, and says which; either way the rejoin costs the next commands.
  std::size_t real_backlogs = 0;
  for (const auto& row : folder->summary.data["real_backlog"]) {
    ++real_backlogs;
    const auto faults = row["faults"].get<std::string>();
    if (faults.starts_with("kernel")) {
      EXPECT_GT(row["kernel_dropped_packets"].get<std::uint64_t>(), 0u) << row;
    } else {
      EXPECT_NE(faults.find("unavailable: "), std::string::npos) << row;
    }
    EXPECT_GT(row["spike_latency_ms"].get<double>(), 5 * row["latency_before_ms"].get<double>())
        << row;
  }
  EXPECT_EQ(real_backlogs, 1u);
  for (const auto& record : read_records(folder->dir, "smr-vs-consensus")) {
    const auto& p = record["params"];
    const auto& r = record["result"];
    if (p["kind"] != "backlog") continue;
    // The rejoining replica's catch-up is charged to the commands after the switch.
    EXPECT_GT(r["spike_catch_up_messages"].get<std::uint64_t>(), 0u) << record;
    EXPECT_EQ(r["state_transfers"].get<std::uint64_t>() > 0, p["catch_up"] == "state-transfer")
        << record;
    spike[p["catch_up"].get<std::string>()][p["missed"].get<std::uint64_t>()] =
        r["spike_smr_messages"].get<double>();
  }
  // Log replay carries every missed command; a state transfer carries a snapshot.
  ASSERT_EQ(spike["log-replay"].size(), 2u);
  EXPECT_GT(spike["log-replay"].rbegin()->second, 3 * spike["log-replay"].begin()->second);
  EXPECT_LT(spike["state-transfer"].rbegin()->second, 2 * spike["state-transfer"].begin()->second);
}

TEST(Adversaries, BftIsSafeAndLiveUpToFAndBreaksAtFPlusOneWhileAMajorityBreaksEarlier) {
  bftgate::TempDir dir;
  const auto* experiment = find_experiment("adversaries");
  ASSERT_NE(experiment, nullptr);
  auto folder = run_experiment(*experiment, smoke(dir.path() / "run"));
  ASSERT_TRUE(folder.ok()) << folder.error().message;
  EXPECT_TRUE(folder->summary.ok) << folder->summary.markdown;
  std::set<std::uint64_t> bft_breaks, cft_breaks_within_f;
  for (const auto& cell : folder->summary.data["cells"]) {
    const auto b = cell["byzantine"].get<std::uint64_t>();
    const auto f = cell["f"].get<std::uint64_t>();
    const auto n = cell["validators"].get<std::uint64_t>();
    if (cell["mode"] == "bft" && b <= f) {
      EXPECT_EQ(cell["unsafe_runs"], 0) << cell;
      EXPECT_EQ(cell["good_not_certified"], 0) << cell;  // and still live
    }
    if (cell["strategy"] == "pass-all" && cell["bad_certified_runs"].get<std::uint64_t>() > 0) {
      if (cell["mode"] == "bft" && b == f + 1) bft_breaks.insert(n);
      if (cell["mode"] == "cft" && b <= f) cft_breaks_within_f.insert(n);
    }
  }
  // f+1 colluders certify the bad adapter at every size; a majority quorum lets f do it from
  // n = 7 on (at n = 4 both quorums are 3).
  EXPECT_EQ(bft_breaks, (std::set<std::uint64_t>{4, 7, 10}));
  EXPECT_EQ(cft_breaks_within_f, (std::set<std::uint64_t>{7, 10}));
}

TEST(Scale, DecisionsCostQuadraticallyMoreAndCertificatesLinearlyMoreWithN) {
  set_process_binary(BFTGATE_BINARY);
  bftgate::TempDir dir;
  const auto* experiment = find_experiment("scale");
  ASSERT_NE(experiment, nullptr);
  auto folder = run_experiment(*experiment, smoke(dir.path() / "run"));
  ASSERT_TRUE(folder.ok()) << folder.error().message;
  const auto& data = folder->summary.data;
  // All-to-all phases: 25 times the validators cost far more than 25 times the messages.
  const auto& sim = data["sim"];
  ASSERT_GE(sim.size(), 2u);
  const auto& small = sim.front();
  const auto& large = sim.back();
  const double growth = large["validators"].get<double>() / small["validators"].get<double>();
  EXPECT_GT(large["messages_per_decision"].get<double>(),
            growth * growth / 2 * small["messages_per_decision"].get<double>())
      << sim;
  // A certificate holds 2f+1 signatures, each about 64 bytes, and verifies at their cost.
  std::map<std::uint64_t, std::uint64_t> certificate_bytes;
  for (const auto& c : data["certificates"]) {
    const auto signatures = c["signatures"].get<std::uint64_t>();
    const auto bytes = c["certificate_bytes"].get<std::uint64_t>();
    EXPECT_GE(bytes, 64 * signatures) << c;
    EXPECT_LE(bytes, 64 * signatures + 256 + c["validators"].get<std::uint64_t>() / 8) << c;
    EXPECT_LT(c["verify_over_raw"].get<double>(), 1.5) << c;
    certificate_bytes[c["validators"].get<std::uint64_t>()] = bytes;
  }
  // Real processes decided every release, with a certificate the size of the one built here
  // for the same n (up to the signer bitmap, which grows with the highest signer's id).
  ASSERT_FALSE(data["real"].empty());
  for (const auto& r : data["real"]) {
    EXPECT_GT(r["certification_latency_p50_s"].get<double>(), 0.05) << r;  // the validation
    EXPECT_LT(r["certification_latency_p50_s"].get<double>(), 10) << r;
    const auto n = r["validators"].get<std::uint64_t>();
    const auto real = static_cast<double>(r["certificate_bytes"].get<std::uint64_t>());
    EXPECT_NEAR(real, static_cast<double>(certificate_bytes.at(n)), static_cast<double>(n / 8 + 1))
        << r;
  }
}

// Every epoch change finishes under load, with 0 or f Byzantine validators, breaking no invariant;
// the operator's proposals caught by the frozen register are made again; a new member's handoff
// grows with what was released before the switch.
TEST(Reconfiguration, EveryChangeSwitchesUnderLoadSafelyCatchUpGrowsWithStateAndRealProcessesSwitch) {
  bftgate::TempDir dir;
  const auto* experiment = find_experiment("reconfiguration");
  ASSERT_NE(experiment, nullptr);
  auto folder = run_experiment(*experiment, smoke(dir.path() / "run"));
  ASSERT_TRUE(folder.ok()) << folder.error().message;
  const auto& data = folder->summary.data;
  EXPECT_TRUE(folder->summary.ok) << data.dump();
  EXPECT_EQ(data["violations"], 0) << data.dump();
  EXPECT_EQ(data["unswitched_runs"], 0) << data.dump();
  ASSERT_EQ(data["switches"].size(), 8u);  // 4 changes x {0, f} Byzantine
  for (const auto& row : data["switches"]) {
    EXPECT_GT(row["switch_s"]["p50"].get<double>(), 0) << row;
    EXPECT_LT(row["switch_s"]["p99"].get<double>(), 10) << row;
  }
  const auto& catch_up = data["catch_up"];
  ASSERT_GE(catch_up.size(), 2u);
  EXPECT_GT(catch_up.back()["handoff_bytes"]["mean"].get<double>(),
            catch_up.front()["handoff_bytes"]["mean"].get<double>())
      << catch_up;
  // The real switch: certified, then run by a quorum, then by every member; the new host joined
  // from a handoff it kept, and an adapter was released in the new epoch and served.
  ASSERT_EQ(data["real"].size(), 1u) << data.dump();
  const auto& real = data["real"][0];
  const auto mean = [&](const char* key) { return real[key]["mean"].get<double>(); };
  EXPECT_GT(mean("certified_after_s"), 0) << real;
  EXPECT_LE(mean("certified_after_s"), mean("quorum_running_s")) << real;
  EXPECT_LE(mean("quorum_running_s"), mean("switch_s")) << real;
  EXPECT_GT(mean("join_s"), 0) << real;
  EXPECT_GT(mean("handoff_bytes"), 0) << real;
  EXPECT_GT(mean("first_release_s"), mean("certified_after_s")) << real;
  EXPECT_GT(mean("served_s"), mean("certified_after_s")) << real;
}

TEST(Runner, ShardsMergeIntoExactlyTheUnshardedRunAndGapsOrDuplicatesAreRefused) {
  bftgate::TempDir dir;
  auto whole = run_experiment(convergence(), smoke(dir.path() / "whole"));
  ASSERT_TRUE(whole.ok()) << whole.error().message;
  std::vector<std::filesystem::path> shards;
  for (std::uint64_t i = 0; i < 3; ++i) {
    auto shard =
        run_experiment(convergence(), smoke(dir.path() / fmt::format("shard-{}", i), {i, 3}));
    ASSERT_TRUE(shard.ok()) << shard.error().message;
    EXPECT_FALSE(shard->complete);
    shards.push_back(shard->dir);
  }
  auto merged = merge_runs(shards, dir.path() / "merged", false);
  ASSERT_TRUE(merged.ok()) << merged.error().message;
  EXPECT_EQ(read_records(merged->dir, "convergence"), read_records(whole->dir, "convergence"));
  EXPECT_EQ(merged->summary.data, whole->summary.data);

  auto gap = merge_runs({shards[0], shards[2]}, dir.path() / "gap", false);
  ASSERT_FALSE(gap.ok());
  EXPECT_NE(gap.error().message.find("in none of the folders"), std::string::npos);
  auto duplicate =
      merge_runs({shards[0], shards[1], shards[1], shards[2]}, dir.path() / "dup", false);
  ASSERT_FALSE(duplicate.ok());
  EXPECT_NE(duplicate.error().message.find("appears twice"), std::string::npos);
  // A shard of another config is not part of this sweep.
  auto tampered = dir.path() / "tampered";
  std::filesystem::copy(shards[1], tampered, std::filesystem::copy_options::recursive);
  {
    std::ifstream in(tampered / "manifest.json");
    auto manifest = json::parse(in);
    manifest["config"]["seeds_per_point"] = 3;
    manifest["config_hash"] = config_hash(manifest["config"]);
    std::ofstream(tampered / "manifest.json") << manifest.dump(2);
  }
  auto mixed = merge_runs({shards[0], tampered, shards[2]}, dir.path() / "mixed", false);
  ASSERT_FALSE(mixed.ok());
  // Records edited by hand (a result without its fields) are an error, not an exception.
  std::vector<std::filesystem::path> edited;
  for (std::size_t i = 0; i < shards.size(); ++i) {
    auto copy = dir.path() / fmt::format("edited-{}", i);
    std::filesystem::copy(shards[i], copy, std::filesystem::copy_options::recursive);
    auto records = read_records(copy, "convergence");
    std::ofstream out(copy / "data" / "convergence.jsonl");
    for (auto& record : records) {
      record["result"] = {{"t_conv_s", "soon"}};
      out << record.dump() << "\n";
    }
    edited.push_back(copy);
  }
  auto garbled = merge_runs(edited, dir.path() / "garbled", false);
  ASSERT_FALSE(garbled.ok());
  EXPECT_NE(garbled.error().message.find("do not summarise"), std::string::npos)
      << garbled.error().message;
}

}  // namespace
}  // namespace bftgate::experiments
