// The tiny LM's scoring API and model files.
#include "bftgate/validation/model.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <string>

#include "bftgate/io/file_io.hpp"
#include "bftgate/validation/rng.hpp"

namespace bftgate::validation {
namespace {

namespace fs = std::filesystem;

// A bigram model whose probabilities are known exactly: context 1, one-hot embeddings
// (E = 256) and lm_head weight[next, prev] = log P(next | prev), so softmax gives P back.
// P(. | 0): 'a' 1/2, 'b' 1/4, the other 254 bytes share 1/4. P(. | 'a'): 'b' 0.9, the others share
// 0.1. Any other previous byte: uniform.
DenseStackModel bigram_model() {
  DenseStackModel model;
  model.name = "bigram";
  model.context = 1;
  model.embedding = Eigen::MatrixXf::Identity(256, 256);
  Eigen::MatrixXf log_p = Eigen::MatrixXf::Constant(256, 256, std::log(1.0f / 256.0f));
  log_p.col(0).setConstant(std::log(0.25f / 254.0f));
  log_p(static_cast<Eigen::Index>('a'), 0) = std::log(0.5f);
  log_p(static_cast<Eigen::Index>('b'), 0) = std::log(0.25f);
  log_p.col('a').setConstant(std::log(0.1f / 255.0f));
  log_p(static_cast<Eigen::Index>('b'), static_cast<Eigen::Index>('a')) = std::log(0.9f);
  model.layers.push_back({"lm_head", log_p, Eigen::VectorXf::Zero(256), Activation::kNone});
  return model;
}

TEST(Scoring, LogLikelihoodOfAHandBuiltBigramModel) {
  const auto model = bigram_model();
  ASSERT_TRUE(check_model(model).ok());
  // The first byte is read after the padding byte 0.
  EXPECT_NEAR(log_likelihood(model, nullptr, "", "a"), std::log(0.5), 1e-5);
  EXPECT_NEAR(log_likelihood(model, nullptr, "", "ab"), std::log(0.5) + std::log(0.9), 1e-5);
  EXPECT_NEAR(log_likelihood(model, nullptr, "a", "b"), std::log(0.9), 1e-5);
  EXPECT_NEAR(log_likelihood(model, nullptr, "a", "c"), std::log(0.1 / 255.0), 1e-5);
  EXPECT_NEAR(log_likelihood(model, nullptr, "x", "bb"), 2 * std::log(1.0 / 256.0), 1e-5);
  EXPECT_NEAR(log_likelihood(model, nullptr, "", "q"), std::log(0.25 / 254.0), 1e-5);
  EXPECT_DOUBLE_EQ(log_likelihood(model, nullptr, "abc", ""), 0.0);
  EXPECT_NEAR(rolling_log_likelihood(model, nullptr, "aba"),
              std::log(0.5) + std::log(0.9) + std::log(1.0 / 256.0), 1e-5);
}

TEST(Scoring, RollingLogLikelihoodIsTheSumOfPerByteLogLikelihoods) {
  const auto model = init_tiny_lm({.context = 5, .embed_dim = 3, .hidden = {8}}, 11);
  // Longer than one scoring batch (1024 windows), so the chunking is covered.
  std::string text;
  Rng rng(3);
  for (int i = 0; i < 1500; ++i) text += static_cast<char>('a' + rng.index(6));
  double sum = 0.0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    sum += log_likelihood(model, nullptr, std::string_view(text).substr(0, i), text.substr(i, 1));
  }
  const double rolling = rolling_log_likelihood(model, nullptr, text);
  EXPECT_NEAR(rolling, sum, 1e-6 * std::abs(sum));
  EXPECT_NEAR(text_perplexity(model, nullptr, text), std::exp(-rolling / 1500.0), 1e-9);
  // A context followed by a continuation scores the continuation as the rolling text does.
  EXPECT_NEAR(log_likelihood(model, nullptr, text.substr(0, 700), text.substr(700)),
              rolling - rolling_log_likelihood(model, nullptr, text.substr(0, 700)),
              1e-6 * std::abs(sum));
}

class ModelFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("bftgate-model-test-" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    lm_.model = init_tiny_lm({.context = 6, .embed_dim = 4, .hidden = {10, 7}}, 5);
    lm_.model.layers[0].bias.setConstant(0.25f);
    lm_.info = {42, std::string(64, 'c'), 1234, 3.5};
  }
  void TearDown() override { fs::remove_all(dir_); }

  // The model's tensors and metadata after `edit`, written and loaded back.
  template <class Edit>
  Result<TinyLm> load_edited(Edit&& edit) {
    auto tensors = model_tensors(lm_.model);
    auto metadata = model_metadata(lm_);
    edit(tensors, metadata);
    const auto file = dir_ / "edited.safetensors";
    EXPECT_TRUE(write_safetensors_file(file, tensors, metadata, DType::kF32).ok());
    return load_tiny_lm(file);
  }

  fs::path dir_;
  TinyLm lm_;
};

TEST_F(ModelFiles, SaveLoadRoundTrip) {
  const auto file = dir_ / kModelFileName;
  ASSERT_TRUE(save_tiny_lm(file, lm_).ok());
  auto loaded = load_tiny_lm(file);
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  const auto& model = loaded->model;
  EXPECT_EQ(model.name, lm_.model.name);
  EXPECT_EQ(model.context, 6);
  EXPECT_EQ(model.embedding, lm_.model.embedding);
  ASSERT_EQ(model.layers.size(), 3u);
  for (std::size_t l = 0; l < model.layers.size(); ++l) {
    EXPECT_EQ(model.layers[l].module, lm_.model.layers[l].module);
    EXPECT_EQ(model.layers[l].weight, lm_.model.layers[l].weight);
    EXPECT_EQ(model.layers[l].bias, lm_.model.layers[l].bias);
    EXPECT_EQ(model.layers[l].activation, lm_.model.layers[l].activation);
  }
  EXPECT_EQ(model.layers[0].module, "mlp.fc1");
  EXPECT_EQ(model.layers[2].module, "lm_head");
  EXPECT_EQ(model.layers[2].activation, Activation::kNone);
  EXPECT_EQ(loaded->info.seed, 42u);
  EXPECT_EQ(loaded->info.corpus_sha256, std::string(64, 'c'));
  EXPECT_EQ(loaded->info.training_steps, 1234u);
  EXPECT_DOUBLE_EQ(loaded->info.heldout_perplexity, 3.5);
}

TEST_F(ModelFiles, RefusesAWrongShape) {
  auto loaded = load_edited([](auto& tensors, auto&) {
    tensors[1].shape = {10, 23};  // mlp.fc1.weight is [10, 24]
    tensors[1].values.resize(230);
  });
  ASSERT_FALSE(loaded.ok());
  EXPECT_NE(loaded.error().message.find("mlp.fc1.weight"), std::string::npos)
      << loaded.error().message;
}

TEST_F(ModelFiles, RefusesAMissingOrExtraTensor) {
  auto missing = load_edited([](auto& tensors, auto&) { tensors.pop_back(); });  // lm_head.bias
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find("lm_head.bias"), std::string::npos)
      << missing.error().message;
  auto extra = load_edited([](auto& tensors, auto&) { tensors.push_back({"extra", {1}, {0.0f}}); });
  ASSERT_FALSE(extra.ok());
  EXPECT_NE(extra.error().message.find("tensors"), std::string::npos) << extra.error().message;
}

TEST_F(ModelFiles, RefusesABrokenArchitecture) {
  auto no_format = load_edited([](auto&, auto& metadata) { metadata.erase("format"); });
  ASSERT_FALSE(no_format.ok());
  EXPECT_NE(no_format.error().message.find("format"), std::string::npos);
  auto bad_json =
      load_edited([](auto&, auto& metadata) { metadata["architecture"] = "{not json"; });
  ASSERT_FALSE(bad_json.ok());
  EXPECT_NE(bad_json.error().message.find("architecture"), std::string::npos);
  auto bad_context = load_edited([](auto&, auto& metadata) {
    auto& text = metadata["architecture"];
    text.replace(text.find("\"context\":6"), 11, "\"context\":0");
  });
  ASSERT_FALSE(bad_context.ok());
  EXPECT_NE(bad_context.error().message.find("context"), std::string::npos)
      << bad_context.error().message;
  auto bad_seed = load_edited([](auto&, auto& metadata) { metadata["seed"] = "-1"; });
  ASSERT_FALSE(bad_seed.ok());
  EXPECT_NE(bad_seed.error().message.find("seed"), std::string::npos);
}

TEST_F(ModelFiles, RefusesNonFiniteWeights) {
  auto loaded = load_edited([](auto& tensors, auto&) { tensors[3].values[2] = NAN; });
  ASSERT_FALSE(loaded.ok());
  EXPECT_NE(loaded.error().message.find("non-finite"), std::string::npos) << loaded.error().message;
}

TEST_F(ModelFiles, RefusesAFileThatIsNotSafetensors) {
  const auto file = dir_ / "garbage.safetensors";
  ASSERT_TRUE(
      write_file_atomic(file, as_bytes("this is not a model"), {.mode = 0644, .overwrite = true})
          .ok());
  auto loaded = load_tiny_lm(file);
  ASSERT_FALSE(loaded.ok());
  EXPECT_FALSE(loaded.error().message.empty());
  EXPECT_FALSE(load_tiny_lm(dir_ / "absent.safetensors").ok());
}

TEST(ModelCheck, RefusesBrokenChains) {
  auto model = init_tiny_lm({.context = 3, .embed_dim = 2, .hidden = {4}}, 1);
  EXPECT_TRUE(check_model(model).ok());
  auto wrong_in = model;
  wrong_in.layers[1].weight.resize(256, 5);
  wrong_in.layers[1].weight.setZero();
  EXPECT_FALSE(check_model(wrong_in).ok());
  auto wrong_out = model;
  wrong_out.layers.pop_back();
  EXPECT_FALSE(check_model(wrong_out).ok());
  auto duplicate = model;
  duplicate.layers[1].module = duplicate.layers[0].module;
  EXPECT_FALSE(check_model(duplicate).ok());
}

}  // namespace
}  // namespace bftgate::validation
