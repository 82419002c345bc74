// What the crypto benchmarks (crypto_bench*.cpp) share: timing, medians of paired samples,
// deterministic content, and the SHA-256 benchmark's temporary file that main removes.
#pragma once

#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <vector>

namespace bftgate::crypto_bench {

using Clock = std::chrono::steady_clock;

inline double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

inline double per_iteration(double total, const benchmark::State& state) {
  return state.iterations() > 0 ? total / static_cast<double>(state.iterations()) : 0.0;
}

// Median of the samples (0 when there are none). Paired comparisons report the median of the
// per-iteration ratios: one preemption landing on one side of one iteration then moves nothing.
inline double median(std::vector<double> samples) {
  if (samples.empty()) return 0.0;
  auto middle = samples.begin() + static_cast<std::ptrdiff_t>(samples.size() / 2);
  std::nth_element(samples.begin(), middle, samples.end());
  double upper = *middle;
  if (samples.size() % 2 == 1) return upper;
  return (upper + *std::max_element(samples.begin(), middle)) / 2;
}

// Median over iterations of scale * numerator[i] / denominator[i].
inline double median_ratio(const std::vector<double>& numerator,
                           const std::vector<double>& denominator, double scale = 1.0) {
  std::vector<double> ratios;
  for (std::size_t i = 0; i < numerator.size() && i < denominator.size(); ++i) {
    if (denominator[i] > 0) ratios.push_back(scale * numerator[i] / denominator[i]);
  }
  return median(std::move(ratios));
}

// Deterministic pseudo-random content (splitmix64), so every run hashes the same bytes.
inline std::uint64_t splitmix64(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

inline void fill_deterministic(std::uint8_t* out, std::size_t size, std::uint64_t& state) {
  for (std::size_t i = 0; i < size; i += 8) {
    auto word = splitmix64(state);
    std::memcpy(out + i, &word, std::min<std::size_t>(8, size - i));
  }
}

// The SHA-256 benchmark's temporary file (crypto_bench_sha256.cpp): removed at exit, and by the
// handler main installs for fatal signals.
void remove_temp_file();
extern "C" void remove_temp_file_and_die(int signal_number);

}  // namespace bftgate::crypto_bench
