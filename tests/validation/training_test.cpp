// Backpropagation (against finite differences), training and LoRA of the tiny LM.
#include "bftgate/validation/training.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "bftgate/validation/model.hpp"

namespace bftgate::validation {
namespace {

const TinyLmArchitecture kTiny{.context = 3, .embed_dim = 4, .hidden = {6, 5}};

// A batch of 8 windows over a small alphabet.
void make_batch(const DenseStackModel& model, ByteWindows& windows,
                std::vector<std::uint8_t>& targets) {
  Rng rng(99);
  windows.resize(model.context, 8);
  targets.resize(8);
  for (Eigen::Index j = 0; j < windows.cols(); ++j) {
    for (Eigen::Index t = 0; t < windows.rows(); ++t)
      windows(t, j) = static_cast<std::uint8_t>('a' + rng.index(5));
    targets[static_cast<std::size_t>(j)] = static_cast<std::uint8_t>('a' + rng.index(5));
  }
}

LoraAdapter random_adapter(const DenseStackModel& model, std::vector<std::string> modules,
                           int rank) {
  LoraTrainingOptions options;
  options.rank = rank;
  options.alpha = 3.0f;
  options.target_modules = std::move(modules);
  auto adapter = init_lora(model, options);
  EXPECT_TRUE(adapter.ok());
  Rng rng(4);
  for (auto& delta : adapter->deltas) {
    for (Eigen::Index i = 0; i < delta.b.size(); ++i)
      delta.b.data()[i] = static_cast<float>(0.3 * rng.normal());
  }
  return *adapter;
}

// Central differences of the loss in `value`, against the analytic gradient, at a few entries.
template <class Loss>
void expect_gradient_matches(float* value, const float* gradient, Eigen::Index size, Loss&& loss,
                             const std::string& what) {
  constexpr float kStep = 1e-2f;
  const Eigen::Index stride = std::max<Eigen::Index>(1, size / 7);
  int checked = 0;
  for (Eigen::Index i = 0; i < size; i += stride) {
    const float saved = value[i];
    value[i] = saved + kStep;
    const double up = loss();
    value[i] = saved - kStep;
    const double down = loss();
    value[i] = saved;
    const double numeric = (up - down) / (2.0 * kStep);
    EXPECT_NEAR(gradient[i], numeric, 5e-5 + 5e-3 * std::abs(numeric)) << what << " entry " << i;
    ++checked;
  }
  EXPECT_GT(checked, 0);
}

TEST(Backprop, BaseGradientsMatchFiniteDifferences) {
  auto model = init_tiny_lm(kTiny, 3);
  for (auto& layer : model.layers) layer.bias.setConstant(0.1f);
  ByteWindows windows;
  std::vector<std::uint8_t> targets;
  make_batch(model, windows, targets);
  ModelGradients gradients;
  cross_entropy_with_gradients(model, nullptr, windows, targets, &gradients, nullptr);
  auto loss = [&] {
    return cross_entropy_with_gradients(model, nullptr, windows, targets, nullptr, nullptr);
  };
  // The rows of the embedding that the batch uses.
  for (int byte = 'a'; byte < 'a' + 5; ++byte) {
    for (Eigen::Index c = 0; c < model.embedding.cols(); ++c) {
      float* value = &model.embedding(byte, c);
      expect_gradient_matches(value, &gradients.embedding(byte, c), 1, loss, "embedding");
    }
  }
  EXPECT_EQ(gradients.embedding.row('z').norm(), 0.0f);  // unused rows get no gradient
  for (std::size_t l = 0; l < model.layers.size(); ++l) {
    auto& layer = model.layers[l];
    expect_gradient_matches(layer.weight.data(), gradients.weight[l].data(), layer.weight.size(),
                            loss, layer.module + ".weight");
    expect_gradient_matches(layer.bias.data(), gradients.bias[l].data(), layer.bias.size(), loss,
                            layer.module + ".bias");
  }
}

TEST(Backprop, LoraGradientsMatchFiniteDifferences) {
  const auto model = init_tiny_lm(kTiny, 3);
  auto adapter = random_adapter(model, {"mlp.fc1", "lm_head"}, 2);
  ByteWindows windows;
  std::vector<std::uint8_t> targets;
  make_batch(model, windows, targets);
  LoraGradients gradients;
  cross_entropy_with_gradients(model, &adapter, windows, targets, nullptr, &gradients);
  auto loss = [&] {
    return cross_entropy_with_gradients(model, &adapter, windows, targets, nullptr, nullptr);
  };
  ASSERT_EQ(gradients.a.size(), 2u);
  for (std::size_t d = 0; d < adapter.deltas.size(); ++d) {
    auto& delta = adapter.deltas[d];
    EXPECT_GT(gradients.a[d].norm(), 0.0f);
    expect_gradient_matches(delta.a.data(), gradients.a[d].data(), delta.a.size(), loss,
                            delta.module + " A");
    expect_gradient_matches(delta.b.data(), gradients.b[d].data(), delta.b.size(), loss,
                            delta.module + " B");
  }
}

TEST(Backprop, TwoHalvesOnTwoThreadsGiveTheWholeBatchsLossAndGradients) {
  auto model = init_tiny_lm(kTiny, 4);
  for (auto& layer : model.layers) layer.bias.setConstant(0.1f);
  const auto adapter = random_adapter(model, {"mlp.fc1", "lm_head"}, 2);
  ByteWindows batch;
  std::vector<std::uint8_t> batch_targets;
  make_batch(model, batch, batch_targets);
  HalvedBackprop halved;
  for (const Eigen::Index size : {8, 7}) {  // an odd batch: halves of 3 and 4, weighted so
    const ByteWindows windows = batch.leftCols(size);
    const std::span<const std::uint8_t> targets(batch_targets.data(),
                                                static_cast<std::size_t>(size));
    ModelGradients whole;
    ModelGradients halves;
    const double whole_loss =
        cross_entropy_with_gradients(model, nullptr, windows, targets, &whole, nullptr);
    EXPECT_NEAR(halved(model, nullptr, windows, targets, &halves, nullptr), whole_loss, 1e-6);
    EXPECT_TRUE(halves.embedding.isApprox(whole.embedding, 1e-5f)) << "batch " << size;
    for (std::size_t l = 0; l < model.layers.size(); ++l) {
      EXPECT_TRUE(halves.weight[l].isApprox(whole.weight[l], 1e-5f)) << "layer " << l;
      EXPECT_TRUE(halves.bias[l].isApprox(whole.bias[l], 1e-5f)) << "layer " << l;
    }
    LoraGradients whole_lora;
    LoraGradients halves_lora;
    const double lora_loss =
        cross_entropy_with_gradients(model, &adapter, windows, targets, nullptr, &whole_lora);
    EXPECT_NEAR(halved(model, &adapter, windows, targets, nullptr, &halves_lora), lora_loss, 1e-6);
    for (std::size_t d = 0; d < adapter.deltas.size(); ++d) {
      EXPECT_TRUE(halves_lora.a[d].isApprox(whole_lora.a[d], 1e-5f)) << "delta " << d;
      EXPECT_TRUE(halves_lora.b[d].isApprox(whole_lora.b[d], 1e-5f)) << "delta " << d;
    }
  }
}

TEST(Backprop, LossMatchesTheReferenceForward) {
  const auto model = init_tiny_lm(kTiny, 8);
  const auto adapter = random_adapter(model, {"mlp.fc2"}, 3);
  ByteWindows windows;
  std::vector<std::uint8_t> targets;
  make_batch(model, windows, targets);
  const Eigen::MatrixXf logits = forward_logits_batch(model, &adapter, windows);
  double expected = 0.0;
  for (Eigen::Index j = 0; j < logits.cols(); ++j) {
    const double lse = std::log(logits.col(j).array().exp().cast<double>().sum());
    expected += lse - static_cast<double>(logits(targets[static_cast<std::size_t>(j)], j));
  }
  expected /= static_cast<double>(logits.cols());
  EXPECT_NEAR(cross_entropy_with_gradients(model, &adapter, windows, targets, nullptr, nullptr),
              expected, 1e-5);
}

TEST(Lora, ZeroBLeavesOutputsUnchanged) {
  const auto model = init_tiny_lm(kTiny, 5);
  LoraTrainingOptions options;
  options.rank = 2;
  auto adapter = init_lora(model, options);  // A random, B = 0 (PEFT's initialisation)
  ASSERT_TRUE(adapter.ok()) << adapter.error().message;
  ASSERT_EQ(adapter->deltas.size(), 3u);
  EXPECT_GT(adapter->deltas[0].a.norm(), 0.0f);
  EXPECT_EQ(adapter->deltas[0].b.norm(), 0.0f);
  ByteWindows windows;
  std::vector<std::uint8_t> targets;
  make_batch(model, windows, targets);
  EXPECT_EQ(forward_logits_batch(model, &*adapter, windows),
            forward_logits_batch(model, nullptr, windows));
}

TEST(Lora, UnmergedPathEqualsMergedWeights) {
  const auto model = init_tiny_lm(kTiny, 6);
  const auto adapter = random_adapter(model, {"mlp.fc1", "mlp.fc2", "lm_head"}, 2);
  auto merged = model;
  for (auto& layer : merged.layers)
    layer.weight = merged_weight(layer.weight, *adapter.find(layer.module));
  ByteWindows windows;
  std::vector<std::uint8_t> targets;
  make_batch(model, windows, targets);
  const Eigen::MatrixXf unmerged = forward_logits_batch(model, &adapter, windows);
  const Eigen::MatrixXf reference = forward_logits_batch(merged, nullptr, windows);
  EXPECT_GT((unmerged - forward_logits_batch(model, nullptr, windows)).norm(),
            1e-2f);  // the adapter matters
  EXPECT_LT((unmerged - reference).cwiseAbs().maxCoeff(), 1e-4f);
}

TEST(Lora, RefusesUnknownTargetsAndBadRanks) {
  const auto model = init_tiny_lm(kTiny, 6);
  LoraTrainingOptions options;
  options.target_modules = {"mlp.fc9"};
  auto unknown = init_lora(model, options);
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.error().message.find("mlp.fc9"), std::string::npos);
  options.target_modules = {"mlp.fc2"};
  options.rank = 6;  // fc2 is [5, 6]
  EXPECT_FALSE(init_lora(model, options).ok());
  options.rank = 0;
  EXPECT_FALSE(init_lora(model, options).ok());
  options.rank = 2;
  options.use_rslora = true;
  options.alpha = 4.0f;
  auto rslora = init_lora(model, options);
  ASSERT_TRUE(rslora.ok());
  EXPECT_FLOAT_EQ(rslora->deltas[0].scaling, 4.0f / std::sqrt(2.0f));
  EXPECT_EQ(rslora->config.base_model_name_or_path, kTinyLmName);
}

// A short text with a lot of structure, so a few hundred steps learn it.
BaseCorpus tiny_corpus() {
  BaseCorpus corpus;
  corpus.sha256_hex = "test";
  for (int i = 0; i < 60; ++i)
    corpus.split.train += "the cat sat on the mat. the dog sat on the log.\n";
  corpus.split.heldout = "the dog sat on the mat. the cat sat on the log.\n";
  return corpus;
}

BaseTrainingOptions tiny_options(std::uint64_t seed) {
  BaseTrainingOptions options;
  options.seed = seed;
  options.architecture = {.context = 4, .embed_dim = 4, .hidden = {24, 24}};
  options.optimizer.steps = 150;
  options.optimizer.batch = 32;
  options.optimizer.warmup_steps = 10;
  options.optimizer.learning_rate = 1e-2f;
  options.optimizer.progress_every = 10;
  return options;
}

TEST(Training, ReducesTheLossAndBeatsTheUnigramBaseline) {
  const auto corpus = tiny_corpus();
  std::vector<double> losses;
  auto lm = train_tiny_lm(corpus, tiny_options(1), [&](const TrainingProgress& p) {
    EXPECT_EQ(p.phase, "base");
    losses.push_back(p.loss);
  });
  ASSERT_TRUE(lm.ok()) << lm.error().message;
  ASSERT_EQ(losses.size(), 15u);
  EXPECT_LT(losses.back(), 0.5 * losses.front());
  const UnigramModel unigram(corpus.split.train);
  const double unigram_ppl =
      perplexity(unigram.log_likelihood(corpus.split.heldout), corpus.split.heldout.size());
  EXPECT_LT(lm->info.heldout_perplexity, 0.5 * unigram_ppl);
  EXPECT_EQ(lm->info.training_steps, 150u);
  EXPECT_EQ(lm->info.corpus_sha256, "test");
}

TEST(Training, SameSeedSameWeights) {
  const auto corpus = tiny_corpus();
  auto options = tiny_options(7);
  options.optimizer.steps = 40;
  auto first = train_tiny_lm(corpus, options);
  auto second = train_tiny_lm(corpus, options);
  options.seed = 8;
  auto other = train_tiny_lm(corpus, options);
  ASSERT_TRUE(first.ok() && second.ok() && other.ok());
  EXPECT_EQ(first->model.embedding, second->model.embedding);
  for (std::size_t l = 0; l < first->model.layers.size(); ++l) {
    EXPECT_EQ(first->model.layers[l].weight, second->model.layers[l].weight);
    EXPECT_EQ(first->model.layers[l].bias, second->model.layers[l].bias);
  }
  EXPECT_NE(first->model.layers[0].weight, other->model.layers[0].weight);
}

TEST(Training, LoraFineTuningLowersTheLossOnItsTextOnly) {
  const auto corpus = tiny_corpus();
  auto base = train_tiny_lm(corpus, tiny_options(1));
  ASSERT_TRUE(base.ok());
  std::string new_text;
  for (int i = 0; i < 40; ++i) new_text += "a red fox ran to the den.\n";
  LoraTrainingOptions options;
  options.rank = 4;
  options.target_modules = {"mlp.fc2", "lm_head"};
  options.optimizer.steps = 120;
  options.optimizer.batch = 32;
  options.optimizer.warmup_steps = 5;
  options.optimizer.learning_rate = 1e-2f;
  const auto before = base->model;
  auto adapter = train_lora(base->model, new_text, options);
  ASSERT_TRUE(adapter.ok()) << adapter.error().message;
  EXPECT_LT(text_perplexity(base->model, &*adapter, new_text),
            0.5 * text_perplexity(base->model, nullptr, new_text));
  EXPECT_EQ(base->model.layers[1].weight, before.layers[1].weight);  // the base stays frozen
  // Same seed, same adapter.
  auto again = train_lora(base->model, new_text, options);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(adapter->deltas[1].b, again->deltas[1].b);
}

TEST(Training, MaskedDatasetUsesOnlyTargets) {
  const std::string text = "abcdef\nghij\n";
  std::vector<bool> mask(text.size(), false);
  mask[3] = mask[9] = true;
  const ByteDataset data(text, mask, 3, 1.0);
  ASSERT_EQ(data.size(), 2u);
  Rng rng(1);
  ByteWindows windows;
  std::vector<std::uint8_t> targets;
  const std::vector<std::size_t> examples{0, 1};
  data.make_batch(examples, rng, windows, targets);
  EXPECT_EQ(targets, (std::vector<std::uint8_t>{'d', 'i'}));
  EXPECT_EQ(windows(0, 0), 'a');
  EXPECT_EQ(windows(2, 0), 'c');
  // 'i' is the third byte of its line: with line-start padding 1, what precedes the line is 0.
  EXPECT_EQ(windows(0, 1), 0);
  EXPECT_EQ(windows(1, 1), 'g');
  EXPECT_EQ(windows(2, 1), 'h');
}

TEST(Training, LearningRateSchedule) {
  OptimizerOptions options;
  options.steps = 100;
  options.warmup_steps = 10;
  options.learning_rate = 1.0f;
  options.final_lr_fraction = 0.1f;
  EXPECT_FLOAT_EQ(learning_rate_at(options, 0), 0.1f);
  EXPECT_FLOAT_EQ(learning_rate_at(options, 9), 1.0f);
  EXPECT_FLOAT_EQ(learning_rate_at(options, 10), 1.0f);
  EXPECT_NEAR(learning_rate_at(options, 55), 0.55f, 1e-5f);
  EXPECT_NEAR(learning_rate_at(options, 99), 0.1f, 1e-3f);
}

}  // namespace
}  // namespace bftgate::validation
