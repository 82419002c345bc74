// Real processes on 127.0.0.1: validators over ZeroMQ, the operator CLI, kill -9 and restarts.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>

#include "bftgate/cluster/ed25519_signer.hpp"
#include "bftgate/config/key_file.hpp"
#include "bftgate/crypto/certificate.hpp"
#include "bftgate/io/file_digest.hpp"
#include "bftgate/io/file_io.hpp"
#include "bftgate/runtime/client/cluster_client.hpp"
#include "bftgate/runtime/client/request_pipeline.hpp"
#include "bftgate/runtime/harness/local_processes.hpp"
#include "bftgate/runtime/store/artifact_store.hpp"
#include "cluster_test_support.hpp"
#include "local_cluster.hpp"

namespace bftgate::testing {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using namespace cluster_support;  // the shared helpers (cluster_test_support.hpp)

const std::string kSlowPass = R"(sleep 1; echo '{"pass": true}')";

// The value of the sample `series` (its name with its labels, as written) in a Prometheus text
// exposition; nullopt if absent. Every line must be a comment or `series value`.
std::optional<double> sample_value(const std::string& exposition, const std::string& series) {
  std::istringstream lines(exposition);
  std::optional<double> found;
  for (std::string line; std::getline(lines, line);) {
    if (line.empty() || line.starts_with("# HELP ") || line.starts_with("# TYPE ")) continue;
    auto space = line.rfind(' ');
    EXPECT_NE(space, std::string::npos) << line;
    if (space == std::string::npos) continue;
    double value = 0;
    EXPECT_NO_THROW(value = std::stod(line.substr(space + 1))) << line;
    if (line.substr(0, space) == series) found = value;
  }
  return found;
}

TEST(Cluster, ReleasesAPassingAdapterAndEveryValidatorAgrees) {
  LocalCluster cluster(BFTGATE_BINARY, 4, kPass);
  const auto metrics_port = runtime::free_port_range(1);
  ASSERT_TRUE(metrics_port.has_value());
  cluster.extra_args[0] = {"--metrics-port", std::to_string(*metrics_port)};
  cluster.start_all();
  auto artifact = write_artifact(cluster, "adapter.bin", 300'000);
  auto result = submit(cluster, artifact);
  ASSERT_EQ(result.exit_code, 0) << result.output << cluster.log(0);
  auto decided = last_json(result.output);
  ASSERT_EQ(decided["state"], "RELEASE_COMMIT") << result.output;

  // The certificate verifies offline, against the config and the artifact.
  auto cert_path = cluster.path("cert.json");
  ASSERT_TRUE(write_file_atomic(cert_path, as_bytes(decided["certificate"].dump())).ok());
  auto verify = run_command(cluster.bftgate() + " verify-cert --config " + cluster.config() + " " +
                            cert_path.string() + " --artifact " + artifact);
  EXPECT_EQ(verify.exit_code, 0) << verify.output;

  // All four registers converge on the same hash chain.
  auto answers = wait_for(cluster, 4,
                          [](const StatusAnswer& a) { return state_of(a, 1) == "RELEASE_COMMIT"; });
  ASSERT_EQ(answers.size(), 4u);
  std::set<std::string> heads;
  for (const auto& [id, a] : answers) heads.insert(a.head_hash.hex());
  EXPECT_EQ(heads.size(), 1u);

  // Validator 0's /metrics: what it decided, how long its slots took, what its log synced.
  auto metrics = LocalCluster::http_get(*metrics_port, "/metrics");
  const auto value = [&](const std::string& series) {
    return sample_value(metrics, series).value_or(-1);
  };
  EXPECT_GE(value("bftgate_validator_decisions_total{validator=\"0\"}"), 1) << metrics;
  EXPECT_GE(value("bftgate_validator_slot_seconds_count{validator=\"0\",phase=\"executed\"}"), 1)
      << metrics;
  EXPECT_GE(value("bftgate_validator_wal_fsync_seconds_count{validator=\"0\"}"), 1) << metrics;
  EXPECT_EQ(value("bftgate_validator_wal_syncs_total{validator=\"0\"}"),
            value("bftgate_validator_wal_fsync_seconds_count{validator=\"0\"}"))
      << metrics;
  EXPECT_GE(value("bftgate_validator_signatures_verified_total{validator=\"0\"}"), 1) << metrics;
  // Late syncs (executed batches no message's sync covered in time) are some of the syncs.
  EXPECT_GE(value("bftgate_validator_wal_late_syncs_total{validator=\"0\"}"), 0) << metrics;
  EXPECT_LE(value("bftgate_validator_wal_late_syncs_total{validator=\"0\"}"),
            value("bftgate_validator_wal_syncs_total{validator=\"0\"}"))
      << metrics;

  // Prometheus's own checker accepts the exposition, and a real Prometheus scrapes it: its query
  // API returns the decision counter (scripts/bootstrap.sh --test installs prometheus).
  auto exposition = cluster.path("metrics.txt");
  ASSERT_TRUE(write_file_atomic(exposition, as_bytes(metrics)).ok());
  auto lint = run_command("promtool check metrics < " + exposition.string());
  EXPECT_EQ(lint.exit_code, 0) << lint.output;
  const auto web_port = runtime::free_port_range(1);
  ASSERT_TRUE(web_port.has_value());
  auto scrape_config = cluster.path("prometheus.yml");
  ASSERT_TRUE(write_file_atomic(scrape_config,
                                as_bytes(fmt::format("global:\n  scrape_interval: 1s\n"
                                                     "scrape_configs:\n  - job_name: validator\n"
                                                     "    static_configs:\n"
                                                     "      - targets: ['127.0.0.1:{}']\n",
                                                     *metrics_port)))
                  .ok());
  cluster.spawn("prometheus", {"/usr/bin/prometheus", "--config.file=" + scrape_config.string(),
                               "--storage.tsdb.path=" + cluster.path("prometheus-data").string(),
                               fmt::format("--web.listen-address=127.0.0.1:{}", *web_port)});
  double scraped = -1;
  json answer;
  for (auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
       scraped < 1 && std::chrono::steady_clock::now() < deadline;
       std::this_thread::sleep_for(milliseconds(250))) {
    auto body =
        LocalCluster::http_get(*web_port, "/api/v1/query?query=bftgate_validator_decisions_total");
    answer = json::parse(body, nullptr, /*allow_exceptions=*/false);
    if (!answer.is_object() || answer.value("status", "") != "success") continue;
    const auto& series = answer["data"]["result"];
    if (series.is_array() && !series.empty())
      scraped = std::stod(series[0]["value"][1].get<std::string>());
  }
  EXPECT_GE(scraped, 1) << answer.dump() << cluster.log("prometheus");
  cluster.terminate("prometheus");
  for (int i = 0; i < 4; ++i) EXPECT_EQ(cluster.terminate(i), 0) << cluster.log(i);
}

TEST(Cluster, RejectsAFailingAdapter) {
  LocalCluster cluster(BFTGATE_BINARY, 4, kFail);
  cluster.start_all();
  auto result = submit(cluster, write_artifact(cluster, "bad.bin", 1000));
  EXPECT_EQ(result.exit_code, 1) << result.output;
  EXPECT_EQ(last_json(result.output)["state"], "REJECTED") << result.output;
}

// A client in a MAC session (no signature on its requests, none on the replies) and then a
// signed one, for the same principal, through real validator processes: every request gets f+1
// matching replies that verify.
TEST(Cluster, MacSessionRequestsCommitAndTheirMacdRepliesVerify) {
  LocalCluster cluster(BFTGATE_BINARY, 4, kPass);
  cluster.start_all();
  auto config = ClusterConfig::load(cluster.config());
  ASSERT_TRUE(config.ok()) << config.error().message;
  auto key = crypto::read_key_file(cluster.operator_key());
  ASSERT_TRUE(key.ok()) << key.error().message;
  auto signer = std::make_shared<bft::Ed25519Signer>(bft::kOperatorPrincipal, std::move(key->key));
  runtime::RequestPipeline mac(*config, signer, cluster.link(), runtime::ClientAuth::kMac);
  runtime::RequestPipeline signed_client(*config, signer, cluster.link());
  const auto run = [](runtime::RequestPipeline& client, std::size_t count) {
    std::size_t done = 0;
    for (std::size_t i = 0; i < count; ++i) client.send();
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (done < count && std::chrono::steady_clock::now() < deadline) {
      done += client.receive(milliseconds(20)).size();
    }
    return done;
  };
  EXPECT_EQ(run(mac, 40), 40u);
  EXPECT_EQ(mac.refused_replies(), 0u);
  signed_client.continue_from(mac.next_id());
  EXPECT_EQ(run(signed_client, 10), 10u);
  EXPECT_EQ(signed_client.refused_replies(), 0u);
  // f+1 replies complete a request: the last validators may still be executing.
  auto statuses = wait_for(
      cluster, 4, [](const StatusAnswer& a) { return a.last_executed >= 1; }, 20);
  EXPECT_EQ(statuses.size(), 4u);
  for (const auto& [id, status] : statuses) {
    EXPECT_GE(status.last_executed, 1u)
        << "validator " << id << ": " << cluster.log(static_cast<int>(id));
  }
}

TEST(Cluster, CertifiesWithFValidatorsKilledDuringVoting) {
  LocalCluster cluster(BFTGATE_BINARY, 4, kSlowPass);
  cluster.start_all();
  auto artifact = write_artifact(cluster, "adapter.bin", 1000);
  std::thread killer([&] {
    std::this_thread::sleep_for(milliseconds(500));  // proposed; validations under way
    cluster.kill9(0);                                // the primary, mid-vote
  });
  auto result = submit(cluster, artifact, 40);
  killer.join();
  EXPECT_EQ(result.exit_code, 0) << result.output << cluster.log(1);
  EXPECT_EQ(last_json(result.output)["state"], "RELEASE_COMMIT");
}

TEST(Cluster, RestartedValidatorCatchesUpAndLosesNothing) {
  LocalCluster cluster(BFTGATE_BINARY, 4, kPass);
  cluster.start_all();
  ASSERT_EQ(submit(cluster, write_artifact(cluster, "v1.bin", 1000)).exit_code, 0);
  wait_for(cluster, 4, [](const StatusAnswer& a) { return state_of(a, 1) == "RELEASE_COMMIT"; });
  cluster.kill9(2);
  ASSERT_EQ(submit(cluster, write_artifact(cluster, "v2.bin", 2000)).exit_code, 0);
  ASSERT_EQ(submit(cluster, write_artifact(cluster, "v3.bin", 3000)).exit_code, 0);
  cluster.start(2);
  auto answers = wait_for(cluster, 4,
                          [](const StatusAnswer& a) { return state_of(a, 3) == "RELEASE_COMMIT"; });
  ASSERT_TRUE(answers.contains(2));
  // What it committed before the kill came back from its WAL; the rest through catch-up.
  EXPECT_NE(cluster.log(2).find("recovered"), std::string::npos);
  EXPECT_EQ(state_of(answers.at(2), 1), "RELEASE_COMMIT");
  // Once it has executed as far as validator 0 (late votes may still be trickling in), the two
  // registers' operation logs are the same hash chain.
  std::uint64_t target = 0;
  for (int attempt = 0; attempt < 100; ++attempt) {
    answers = wait_for(cluster, 4,
                       [](const StatusAnswer& a) { return state_of(a, 3) == "RELEASE_COMMIT"; });
    if (answers.contains(0) && answers.contains(2) &&
        answers.at(0).last_executed == answers.at(2).last_executed) {
      target = answers.at(0).last_executed;
      break;
    }
    std::this_thread::sleep_for(milliseconds(100));
  }
  ASSERT_GT(target, 0u);
  EXPECT_EQ(answers.at(2).log_head_hash, answers.at(0).log_head_hash);
}

TEST(Cluster, ShutdownCancelsARunningValidation) {
  // A suite that would run for a minute: SIGTERM must kill it, not wait for it.
  LocalCluster cluster(BFTGATE_BINARY, 4, R"(sleep 60; echo '{"pass": true}')");
  cluster.start_all();
  auto proposed = run_command(cluster.bftgate() + " submit --config " + cluster.config() +
                              " --operator-key " + cluster.operator_key() + " --adapter " +
                              write_artifact(cluster, "slow.bin", 1000));
  ASSERT_EQ(proposed.exit_code, 0) << proposed.output;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (cluster.log(1).find("validating adapter version 1") == std::string::npos &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(50));
  }
  ASSERT_NE(cluster.log(1).find("validating adapter version 1"), std::string::npos)
      << cluster.log(1);
  auto started = std::chrono::steady_clock::now();
  EXPECT_EQ(cluster.terminate(1), 0) << cluster.log(1);
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(5));
  EXPECT_NE(cluster.log(1).find("cancelled by shutdown"), std::string::npos) << cluster.log(1);
  EXPECT_NE(cluster.log(1).find("stopped cleanly"), std::string::npos) << cluster.log(1);
}

TEST(Cluster, NoCertificateWithFPlusOneDownThenProgressWhenTheyReturn) {
  LocalCluster cluster(BFTGATE_BINARY, 4, kPass);
  cluster.start_all();
  cluster.kill9(1);
  cluster.kill9(3);
  auto result = submit(cluster, write_artifact(cluster, "adapter.bin", 1000), 3);
  EXPECT_NE(result.exit_code, 0) << result.output;
  auto answers = wait_for(
      cluster, 2, [](const StatusAnswer& a) { return state_of(a, 1) == "RELEASE_COMMIT"; }, 2);
  for (const auto& [id, a] : answers) EXPECT_NE(state_of(a, 1), "RELEASE_COMMIT");
  cluster.start(1);
  cluster.start(3);
  answers = wait_for(
      cluster, 4, [](const StatusAnswer& a) { return state_of(a, 1) == "RELEASE_COMMIT"; }, 60);
  std::size_t released = 0;
  std::string views;
  for (const auto& [id, a] : answers) {
    released += state_of(a, 1) == "RELEASE_COMMIT" ? 1u : 0u;
    views += fmt::format(" v{}: view {} active {} executed {};", id, a.view, a.view_active,
                         a.last_executed);
  }
  EXPECT_EQ(released, 4u) << views;
}

}  // namespace
}  // namespace bftgate::testing

namespace bftgate::testing {
namespace {

TEST(ArtifactStore, RoundTripsChunkedAndRefusesCorruptCopies) {
  LocalCluster cluster(BFTGATE_BINARY, 4, kPass);
  cluster.start_store();
  auto config = ClusterConfig::load(cluster.config());
  ASSERT_TRUE(config.ok());
  auto artifact = write_artifact(cluster, "big.bin", 3 * runtime::kStoreChunk + 12345);
  runtime::StoreClient store(runtime::StoreLink::of(*config, cluster.link()));
  auto digest = store.put(artifact);
  ASSERT_TRUE(digest.ok()) << digest.error().message;
  EXPECT_EQ(*digest, bftgate::sha256_file(artifact)->digest);
  // A second put of the same bytes is a no-op (content-addressed).
  EXPECT_TRUE(store.put(artifact).ok());

  auto copy = cluster.path("copy.bin");
  ASSERT_TRUE(store.get(*digest, copy).ok());
  EXPECT_EQ(bftgate::sha256_file(copy)->digest, *digest);

  // Flip one byte of the store's disk copy: it must refuse to serve it.
  auto object = cluster.path("store") / "objects" / digest->hex();
  {
    std::fstream f(object, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(1000);
    f.put('\x7f');
  }
  auto refused = store.get(*digest, cluster.path("copy2.bin"));
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("corrupt"), std::string::npos) << refused.error().message;
  EXPECT_FALSE(std::filesystem::exists(cluster.path("copy2.bin")));

  // Asking for an unknown digest is a clear error.
  auto unknown = store.get(crypto::sha256(as_bytes("nothing")), cluster.path("x.bin"));
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.error().message.find("not found"), std::string::npos);
}

}  // namespace
}  // namespace bftgate::testing
