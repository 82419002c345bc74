#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <random>
#include <string>

#include "bftgate/io/file_io.hpp"
#include "bftgate/validation/peft.hpp"

namespace bftgate::validation::peft_testing {

inline BaseModelShape tiny_base() {
  return {"bftgate-tiny-lm",
          {{"layers.0.attn.qkv", 12, 4}, {"layers.0.mlp.fc1", 16, 4}, {"layers.0.mlp.fc2", 4, 16}}};
}

inline Eigen::MatrixXf random_matrix(Eigen::Index rows, Eigen::Index cols, std::mt19937& rng) {
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  Eigen::MatrixXf m(rows, cols);
  for (Eigen::Index i = 0; i < m.size(); ++i) m.data()[i] = dist(rng);
  return m;
}

// Targets in an order other than the base model's, so the order is checked.
inline LoraAdapter tiny_adapter(bool use_rslora = false, int rank = 2) {
  std::mt19937 rng(42);
  LoraAdapter adapter;
  adapter.config.rank = rank;
  adapter.config.alpha = 8.0f;
  adapter.config.use_rslora = use_rslora;
  adapter.config.target_modules = {"layers.0.mlp.fc1", "layers.0.attn.qkv"};
  adapter.config.base_model_name_or_path = "bftgate-tiny-lm";
  const auto base = tiny_base();
  for (const auto& module : adapter.config.target_modules) {
    const auto* shape = base.find(module);
    adapter.deltas.push_back({module, random_matrix(rank, shape->in, rng),
                              random_matrix(shape->out, rank, rng), adapter.config.scaling()});
  }
  return adapter;
}

inline void expect_same_adapter(const LoraAdapter& loaded, const LoraAdapter& expected) {
  EXPECT_EQ(loaded.config.rank, expected.config.rank);
  EXPECT_EQ(loaded.config.alpha, expected.config.alpha);
  EXPECT_EQ(loaded.config.use_rslora, expected.config.use_rslora);
  EXPECT_EQ(loaded.config.target_modules, expected.config.target_modules);
  EXPECT_EQ(loaded.config.base_model_name_or_path, expected.config.base_model_name_or_path);
  ASSERT_EQ(loaded.deltas.size(), expected.deltas.size());
  for (std::size_t i = 0; i < loaded.deltas.size(); ++i) {
    EXPECT_EQ(loaded.deltas[i].module, expected.deltas[i].module);
    EXPECT_EQ(loaded.deltas[i].a, expected.deltas[i].a) << loaded.deltas[i].module;
    EXPECT_EQ(loaded.deltas[i].b, expected.deltas[i].b) << loaded.deltas[i].module;
    EXPECT_EQ(loaded.deltas[i].scaling, expected.deltas[i].scaling);
  }
}

inline void write_text(const std::filesystem::path& path, const std::string& text) {
  ASSERT_TRUE(write_file_atomic(path, as_bytes(text), {.overwrite = true}).ok());
}
inline Bytes read_bytes(const std::filesystem::path& path) {
  auto text = read_small_file(path, 1 << 24);
  EXPECT_TRUE(text.ok());
  return Bytes(text->begin(), text->end());
}

}  // namespace bftgate::validation::peft_testing
