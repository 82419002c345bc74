// Every backend against the CPU reference (validation::forward_logits_batch). The CPU backend
// runs everywhere; the CUDA cases skip without a device. Tolerances: CPU backend 1e-5 absolute
// (the same Eigen operations); CUDA fp32 5e-4 absolute on logits of magnitude up to about 10
// (cuBLAS and our kernels sum in another order; tanhf vs Eigen's tanh).
#include "bftgate/gpu/backend.hpp"

#include <gtest/gtest.h>

#include "gpu_test_support.hpp"

namespace bftgate::gpu {
namespace {

constexpr float kCpuTolerance = 1e-5f;
constexpr float kCudaTolerance = 5e-4f;

class BackendTest : public ::testing::TestWithParam<BackendKind> {
 protected:
  void SetUp() override {
    if (GetParam() == BackendKind::kCuda && !cuda_available()) {
      GTEST_SKIP() << "no CUDA: " << cuda_unavailable_reason();
    }
    auto backend = make_backend(GetParam(), model_, options_);
    ASSERT_TRUE(backend.ok()) << backend.error().message;
    backend_ = std::move(backend).value();
  }

  float tolerance() const {
    return GetParam() == BackendKind::kCuda ? kCudaTolerance : kCpuTolerance;
  }

  VerifiedAdapter verified(std::uint64_t version, const validation::LoraAdapter& adapter) {
    return cluster_.verified(version, adapter, model_.shape(), backend_->adapter_limits());
  }

  // Logits from the backend vs the reference with `adapter` (null: base model).
  void expect_matches_reference(const validation::LoraAdapter* adapter, std::uint64_t version,
                                int batch, std::uint32_t seed) {
    const auto windows = testing::random_windows(model_.context, batch, seed);
    auto result = backend_->run_batch(windows);
    ASSERT_TRUE(result.ok()) << result.error().message;
    EXPECT_EQ(result->version, version);
    const auto reference = validation::forward_logits_batch(model_, adapter, windows);
    EXPECT_LE(testing::max_abs_diff(result->logits, reference), tolerance());
  }

  testing::CertifyingCluster cluster_;
  validation::DenseStackModel model_ = testing::random_model(8, 8, 48, 2, 11);
  BackendOptions options_{.slots = 3, .max_rank = 16, .max_batch = 32};
  std::unique_ptr<ServingBackend> backend_;
};

TEST_P(BackendTest, BaseModelMatchesTheReference) {
  EXPECT_EQ(backend_->kind(), GetParam());
  EXPECT_EQ(backend_->active_version(), 0u);
  expect_matches_reference(nullptr, 0, 1, 1);
  expect_matches_reference(nullptr, 0, 19, 2);
  expect_matches_reference(nullptr, 0, 70, 3);  // above max_batch: CUDA runs it in chunks
}

TEST_P(BackendTest, AdaptersBelowMaxRankMatchTheReference) {
  struct Case {
    int rank;
    std::vector<std::string> modules;
  };
  const std::vector<Case> cases = {
      {8, {}}, {2, {"mlp.fc1"}}, {16, {"mlp.fc2", "lm_head"}}, {5, {"lm_head"}}};
  std::uint64_t version = 0;
  for (const auto& c : cases) {
    ++version;
    const auto adapter = testing::random_adapter(model_, c.rank, c.modules,
                                                 static_cast<std::uint32_t>(100 + version));
    auto swapped = backend_->swap(verified(version, adapter));
    ASSERT_TRUE(swapped.ok()) << swapped.error().message;
    EXPECT_EQ(swapped->flip.version, version);
    EXPECT_EQ(swapped->flip.previous_version, version - 1);
    EXPECT_GT(swapped->stage.bytes, 0u);
    expect_matches_reference(&adapter, version, 13, static_cast<std::uint32_t>(version));
    // The adapter changes the output (else this test could not tell versions apart).
    const auto windows = testing::random_windows(model_.context, 4, 9);
    EXPECT_GT(testing::max_abs_diff(validation::forward_logits_batch(model_, &adapter, windows),
                                    validation::forward_logits_batch(model_, nullptr, windows)),
              0.05f);
  }
}

TEST_P(BackendTest, StagingAloneDoesNotChangeWhatIsServed) {
  const auto first = testing::random_adapter(model_, 4, {}, 1);
  const auto second = testing::random_adapter(model_, 4, {}, 2);
  ASSERT_TRUE(backend_->swap(verified(1, first)).ok());
  auto staged = backend_->stage(verified(2, second));
  ASSERT_TRUE(staged.ok()) << staged.error().message;
  EXPECT_EQ(backend_->staged_version(), 2u);
  expect_matches_reference(&first, 1, 8, 5);
  ASSERT_TRUE(backend_->flip().ok());
  expect_matches_reference(&second, 2, 8, 5);
}

TEST_P(BackendTest, StaleVersionsAreRefusedWithAReason) {
  const auto adapter = testing::random_adapter(model_, 4, {}, 3);
  ASSERT_TRUE(backend_->swap(verified(5, adapter)).ok());
  for (std::uint64_t stale : {4u, 5u}) {
    auto refused = backend_->stage(verified(stale, adapter));
    ASSERT_FALSE(refused.ok());
    EXPECT_NE(refused.error().message.find("stale adapter"), std::string::npos)
        << refused.error().message;
  }
  auto no_staged = backend_->flip();
  ASSERT_FALSE(no_staged.ok());
  EXPECT_NE(no_staged.error().message.find("no staged adapter"), std::string::npos);
  EXPECT_EQ(backend_->active_version(), 5u);
  const auto stats = backend_->stats();
  EXPECT_EQ(stats.stage_refusals, 2u);
  EXPECT_EQ(stats.flip_refusals, 1u);
  EXPECT_EQ(stats.flips, 1u);
  expect_matches_reference(&adapter, 5, 4, 1);  // still serving version 5
}

TEST_P(BackendTest, AdapterVerifiedForAnotherModelIsRefused) {
  auto other = testing::random_model(8, 8, 48, 2, 11, "another-model");
  const auto adapter = testing::random_adapter(other, 4, {}, 3);
  auto foreign = cluster_.verified(1, adapter, other.shape(), {});
  auto refused = backend_->stage(std::move(foreign));
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("verified for base model 'another-model'"),
            std::string::npos)
      << refused.error().message;
}

TEST_P(BackendTest, RankAboveTheSlotsIsRefused) {
  const auto adapter = testing::random_adapter(model_, 20, {"lm_head"}, 3);
  auto high = cluster_.verified(1, adapter, model_.shape(), {.max_rank = 64});
  auto refused = backend_->stage(std::move(high));
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("rank 20"), std::string::npos) << refused.error().message;
  EXPECT_EQ(backend_->active_version(), 0u);
}

TEST_P(BackendTest, WindowsOfTheWrongLengthAreRefused) {
  auto refused = backend_->run_batch(testing::random_windows(model_.context + 1, 2, 1));
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("the model reads 8"), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(Backends, BackendTest,
                         ::testing::Values(BackendKind::kCpu, BackendKind::kCuda),
                         [](const auto& param_info) {
                           return std::string(to_string(param_info.param));
                         });

TEST(MakeBackendTest, AutoPicksCudaOnlyWithADevice) {
  const auto model = testing::random_model(4, 4, 16, 1, 1);
  auto backend = make_backend(BackendKind::kAuto, model);
  ASSERT_TRUE(backend.ok()) << backend.error().message;
  EXPECT_EQ((*backend)->kind(), cuda_available() ? BackendKind::kCuda : BackendKind::kCpu);
  EXPECT_FALSE((*backend)->device_description().empty());
}

TEST(MakeBackendTest, ForcingCudaWithoutADeviceIsAClearError) {
  if (cuda_available()) GTEST_SKIP() << "a CUDA device is present";
  const auto model = testing::random_model(4, 4, 16, 1, 1);
  auto backend = make_backend(BackendKind::kCuda, model);
  ASSERT_FALSE(backend.ok());
  EXPECT_NE(backend.error().message.find("CUDA backend requested but unavailable"),
            std::string::npos)
      << backend.error().message;
}

TEST(MakeBackendTest, RefusesBadOptionsAndModels) {
  const auto model = testing::random_model(4, 4, 16, 1, 1);
  EXPECT_FALSE(make_backend(BackendKind::kCpu, model, {.slots = 1}).ok());
  EXPECT_FALSE(make_backend(BackendKind::kCpu, model, {.max_rank = 0}).ok());
  auto broken = model;
  broken.layers[1].weight.resize(256, 7);  // lm_head no longer reads what fc1 writes
  auto refused = make_backend(BackendKind::kCpu, broken);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("lm_head"), std::string::npos) << refused.error().message;
}

TEST(BackendKindTest, ParsesItsNames) {
  for (auto kind : {BackendKind::kAuto, BackendKind::kCpu, BackendKind::kCuda}) {
    EXPECT_EQ(parse_backend_kind(to_string(kind)), kind);
  }
  EXPECT_FALSE(parse_backend_kind("gpu").has_value());
}

}  // namespace
}  // namespace bftgate::gpu
