// Crash recovery of real processes: what a restarted process must remember.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "bftgate/io/file_io.hpp"
#include "local_cluster.hpp"

namespace bftgate::testing {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;

const std::string kPass = R"(echo '{"pass": true, "metrics": {"suite": "test"}}')";

std::string write_artifact(const LocalCluster& cluster, const std::string& name, std::size_t size) {
  return write_random_artifact(cluster, name, size);
}

int submit(const LocalCluster& cluster, const std::string& artifact, int timeout_s = 60) {
  return run_command(cluster.bftgate() + " submit --wait --timeout " + std::to_string(timeout_s) +
                     " --config " + cluster.config() + " --operator-key " + cluster.operator_key() +
                     " --adapter " + artifact)
      .exit_code;
}

json node_status(const LocalCluster& cluster, int j) {
  auto body = LocalCluster::http_get(cluster.node_port(j), "/status");
  return body.empty() ? json() : json::parse(body, nullptr, false);
}

json wait_node_version(const LocalCluster& cluster, int j, std::uint64_t version,
                       int seconds = 30) {
  json status;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (std::chrono::steady_clock::now() < deadline) {
    status = node_status(cluster, j);
    if (status.is_object() && status.value("version", std::uint64_t{0}) == version) break;
    std::this_thread::sleep_for(milliseconds(100));
  }
  return status;
}

using Statuses = std::map<int, StatusAnswer>;

// Every validator's status answer, by id, as `bftgate status --json` prints it, decoded with the
// validators' codec.
Statuses validator_statuses(const LocalCluster& cluster) {
  auto result = run_command(cluster.bftgate() + " status --json --timeout 2 --config " +
                            cluster.config() + " --key " + cluster.operator_key());
  auto parsed = json::parse(result.output, nullptr, false);
  Statuses statuses;
  if (!parsed.is_object() || !parsed.contains("validators")) return statuses;
  for (const auto& [key, answer] : parsed["validators"].items()) {
    auto status = runtime::status_from_json(answer);
    EXPECT_TRUE(status.ok()) << "validator " << key << ": " << status.error().message;
    if (status.ok()) statuses.emplace(static_cast<int>(status->validator), std::move(*status));
  }
  return statuses;
}

// What must be identical on every validator once the cluster is quiet. (Whether it votes is not:
// a validator whose view change nobody joined follows its peers' view without voting until the
// next view change, see Replica::voting().)
std::string replicated_state(const Statuses& statuses, int id) {
  auto it = statuses.find(id);
  if (it == statuses.end()) return "(no answer)";
  const auto& s = it->second;
  return fmt::format("view {} active {} executed {} records {} invalid {} log {} head {}", s.view,
                     s.view_active, s.last_executed, s.log_records, s.invalid_operations,
                     s.log_head_hash.hex(), s.head_hash.hex());
}

// Waits (bounded) until all `n` validators answer with the same replicated state; returns the
// statuses last seen.
Statuses wait_identical(const LocalCluster& cluster, int n, int seconds = 60) {
  Statuses statuses;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (std::chrono::steady_clock::now() < deadline) {
    statuses = validator_statuses(cluster);
    std::set<std::string> states;
    for (int id = 0; id < n; ++id) states.insert(replicated_state(statuses, id));
    if (states.size() == 1 && !states.contains("(no answer)")) break;
    std::this_thread::sleep_for(milliseconds(500));
  }
  return statuses;
}

std::string describe_states(const Statuses& statuses, int n) {
  std::string out;
  for (int id = 0; id < n; ++id) {
    auto it = statuses.find(id);
    out += fmt::format("\n  validator {}: {}{}", id, replicated_state(statuses, id),
                       it != statuses.end() && !it->second.voting ? " (following)" : "");
  }
  return out;
}

// The lines of a validator's log about views and restarts (what explains a view mismatch).
std::string log_tail(const LocalCluster& cluster, int id) {
  std::istringstream log(cluster.log(id));
  std::string out = "\n--- validator " + std::to_string(id) + ": views and restarts ---\n";
  for (std::string line; std::getline(log, line);) {
    if (line.find("view") != std::string::npos || line.find("listening") != std::string::npos)
      out += line + "\n";
  }
  return out.size() > 6000 ? out.substr(out.size() - 6000) : out;
}

void expect_identical(const LocalCluster& cluster, const Statuses& statuses, int n) {
  for (int id = 1; id < n; ++id) {
    EXPECT_EQ(replicated_state(statuses, id), replicated_state(statuses, 0))
        << "validator " << id << describe_states(statuses, n) << log_tail(cluster, id);
  }
  // A quorum votes, so the cluster goes on certifying.
  int voting = 0;
  for (const auto& [id, status] : statuses) voting += status.voting ? 1 : 0;
  EXPECT_GE(voting, n - (n - 1) / 3) << describe_states(statuses, n);
}

// No validator saw validator `id` sign two different messages for one slot.
void expect_no_contradiction_by(const Statuses& statuses, int id) {
  auto kind = fmt::format("equivocation-by-{}", id);
  for (const auto& [key, status] : statuses) {
    EXPECT_FALSE(status.refused_inputs.contains(kind))
        << "validator " << key << " saw validator " << id
        << " contradict itself: " << status.refused_inputs.dump();
  }
}

TEST(Recovery, ARestartedNodeNeverServesAnOlderVersion) {
  // It served version 2; after a restart only a validator replaying version 1 (validly
  // certified, but old) is reachable.
  LocalCluster cluster(binary_under_test(), 4, kPass);
  cluster.start_all();
  cluster.start_node(0);
  ASSERT_EQ(submit(cluster, write_artifact(cluster, "v1.bin", 1000)), 0);
  ASSERT_EQ(submit(cluster, write_artifact(cluster, "v2.bin", 2000)), 0);
  auto before = wait_node_version(cluster, 0, 2);
  ASSERT_EQ(before.value("version", 0), 2) << before.dump() << cluster.log(100);
  EXPECT_EQ(cluster.terminate(100), 0);
  for (int id = 0; id < 4; ++id) EXPECT_EQ(cluster.terminate(id), 0);
  cluster.byzantine[3] = "replay";
  cluster.start(3);
  cluster.start_node(0);
  auto after = wait_node_version(cluster, 0, 2, 15);
  EXPECT_EQ(after.value("version", 0), 2) << after.dump() << cluster.log(100);
  EXPECT_EQ(after.value("version_floor", 0), 2) << after.dump();
  std::this_thread::sleep_for(milliseconds(1500));  // several polls that offer version 1
  auto later = node_status(cluster, 0);
  EXPECT_EQ(later.value("version", 0), 2) << later.dump();
  EXPECT_FALSE(later["requests_by_version"].contains("1")) << later.dump();
}

TEST(Recovery, ANodeServesNoVersionBeforeItHasRecordedIt) {
  // The floor is written before the flip: a node that cannot record a version (here its
  // served.json is a directory) refuses to serve it, rather than serve what a restart would not
  // know it served.
  LocalCluster cluster(binary_under_test(), 4, kPass);
  cluster.start_all();
  auto record = cluster.path("node-0") / "served.json";
  std::filesystem::create_directories(record);
  cluster.start_node(0);
  ASSERT_EQ(submit(cluster, write_artifact(cluster, "v1.bin", 1000)), 0);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  json status;
  while (std::chrono::steady_clock::now() < deadline) {
    status = node_status(cluster, 0);
    if (status.is_object() && status["refusals"].value("record-failed", 0) > 0) break;
    std::this_thread::sleep_for(milliseconds(100));
  }
  ASSERT_GT(status["refusals"].value("record-failed", 0), 0) << status.dump() << cluster.log(100);
  EXPECT_EQ(status.value("version", 0), 0) << status.dump();
  EXPECT_FALSE(status["requests_by_version"].contains("1")) << status.dump();
  // Once it can record it, it serves it, and the record names it.
  std::filesystem::remove(record);
  auto after = wait_node_version(cluster, 0, 1);
  EXPECT_EQ(after.value("version", 0), 1) << after.dump() << cluster.log(100);
  auto text = read_small_file(record, 1 << 20);
  ASSERT_TRUE(text) << text.error().message;
  EXPECT_EQ(json::parse(*text).value("version", 0), 1);
}

// The byte offsets of the records in a write-ahead log (magic, then u32 length | u32 CRC |
// payload).
std::vector<std::size_t> wal_records(const std::filesystem::path& wal) {
  auto bytes = read_small_file(wal, 256 << 20).value();
  std::vector<std::size_t> offsets;
  for (std::size_t at = 8; at + 8 <= bytes.size();) {
    // Zeros after the last record: space the validator wrote ahead (WalOptions::preallocate).
    if (std::all_of(bytes.begin() + static_cast<std::ptrdiff_t>(at),
                    bytes.begin() + static_cast<std::ptrdiff_t>(at + 8),
                    [](std::uint8_t b) { return b == 0; }))
      break;
    std::uint32_t length = 0;
    std::memcpy(&length, bytes.data() + at, 4);
    offsets.push_back(at);
    at += 8 + length;
  }
  return offsets;
}

TEST(Recovery, AValidatorRefusesALogCorruptInTheMiddleAndSetsItAsideWhenTold) {
  LocalCluster cluster(binary_under_test(), 4, kPass);
  cluster.start_all();
  for (std::size_t v = 1; v <= 3; ++v)
    ASSERT_EQ(submit(cluster, write_artifact(cluster, fmt::format("v{}.bin", v), 1000 * v)), 0);
  ASSERT_EQ(cluster.terminate(2), 0);
  auto wal = cluster.data_dir(2) / "replica.wal";
  auto records = wal_records(wal);
  ASSERT_GE(records.size(), 6u);
  auto middle = records[records.size() / 2];
  {
    std::fstream f(wal, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(middle + 8));
    f.put('\x5a');
  }
  auto size = std::filesystem::file_size(wal);
  cluster.start(2);
  // It refuses to start, names the offset, and cuts nothing off.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (cluster.log(2).find("is corrupt") == std::string::npos &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(50));
  }
  auto exit_code = cluster.terminate(2);
  EXPECT_NE(exit_code, 0);
  EXPECT_NE(cluster.log(2).find(fmt::format("record at byte {} is corrupt", middle)),
            std::string::npos)
      << cluster.log(2);
  EXPECT_EQ(std::filesystem::file_size(wal), size);
  // Told to, it sets the log aside (kept, renamed), starts from an empty one and rejoins by
  // state transfer while the cluster goes on certifying.
  cluster.extra_args[2] = {"--recover-from-peers"};
  cluster.start(2);
  ASSERT_EQ(submit(cluster, write_artifact(cluster, "v4.bin", 4000)), 0);
  EXPECT_NE(cluster.log(2).find("set the write-ahead log aside"), std::string::npos)
      << cluster.log(2);
  std::size_t set_aside = 0;
  for (const auto& item : std::filesystem::directory_iterator(cluster.data_dir(2))) {
    set_aside += item.path().filename().string().starts_with("replica.wal.set-aside-") ? 1u : 0u;
  }
  EXPECT_EQ(set_aside, 1u);
  ASSERT_EQ(submit(cluster, write_artifact(cluster, "v5.bin", 5000)), 0);
  expect_identical(cluster, wait_identical(cluster, 4), 4);
  EXPECT_EQ(cluster.terminate(2), 0) << cluster.log(2);
}

// SIGKILL and restart a random validator every couple of seconds while adapters keep coming.
// Afterwards every validator holds the same replicated state (operation-log hash, record and
// invalid-operation counts, head) and is in the same view, voting.
TEST(Recovery, ARestartStormLeavesEveryValidatorWithTheSameStateAndView) {
  LocalCluster cluster(binary_under_test(), 4, kPass);
  cluster.start_all();
  std::atomic<bool> storming = true;
  std::atomic<int> submitted = 0;
  std::thread submitter([&] {
    for (int v = 1; storming; ++v) {
      (void)submit(cluster,
                   write_artifact(cluster, fmt::format("v{}.bin", v),
                                  static_cast<std::size_t>(500 + 10 * v)),
                   15);
      ++submitted;
    }
  });
  // Deadlines: 20 s of storm, a submission in flight (15 s), the last one (30 s) and agreement
  // (30 s) stay inside ctest's 120 s, so a stall reports states and logs rather than a timeout.
  auto seed = std::random_device{}();
  RecordProperty("seed", static_cast<int>(seed & 0x7fffffff));
  std::mt19937_64 rng(seed);
  auto end = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  int restarts = 0;
  std::string storm = "validators restarted:";
  while (std::chrono::steady_clock::now() < end) {
    std::this_thread::sleep_for(milliseconds(1000 + rng() % 1500));
    auto id = static_cast<int>(rng() % 4);
    cluster.kill9(id);
    std::this_thread::sleep_for(milliseconds(rng() % 500));
    cluster.start(id);
    ++restarts;
    storm += fmt::format(" {}", id);
  }
  storming = false;
  submitter.join();
  ASSERT_GE(submitted, 3);
  // One more adapter once all are up, then everyone must agree on everything.
  EXPECT_EQ(submit(cluster, write_artifact(cluster, "after.bin", 777), 30), 0)
      << "seed " << seed << ", " << storm << log_tail(cluster, 0) << log_tail(cluster, 1)
      << log_tail(cluster, 2) << log_tail(cluster, 3);
  auto statuses = wait_identical(cluster, 4, 30);
  expect_identical(cluster, statuses, 4);
  for (int id = 0; id < 4; ++id) expect_no_contradiction_by(statuses, id);
  RecordProperty("restarts", restarts);
  RecordProperty("adapters", submitted.load());
}

// Logs compacted every few KiB (to the replica's live records), and each validator in turn,
// the primary first, SIGKILLed mid-submission after several compactions: it comes back in
// the same view as the others, with the same state, and no peer ever sees it contradict itself.
TEST(Recovery, CompactedLogsSurviveSigkillWithTheSameViewAndNoContradiction) {
  LocalCluster cluster(binary_under_test(), 4, kPass);
  for (int id = 0; id < 4; ++id) cluster.extra_args[id] = {"--wal-compact-bytes", "4096"};
  cluster.start_all();
  int v = 0;
  for (; v < 4; ++v)
    ASSERT_EQ(submit(cluster, write_artifact(cluster, fmt::format("v{}.bin", v),
                                             static_cast<std::size_t>(900 + v))),
              0);
  for (int id = 0; id < 4; ++id) {
    auto statuses = validator_statuses(cluster);
    ASSERT_TRUE(statuses.contains(id));
    EXPECT_GE(statuses.at(id).wal_compactions, 2u) << describe_states(statuses, 4);
    std::thread submitter(
        [&, v] { (void)submit(cluster, write_artifact(cluster, fmt::format("k{}.bin", v), 99)); });
    std::this_thread::sleep_for(milliseconds(150));
    cluster.kill9(id);
    cluster.start(id);
    submitter.join();
    ASSERT_EQ(submit(cluster, write_artifact(cluster, fmt::format("w{}.bin", v),
                                             static_cast<std::size_t>(1234 + v))),
              0)
        << cluster.log(id);
    ++v;
  }
  auto statuses = wait_identical(cluster, 4);
  expect_identical(cluster, statuses, 4);
  for (int id = 0; id < 4; ++id) expect_no_contradiction_by(statuses, id);
}

}  // namespace
}  // namespace bftgate::testing
