// The CUDA engine directly (skipped without a device): a batch whose columns use different slots
// (SGMV) against the CPU reference per column, wide layers (the two-stage LoRA path), and an fp16
// stack against an fp32 reference. Tolerances: fp32 5e-4 absolute; fp16 3e-2 relative to the
// largest output (fp16 storage of weights and activations, fp32 accumulation).
#include <gtest/gtest.h>

#include "bftgate/gpu/cuda/engine.hpp"
#include "gpu_test_support.hpp"

namespace bftgate::gpu {
namespace {

using cuda::Engine;

class CudaEngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why;
    if (cuda::device_count(&why) == 0) GTEST_SKIP() << "no CUDA device: " << why;
  }

  static cuda::EngineSpec spec_for(const validation::DenseStackModel& model,
                                   cuda::Precision precision, int max_rank) {
    cuda::EngineSpec spec;
    spec.precision = precision;
    spec.vocab = model.vocab;
    spec.embed_dim = model.embed_dim();
    spec.context = model.context;
    for (const auto& layer : model.layers) {
      spec.layers.push_back({static_cast<int>(layer.weight.rows()),
                             static_cast<int>(layer.weight.cols()),
                             layer.activation == validation::Activation::kTanh});
    }
    spec.slots = 3;
    spec.max_rank = max_rank;
    spec.max_batch = 64;
    return spec;
  }

  static std::unique_ptr<Engine> engine_for(const validation::DenseStackModel& model,
                                            cuda::Precision precision, int max_rank) {
    auto engine = Engine::create(spec_for(model, precision, max_rank));
    EXPECT_TRUE(engine.ok()) << engine.error().message;
    if (!engine.ok()) return nullptr;
    std::vector<const float*> weights;
    std::vector<const float*> biases;
    for (const auto& layer : model.layers) {
      weights.push_back(layer.weight.data());
      biases.push_back(layer.bias.data());
    }
    auto uploaded = (*engine)->upload_base(model.embedding.data(), weights, biases);
    EXPECT_TRUE(uploaded.ok()) << uploaded.error().message;
    return std::move(engine).value();
  }

  static void write(Engine& engine, int slot, const validation::DenseStackModel& model,
                    const validation::LoraAdapter& adapter) {
    std::vector<cuda::HostLoraLayer> layers(model.layers.size());
    for (std::size_t l = 0; l < model.layers.size(); ++l) {
      if (const auto* d = adapter.find(model.layers[l].module))
        layers[l] = {d->a.data(), d->b.data(), d->rank(), d->scaling};
    }
    auto written = engine.write_slot(slot, layers);
    ASSERT_TRUE(written.ok()) << written.error().message;
    EXPECT_EQ(written->bytes, engine.slot_bytes() + model.layers.size() * sizeof(float));
    EXPECT_GT(written->upload_seconds, 0.0);
  }
};

TEST_F(CudaEngineTest, ABatchMixingSlotsMatchesEachColumnsReference) {
  // hidden 640 > 512: fc layers take the two-stage (shrink, expand) path, lm_head the fused one.
  const auto model = testing::random_model(8, 8, 640, 2, 3);
  auto engine = engine_for(model, cuda::Precision::kF32, 16);
  ASSERT_NE(engine, nullptr);
  const auto first = testing::random_adapter(model, 16, {}, 1);
  const auto second = testing::random_adapter(model, 3, {"mlp.fc2", "lm_head"}, 2);
  write(*engine, 0, model, first);
  write(*engine, 2, model, second);

  const int batch = 37;  // not a multiple of the 8-column tile
  const auto windows = testing::random_windows(model.context, batch, 4);
  std::vector<int> slots(static_cast<std::size_t>(batch));
  for (int j = 0; j < batch; ++j)
    slots[static_cast<std::size_t>(j)] =
        std::vector<int>{0, -1, 2}[static_cast<std::size_t>(j * 7 % 3)];
  // Columns 0..7 all use one slot: the uniform-tile path is covered too.
  for (int j = 0; j < 8; ++j) slots[static_cast<std::size_t>(j)] = 2;
  Eigen::MatrixXf logits(256, batch);
  auto done = engine->forward_bytes(windows.data(), batch, slots.data(), logits.data());
  ASSERT_TRUE(done.ok()) << done.error().message;
  for (int j = 0; j < batch; ++j) {
    const int slot = slots[static_cast<std::size_t>(j)];
    const validation::LoraAdapter* adapter = slot == 0 ? &first : slot == 2 ? &second : nullptr;
    const auto reference = validation::forward_logits_batch(model, adapter, windows.col(j));
    EXPECT_LE(testing::max_abs_diff(logits.col(j), reference), 5e-4f)
        << "column " << j << " slot " << slot;
  }
}

TEST_F(CudaEngineTest, HalfPrecisionStackAgreesWithTheFp32Reference) {
  const auto model = testing::random_model(16, 16, 1024, 3, 5);
  auto engine = engine_for(model, cuda::Precision::kF16, 16);
  ASSERT_NE(engine, nullptr);
  const auto adapter = testing::random_adapter(model, 16, {}, 6);
  write(*engine, 1, model, adapter);
  const int batch = 24;
  const auto windows = testing::random_windows(model.context, batch, 7);
  std::vector<int> slots(static_cast<std::size_t>(batch), 1);
  Eigen::MatrixXf logits(256, batch);
  ASSERT_TRUE(engine->forward_bytes(windows.data(), batch, slots.data(), logits.data()).ok());
  const auto reference = validation::forward_logits_batch(model, &adapter, windows);
  const float scale = reference.cwiseAbs().maxCoeff();
  EXPECT_LE(testing::max_abs_diff(logits, reference), 3e-2f * scale);
}

TEST_F(CudaEngineTest, PinnedBandwidthIsMeasurable) {
  const auto model = testing::random_model(4, 4, 16, 1, 1);
  auto engine = engine_for(model, cuda::Precision::kF32, 4);
  ASSERT_NE(engine, nullptr);
  auto bandwidth = engine->measure_pinned_h2d_bandwidth(8u << 20, 3);
  ASSERT_TRUE(bandwidth.ok()) << bandwidth.error().message;
  EXPECT_GT(*bandwidth, 1e9);  // any PCIe 3 x16 link or better moves over 1 GB/s
}

TEST_F(CudaEngineTest, RefusesInconsistentSpecsAndSlots) {
  const auto model = testing::random_model(4, 4, 16, 1, 1);
  auto spec = spec_for(model, cuda::Precision::kF32, 4);
  spec.layers[1].in = 17;
  EXPECT_FALSE(Engine::create(spec).ok());
  auto engine = engine_for(model, cuda::Precision::kF32, 4);
  ASSERT_NE(engine, nullptr);
  std::vector<cuda::HostLoraLayer> layers(model.layers.size());
  EXPECT_FALSE(engine->write_slot(3, layers).ok());
  layers[0].rank = 5;  // above max rank 4
  EXPECT_FALSE(engine->write_slot(0, layers).ok());
  const int bad_slot = 7;
  const std::vector<std::uint8_t> window(4, 0);
  float out[256];
  EXPECT_FALSE(engine->forward_bytes(window.data(), 1, &bad_slot, out).ok());
}

}  // namespace
}  // namespace bftgate::gpu
