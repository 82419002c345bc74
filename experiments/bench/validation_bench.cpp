// Benchmarks of the tiny LM (make bench runs them through scripts/run_bench.sh).
//
//   Forward       forward_logits_batch over 1, 64 and 512 windows, and forward_logits on one
//                 window: counter tokens_per_s (next-byte predictions per second).
//   Scoring       rolling_log_likelihood over 16 KiB of text: bytes_per_s.
//   Training      one forward+backward of cross_entropy_with_gradients over a batch of 128 windows,
//                 for the base (all parameters) and for a rank-8 LoRA on mlp.fc1, mlp.fc2, lm_head
//                 (A and B only); and train_lora end to end (Adam, clipping, batching), per step.
//
// The model has the default architecture (context 16, embedding 16, hidden 256/256) with random
// weights: speed does not depend on the values.
#include <benchmark/benchmark.h>

#include <string>

#include "bftgate/validation/model.hpp"
#include "bftgate/validation/rng.hpp"
#include "bftgate/validation/training.hpp"

namespace {

namespace v = bftgate::validation;

const v::DenseStackModel& model() {
  static const v::DenseStackModel m = v::init_tiny_lm(v::TinyLmArchitecture{}, 1);
  return m;
}

const v::LoraAdapter& adapter() {
  static const v::LoraAdapter a = [] {
    v::LoraTrainingOptions options;
    options.rank = 8;
    auto result = v::init_lora(model(), options);
    v::Rng rng(2);
    for (auto& delta : result->deltas) {
      for (Eigen::Index i = 0; i < delta.b.size(); ++i)
        delta.b.data()[i] = static_cast<float>(0.01 * rng.normal());
    }
    return *result;
  }();
  return a;
}

std::string text(std::size_t bytes) {
  static const char* words[] = {"And ",    "the ", "LORD ", "said ",  "unto ",
                                "Moses, ", "Go ",  "in ",   "thou.\n"};
  v::Rng rng(3);
  std::string out;
  while (out.size() < bytes) out += words[rng.index(9)];
  out.resize(bytes);
  return out;
}

v::ByteWindows windows(Eigen::Index count) {
  v::Rng rng(4);
  v::ByteWindows w(model().context, count);
  for (Eigen::Index i = 0; i < w.size(); ++i)
    w.data()[i] = static_cast<std::uint8_t>(32 + rng.index(90));
  return w;
}

void BM_ForwardBatched(benchmark::State& state) {
  const auto w = windows(state.range(0));
  const bool with_adapter = state.range(1) != 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(
        v::forward_logits_batch(model(), with_adapter ? &adapter() : nullptr, w));
  }
  state.counters["tokens_per_s"] = benchmark::Counter(
      static_cast<double>(state.iterations() * state.range(0)), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_ForwardBatched)
    ->ArgNames({"batch", "lora"})
    ->Args({1, 0})
    ->Args({64, 0})
    ->Args({512, 0})
    ->Args({512, 1});

void BM_ForwardSingle(benchmark::State& state) {
  const auto w = windows(1);
  const std::vector<std::uint8_t> window(w.data(), w.data() + w.size());
  for (auto _ : state) benchmark::DoNotOptimize(v::forward_logits(model(), nullptr, window));
  state.counters["tokens_per_s"] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_ForwardSingle);

void BM_RollingLogLikelihood(benchmark::State& state) {
  const auto t = text(16 << 10);
  for (auto _ : state) benchmark::DoNotOptimize(v::rolling_log_likelihood(model(), nullptr, t));
  state.counters["bytes_per_s"] =
      benchmark::Counter(static_cast<double>(state.iterations()) * static_cast<double>(t.size()),
                         benchmark::Counter::kIsRate);
}
BENCHMARK(BM_RollingLogLikelihood)->Unit(benchmark::kMillisecond);

void BM_TrainStepBase(benchmark::State& state) {
  const auto w = windows(128);
  const std::vector<std::uint8_t> targets(128, 'e');
  v::ModelGradients gradients;
  for (auto _ : state) {
    benchmark::DoNotOptimize(
        v::cross_entropy_with_gradients(model(), nullptr, w, targets, &gradients, nullptr));
  }
}
BENCHMARK(BM_TrainStepBase)->Unit(benchmark::kMillisecond);

void BM_TrainStepLora(benchmark::State& state) {
  const auto w = windows(128);
  const std::vector<std::uint8_t> targets(128, 'e');
  v::LoraGradients gradients;
  for (auto _ : state) {
    benchmark::DoNotOptimize(
        v::cross_entropy_with_gradients(model(), &adapter(), w, targets, nullptr, &gradients));
  }
}
BENCHMARK(BM_TrainStepLora)->Unit(benchmark::kMillisecond);

// train_lora end to end; the reported time is per step.
void BM_TrainLoraPerStep(benchmark::State& state) {
  const auto t = text(64 << 10);
  v::LoraTrainingOptions options;
  options.rank = 8;
  options.optimizer.steps = 50;
  options.optimizer.batch = 128;
  for (auto _ : state) {
    auto trained = v::train_lora(model(), t, options);
    benchmark::DoNotOptimize(trained);
  }
  state.counters["s_per_step"] = benchmark::Counter(
      static_cast<double>(options.optimizer.steps),
      benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_TrainLoraPerStep)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
