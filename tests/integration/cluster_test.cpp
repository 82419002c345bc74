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
#include "bftgate/validation/model.hpp"
#include "bftgate/validation/peft.hpp"
#include "bftgate/validation/training.hpp"
#include "local_cluster.hpp"

namespace bftgate::testing {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;

const std::string kPass = R"(echo '{"pass": true, "metrics": {"suite": "test"}}')";
const std::string kFail = R"(echo '{"pass": false, "metrics": {"suite": "test"}}')";
const std::string kSlowPass = R"(sleep 1; echo '{"pass": true}')";

std::string write_artifact(const LocalCluster& cluster, const std::string& name, std::size_t size) {
  return write_random_artifact(cluster, name, size);
}

CommandResult submit(const LocalCluster& cluster, const std::string& artifact, int timeout_s = 60) {
  return run_command(cluster.bftgate() + " submit --json --wait --timeout " +
                     std::to_string(timeout_s) + " --config " + cluster.config() +
                     " --operator-key " + cluster.operator_key() + " --adapter " + artifact);
}

json last_json(const std::string& output) {
  auto start = output.find('{');
  return start == std::string::npos ? json() : json::parse(output.substr(start), nullptr, false);
}

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
  runtime::RequestPipeline mac(*config, signer, runtime::ClientAuth::kMac);
  runtime::RequestPipeline signed_client(*config, signer);
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
  runtime::StoreClient store(config->artifact_store_endpoint);
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

namespace bftgate::testing {
namespace {

json node_status(const LocalCluster& cluster, int j) {
  auto body = LocalCluster::http_get(cluster.node_port(j), "/status");
  return body.empty() ? json() : json::parse(body, nullptr, false);
}

// Waits until node j has refused something for `reason` (bounded); returns its last status.
json wait_refusal(const LocalCluster& cluster, int j, const std::string& reason, int seconds = 30) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  json status;
  while (std::chrono::steady_clock::now() < deadline) {
    status = node_status(cluster, j);
    if (status.is_object() && status["refusals"].value(reason, 0) > 0) return status;
    std::this_thread::sleep_for(milliseconds(100));
  }
  return status;
}

// Waits until node j serves `version` (or the time is up); returns its last status.
json wait_node(const LocalCluster& cluster, int j, std::uint64_t version, int seconds = 30) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  json status;
  while (std::chrono::steady_clock::now() < deadline) {
    status = node_status(cluster, j);
    // Served at least one request with it, so the swap is visible in the per-version counters.
    if (status.is_object() && status.value("version", std::uint64_t{0}) >= version &&
        status["requests_by_version"].contains(std::to_string(version))) {
      return status;
    }
    std::this_thread::sleep_for(milliseconds(100));
  }
  return status;
}

TEST(InferenceNodes, ConvergeOnCertifiedAdaptersOnly) {
  LocalCluster cluster(BFTGATE_BINARY, 4, kPass);
  cluster.start_all();
  cluster.start_node(0);
  cluster.start_node(1);
  auto artifact = write_artifact(cluster, "adapter.bin", 2'000'000);
  ASSERT_EQ(submit(cluster, artifact).exit_code, 0);
  for (int j = 0; j < 2; ++j) {
    auto status = wait_node(cluster, j, 1);
    ASSERT_EQ(status["version"], 1) << status.dump() << cluster.log(100 + j);
    EXPECT_EQ(status["digest"], bftgate::sha256_file(artifact)->digest.hex());
    EXPECT_GT(status["requests_by_version"]["1"].get<int>(), 0);
  }
  auto metrics = LocalCluster::http_get(cluster.node_port(0), "/metrics");
  EXPECT_NE(metrics.find("bftgate_node_version{node=\"0\"} 1"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("bftgate_node_swaps_total{node=\"0\"} 1"), std::string::npos) << metrics;
  EXPECT_EQ(cluster.terminate(100), 0);
}

TEST(InferenceNodes, ServeCertifiedLoraAdaptersOnTheCpuBackendAndRefuseCertifiedJunk) {
  LocalCluster cluster(BFTGATE_BINARY, 4, kPass);
  // A small model of the tiny-LM architecture and a real LoRA adapter for it (packed PEFT).
  validation::TinyLmArchitecture architecture{.context = 8, .embed_dim = 4, .hidden = {32}};
  validation::TinyLm lm{validation::init_tiny_lm(architecture, 5), {}};
  auto model_path = cluster.path("model.safetensors");
  ASSERT_TRUE(validation::save_tiny_lm(model_path, lm).ok());
  validation::LoraTrainingOptions lora;
  lora.rank = 2;
  lora.target_modules = {"mlp.fc1", "lm_head"};
  auto adapter = validation::init_lora(lm.model, lora);
  ASSERT_TRUE(adapter.ok()) << adapter.error().message;
  for (auto& delta : adapter->deltas) delta.b.setConstant(0.01f);  // a non-zero update
  auto adapter_path = cluster.path("adapter.safetensors");
  ASSERT_TRUE(validation::write_packed_adapter(adapter_path, *adapter).ok());

  cluster.node_model = model_path.string();
  cluster.start_all();
  cluster.start_node(0);
  ASSERT_EQ(submit(cluster, adapter_path.string()).exit_code, 0);
  auto status = wait_node(cluster, 0, 1);
  ASSERT_EQ(status["version"], 1) << status.dump() << cluster.log(100);
  EXPECT_NE(status["serving"]["backend"].get<std::string>().find("cpu"), std::string::npos)
      << status.dump();
  EXPECT_EQ(status["serving"]["active_version"], 1);
  EXPECT_EQ(status["serving"]["requests_failed"], 0);

  // Certified (the validators here pass anything) but not an adapter of this model: the node's own
  // check refuses it and keeps serving version 1.
  ASSERT_EQ(submit(cluster, write_artifact(cluster, "junk.bin", 4000)).exit_code, 0);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    status = node_status(cluster, 0);
    if (status.is_object() && status["refusals"].value("invalid-adapter", 0) > 0) break;
    std::this_thread::sleep_for(milliseconds(100));
  }
  EXPECT_GT(status["refusals"].value("invalid-adapter", 0), 0) << status.dump() << cluster.log(100);
  EXPECT_EQ(status["version"], 1);
  EXPECT_EQ(status["serving"]["active_version"], 1);
  EXPECT_EQ(cluster.terminate(100), 0) << cluster.log(100);
}

TEST(InferenceNodes, NeverServeARejectedAdapter) {
  LocalCluster cluster(BFTGATE_BINARY, 4, kFail);
  cluster.start_all();
  cluster.start_node(0);
  EXPECT_EQ(submit(cluster, write_artifact(cluster, "bad.bin", 1000)).exit_code, 1);
  std::this_thread::sleep_for(milliseconds(1500));  // several polls
  auto status = node_status(cluster, 0);
  EXPECT_EQ(status["version"], 0) << status.dump();
  EXPECT_EQ(status["swaps"], 0);
}

TEST(InferenceNodes, EveryNodeRefusesATamperedArtifact) {
  LocalCluster cluster(BFTGATE_BINARY, 4, kPass);
  // Proposed by path: the validators run in local-test mode, which reads file:// sources.
  for (int id = 0; id < 4; ++id) cluster.extra_args[id] = {"--allow-file-sources"};
  cluster.start_all();
  auto artifact = write_artifact(cluster, "adapter.bin", 50'000);
  // Proposed by path: the validators check the bytes, then someone changes the file.
  auto result =
      run_command(cluster.bftgate() + " submit --no-store --wait --config " + cluster.config() +
                  " --operator-key " + cluster.operator_key() + " --adapter " + artifact);
  ASSERT_EQ(result.exit_code, 0) << result.output;
  {
    std::fstream f(artifact, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(100);
    f.put('\x01');
  }
  cluster.start_node(0);
  cluster.start_node(1);
  for (int j = 0; j < 2; ++j) {
    auto status = wait_refusal(cluster, j, "digest-mismatch");
    EXPECT_EQ(status["version"], 0) << status.dump();
    EXPECT_GT(status["refusals"].value("digest-mismatch", 0), 0) << status.dump();
  }
}

}  // namespace
}  // namespace bftgate::testing

namespace bftgate::testing {
namespace {

// make run's job, end to end: processes, release, convergence, rejection, clean shutdown.
TEST(Demo, ReleasesConvergesRejectsAndStopsCleanly) {
  TempDir dir;
  auto run = dir.path() / "run";
  auto result = run_command(std::string(BFTGATE_BINARY) +
                            " demo --stand-in --artifact-mib 1 --out " + run.string());
  ASSERT_EQ(result.exit_code, 0) << result.output;
  auto report = json::parse(std::ifstream(run / "report.json"));
  EXPECT_TRUE(report["ok"].get<bool>());
  EXPECT_EQ(report["good"]["state"], "RELEASE_COMMIT");
  EXPECT_EQ(report["regressed"]["state"], "REJECTED");
  EXPECT_TRUE(report["regressed"]["fleet_unchanged"].get<bool>());
  EXPECT_TRUE(report["processes_stopped_cleanly"].get<bool>());
  EXPECT_GT(report["convergence"]["measured_s"].get<double>(), 0.0);
  EXPECT_NE(result.output.find("all processes stopped cleanly"), std::string::npos);
}

}  // namespace
}  // namespace bftgate::testing

namespace bftgate::testing {
namespace {

TEST(Adversaries, ForgedCertificateIsRefusedAndTheGenuineReleaseStillLoads) {
  LocalCluster cluster(BFTGATE_BINARY, 4, kPass);
  cluster.byzantine[3] = "forge";  // offers nodes a newer "release" under a forged certificate
  cluster.start_all();
  cluster.start_node(0);
  auto artifact = write_artifact(cluster, "adapter.bin", 10'000);
  ASSERT_EQ(submit(cluster, artifact).exit_code, 0);
  auto status = wait_node(cluster, 0, 1);
  EXPECT_EQ(status["version"], 1) << status.dump() << cluster.log(100);
  status = wait_refusal(cluster, 0, "bad-signature");
  EXPECT_EQ(status["version"], 1);  // the forgery (a version far ahead) never loads
  EXPECT_GT(status["refusals"].value("bad-signature", 0), 0)
      << status.dump() << cluster.log(3) << cluster.log(100);
}

TEST(Adversaries, EquivocatingPrimaryIsReplacedByAViewChange) {
  LocalCluster cluster(BFTGATE_BINARY, 4, kPass);
  cluster.byzantine[0] = "equivocate";  // validator 0 is the primary of view 0
  cluster.start_all();
  auto result = submit(cluster, write_artifact(cluster, "adapter.bin", 1000), 60);
  ASSERT_EQ(result.exit_code, 0) << result.output << cluster.log(1);
  auto answers = wait_for(cluster, 3, [](const StatusAnswer& a) {
    return a.view >= 1 && state_of(a, 1) == "RELEASE_COMMIT";
  });
  std::size_t moved_on = 0;
  for (int id : {1, 2, 3}) {
    if (answers.contains(static_cast<bft::ReplicaId>(id)) &&
        answers.at(static_cast<bft::ReplicaId>(id)).view >= 1) {
      ++moved_on;
    }
  }
  EXPECT_EQ(moved_on, 3u);
  EXPECT_NE(cluster.log(1).find("entered view"), std::string::npos) << cluster.log(1);
}

TEST(Adversaries, TwinsUnderOneIdentityCannotSplitTheCluster) {
  // Validator 0 (the primary of view 0) runs as two processes with one key; a router on its
  // endpoint shows twin A to validator 1 and the clients, twin B to validators 2 and 3.
  LocalCluster cluster(BFTGATE_BINARY, 4, kPass);
  auto ports = runtime::free_port_range(2);
  ASSERT_TRUE(ports.has_value());
  auto twin_a = fmt::format("tcp://127.0.0.1:{}", *ports);
  auto twin_b = fmt::format("tcp://127.0.0.1:{}", *ports + 1);
  auto key = cluster.path("keys/validator-0.key").string();
  for (const auto& [name, endpoint] : {std::pair{"a", twin_a}, std::pair{"b", twin_b}}) {
    cluster.spawn(std::string("twin-") + name,
                  {cluster.bftgate(), "validator", "--config", cluster.config(), "--id", "0",
                   "--key", key, "--data", cluster.path(std::string("twin-") + name).string(),
                   "--validate-cmd", kPass, "--listen", endpoint});
  }
  cluster.spawn("validator-0",
                {cluster.bftgate(), "twin-router", "--config", cluster.config(), "--id", "0",
                 "--twin-a", twin_a, "--twin-b", twin_b, "--side-b", "2,3"});
  cluster.start_store();
  for (int id : {1, 2, 3}) cluster.start(id);

  auto artifact = write_artifact(cluster, "adapter.bin", 1000);
  auto result = submit(cluster, artifact, 90);
  ASSERT_EQ(result.exit_code, 0) << result.output << cluster.log(1);
  auto decided = last_json(result.output);
  ASSERT_EQ(decided["state"], "RELEASE_COMMIT") << result.output;
  auto certificate = crypto::ReleaseCertificate::from_json(decided["certificate"]);
  ASSERT_TRUE(certificate.ok());
  EXPECT_TRUE(bftgate::verify_with_artifact(
                  *certificate, ClusterConfig::load(cluster.config())->validator_set(), artifact)
                  .ok());

  // The honest validators hold one register: same entries, same hash chain.
  auto answers = wait_for(cluster, 4,
                          [](const StatusAnswer& a) { return state_of(a, 1) == "RELEASE_COMMIT"; });
  std::set<std::string> heads;
  for (int id : {1, 2, 3}) {
    ASSERT_TRUE(answers.contains(static_cast<bft::ReplicaId>(id))) << cluster.log(id);
    heads.insert(answers.at(static_cast<bft::ReplicaId>(id)).head_hash.hex());
  }
  EXPECT_EQ(heads.size(), 1u);
  // Both twins really ran and the router really split the traffic.
  EXPECT_NE(cluster.log(0).find("split"), std::string::npos) << cluster.log(0);
  for (const char* twin : {"twin-a", "twin-b"}) EXPECT_EQ(cluster.terminate(twin), 0);
  EXPECT_EQ(cluster.terminate(0), 0);
  EXPECT_NE(cluster.log(0).find("to twin B"), std::string::npos) << cluster.log(0);
}

}  // namespace
}  // namespace bftgate::testing

namespace bftgate::testing {
namespace {

TEST(LinkFaultsOnTheWire, APartitionedValidatorCatchesUpWhenItHeals) {
  LocalCluster cluster(BFTGATE_BINARY, 4, kPass);
  // Validator 3 is cut off from every other validator for the first 4 seconds.
  cluster.faults[3] = "cut=0+1+2,until=4";
  cluster.faults[1] = "loss=0.1,delay=1-20ms";  // and validator 1's links are lossy and slow
  auto started = std::chrono::steady_clock::now();
  cluster.start_all();
  ASSERT_EQ(submit(cluster, write_artifact(cluster, "adapter.bin", 1000)).exit_code, 0);
  auto early = wait_for(
      cluster, 3, [](const StatusAnswer& a) { return state_of(a, 1) == "RELEASE_COMMIT"; }, 5);
  if (early.contains(3) &&
      std::chrono::steady_clock::now() - started < std::chrono::milliseconds(3500)) {
    EXPECT_NE(state_of(early.at(3), 1), "RELEASE_COMMIT");  // still cut off
  }
  auto healed = wait_for(
      cluster, 4, [](const StatusAnswer& a) { return state_of(a, 1) == "RELEASE_COMMIT"; }, 30);
  ASSERT_TRUE(healed.contains(3));
  EXPECT_EQ(state_of(healed.at(3), 1), "RELEASE_COMMIT") << cluster.log(3);
  EXPECT_NE(cluster.log(3).find("injecting link faults"), std::string::npos);
}

}  // namespace
}  // namespace bftgate::testing
