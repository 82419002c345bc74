// Training of the tiny LM and of LoRA adapters on it: backpropagation written with Eigen
// (embedding, dense tanh layers, softmax cross-entropy, LoRA A/B), Adam with global-norm gradient
// clipping, and a fixed, seeded data order. Same seed and data on the same machine and build:
// identical weights.
#pragma once

#include <Eigen/Core>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "bftgate/base/result.hpp"
#include "bftgate/validation/corpus.hpp"
#include "bftgate/validation/dense_stack.hpp"
#include "bftgate/validation/lora.hpp"
#include "bftgate/validation/model.hpp"
#include "bftgate/validation/rng.hpp"

namespace bftgate::validation {

using ByteWindows = Eigen::Matrix<std::uint8_t, Eigen::Dynamic, Eigen::Dynamic>;

// A text as next-byte prediction examples: position p is predicted from the `context` bytes
// before it (byte 0 before the start). When a line starts inside a window, that window has its
// bytes before the line start replaced by 0 with probability `line_start_padding`, so the model
// also learns to read a text that starts there (as the scoring API pads a context).
// With a target mask, only the marked positions are examples (the rest is context only: the
// prompt masking of supervised fine-tuning).
class ByteDataset {
 public:
  ByteDataset(std::string_view text, int context, double line_start_padding = 0.5);
  ByteDataset(std::string_view text, const std::vector<bool>& target_mask, int context,
              double line_start_padding = 0.5);

  std::size_t size() const { return examples_.size(); }  // examples (target positions)
  int context() const { return context_; }
  // Windows [context, n] and targets [n] for the given examples (indices < size()).
  void make_batch(std::span<const std::size_t> examples, Rng& rng, ByteWindows& windows,
                  std::vector<std::uint8_t>& targets) const;

 private:
  std::vector<std::uint8_t> bytes_;
  std::vector<std::size_t> line_start_;  // per position: where its line starts
  std::vector<std::size_t> examples_;    // the positions that are targets
  int context_;
  double line_start_padding_;
};

// Gradients of the base model's parameters, shaped as the model.
struct ModelGradients {
  Eigen::MatrixXf embedding;
  std::vector<Eigen::MatrixXf> weight;
  std::vector<Eigen::VectorXf> bias;
};

// Gradients of an adapter's A and B, one per delta (in the adapter's order).
struct LoraGradients {
  std::vector<Eigen::MatrixXf> a;
  std::vector<Eigen::MatrixXf> b;
};

// Mean cross-entropy (nats per byte) of predicting targets[j] from windows.col(j), with the
// adapter applied unmerged when not null. Fills (overwrites) the gradients that are not null.
double cross_entropy_with_gradients(const DenseStackModel& model, const LoraAdapter* adapter,
                                    const ByteWindows& windows,
                                    std::span<const std::uint8_t> targets,
                                    ModelGradients* base_gradients, LoraGradients* lora_gradients);

// The same loss and gradients, computed as the batch's two halves (columns [0, n/2) and [n/2, n)),
// the second on a thread of its own, combined by their example counts. The split does not depend
// on the machine, so the sums are the same everywhere; they equal the above up to rounding. About
// 1.8 times faster on two cores; training uses it. The object keeps the second half's buffers
// from one batch to the next.
class HalvedBackprop {
 public:
  double operator()(const DenseStackModel& model, const LoraAdapter* adapter,
                    const ByteWindows& windows, std::span<const std::uint8_t> targets,
                    ModelGradients* base_gradients, LoraGradients* lora_gradients);

 private:
  ByteWindows first_windows_;
  ByteWindows second_windows_;
  ModelGradients second_base_;
  LoraGradients second_lora_;
};

struct TrainingProgress {
  std::string_view phase;  // "base", "lora", ...
  std::size_t step = 0;    // steps done
  std::size_t total_steps = 0;
  double loss = 0.0;  // mean cross-entropy over the steps since the previous report (nats/byte)
  double elapsed_s = 0.0;
};
using ProgressCallback = std::function<void(const TrainingProgress&)>;

struct OptimizerOptions {
  std::size_t steps = 1000;
  std::size_t batch = 128;
  float learning_rate = 3e-3f;  // peak; linear warmup, then cosine decay to final_lr_fraction
  std::size_t warmup_steps = 100;
  float final_lr_fraction = 0.05f;
  float beta1 = 0.9f;
  float beta2 = 0.999f;
  float epsilon = 1e-8f;
  float clip_norm = 1.0f;  // global L2 norm of the gradient; 0 disables clipping
  std::size_t progress_every = 100;
};

float learning_rate_at(const OptimizerOptions& options, std::size_t step);

struct BaseTrainingOptions {
  std::uint64_t seed = 1;
  TinyLmArchitecture architecture;
  OptimizerOptions optimizer{.steps = 10000, .batch = 128, .learning_rate = 3e-3f};
  double line_start_padding = 0.5;
};

// Trains from init_tiny_lm(seed) on corpus.split.train and records the held-out perplexity.
Result<TinyLm> train_tiny_lm(const BaseCorpus& corpus, const BaseTrainingOptions& options,
                             const ProgressCallback& progress = {});

struct LoraTrainingOptions {
  std::uint64_t seed = 1;
  int rank = 8;
  float alpha = 16.0f;
  bool use_rslora = false;
  std::vector<std::string> target_modules = {"mlp.fc1", "mlp.fc2", "lm_head"};
  OptimizerOptions optimizer{
      .steps = 400, .batch = 128, .learning_rate = 2e-3f, .warmup_steps = 20};
  double line_start_padding = 0.5;
};

// A = kaiming-uniform (PEFT's default, bound 1/sqrt(in)), B = 0; refuses unknown or repeated
// target modules and ranks outside [1, min(in, out)].
Result<LoraAdapter> init_lora(const DenseStackModel& base, const LoraTrainingOptions& options);
// Trains only A and B of the target modules (the base is frozen) on next-byte prediction of `text`.
Result<LoraAdapter> train_lora(const DenseStackModel& base, std::string_view text,
                               const LoraTrainingOptions& options,
                               const ProgressCallback& progress = {});
// Same on the examples of a dataset (built with the base's context).
Result<LoraAdapter> train_lora(const DenseStackModel& base, const ByteDataset& data,
                               const LoraTrainingOptions& options,
                               const ProgressCallback& progress = {});

// ---- The cached default model ----

inline constexpr std::uint64_t kDefaultModelSeed = 1;

// $BFTGATE_CACHE_DIR, or .cache/bftgate in the current directory.
std::filesystem::path default_cache_dir();
// <cache_dir>/model/model.safetensors when it exists, loads, and was trained from the default seed
// on this corpus (same digest) with the default architecture; otherwise trains it (seconds to
// minutes) and writes it there.
Result<DenseStackModel> load_or_train_default_model(const std::filesystem::path& cache_dir,
                                                    const ProgressCallback& progress = {});
// Same, with the info (seed, digest, held-out perplexity) kept.
Result<TinyLm> load_or_train_default_tiny_lm(const std::filesystem::path& cache_dir,
                                             const ProgressCallback& progress = {});

}  // namespace bftgate::validation
