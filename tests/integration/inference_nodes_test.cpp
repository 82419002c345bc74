// Inference nodes as real processes on 127.0.0.1: they converge on certified adapters only and
// refuse what does not check out; and `bftgate demo`, the whole run end to end.
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "bftgate/io/file_digest.hpp"
#include "bftgate/validation/model.hpp"
#include "bftgate/validation/peft.hpp"
#include "bftgate/validation/training.hpp"
#include "cluster_test_support.hpp"
#include "local_cluster.hpp"

namespace bftgate::testing {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using namespace cluster_support;  // the shared helpers (cluster_test_support.hpp)

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
