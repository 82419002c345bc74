// Checks and measurements over the CUDA engine and the slot table, shared by the self-contained
// device program (gpu_device_check.cu, built with nvcc alone on the GPU machine) and gpu_bench.
// Standard C++ only: no Eigen, no GoogleTest, no Google Benchmark.
//
//   measure_upload                 pinned host-to-device bandwidth vs the adapter upload rate
//   measure_serving_during_swaps   batches/s with no swaps vs with swaps (stage on the upload
//                                  stream from another thread, then flip), interleaved in pairs
//   serve_and_check_swaps          every batch served during swaps equals the host reference of
//                                  the version it pinned; versions never go backwards
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <functional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "bftgate/gpu/cuda/engine.hpp"
#include "bftgate/gpu/slot_table.hpp"

namespace bftgate::gpu::device {

using Clock = std::chrono::steady_clock;

inline double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

inline double median(std::vector<double> values) {
  if (values.empty()) return 0.0;
  std::sort(values.begin(), values.end());
  const std::size_t mid = values.size() / 2;
  return values.size() % 2 == 1 ? values[mid] : (values[mid - 1] + values[mid]) / 2.0;
}

inline std::vector<float> uniform_values(std::size_t n, float scale, std::mt19937_64& rng) {
  std::uniform_real_distribution<float> dist(-scale, scale);
  std::vector<float> values(n);
  for (auto& v : values) v = dist(rng);
  return values;
}

// The benchmark shapes. Tiny: the bundled byte-level model's shape (context 32, embed 32, two
// tanh layers of 512, logits over 256 bytes), fp32. Llama-7B-shaped: 32 blocks of the q, k, v, o
// projections (4096 x 4096 each, 128 linear layers chained; the attention itself is not
// modelled), fp16; a rank-16 adapter on all 128 projections is 32 MiB.
inline cuda::EngineSpec tiny_spec(int max_rank, int max_batch, int slots = 3) {
  cuda::EngineSpec spec;
  spec.precision = cuda::Precision::kF32;
  spec.vocab = 256;
  spec.embed_dim = 32;
  spec.context = 32;
  spec.layers = {{512, 1024, true}, {512, 512, true}, {256, 512, false}};
  spec.slots = slots;
  spec.max_rank = max_rank;
  spec.max_batch = max_batch;
  return spec;
}

inline cuda::EngineSpec llama7b_spec(int max_rank, int max_batch, int slots = 3) {
  cuda::EngineSpec spec;
  spec.precision = cuda::Precision::kF16;
  spec.vocab = 0;
  for (int block = 0; block < 32; ++block) {
    for (int projection = 0; projection < 4; ++projection)
      spec.layers.push_back({4096, 4096, false});
  }
  spec.slots = slots;
  spec.max_rank = max_rank;
  spec.max_batch = max_batch;
  return spec;
}

// A LoRA adapter on the host in the engine's input layout (Eigen's column-major): per layer
// A [rank, in] and B [out, rank]; rank 0 leaves the layer alone.
struct HostAdapter {
  std::vector<std::vector<float>> a;
  std::vector<std::vector<float>> b;
  std::vector<int> rank;
  std::vector<float> scaling;

  std::vector<cuda::HostLoraLayer> layers() const {
    std::vector<cuda::HostLoraLayer> out(rank.size());
    for (std::size_t l = 0; l < rank.size(); ++l) {
      if (rank[l] > 0) out[l] = {a[l].data(), b[l].data(), rank[l], scaling[l]};
    }
    return out;
  }
};

// Rank `rank` on the layers where `adapted(l)` holds (all when empty); scaling alpha/rank.
inline HostAdapter random_host_adapter(const std::vector<cuda::LayerSpec>& layers, int rank,
                                       std::uint64_t seed, float alpha = 16.0f,
                                       const std::function<bool(std::size_t)>& adapted = {}) {
  std::mt19937_64 rng(seed);
  HostAdapter adapter;
  const std::size_t n = layers.size();
  adapter.a.resize(n);
  adapter.b.resize(n);
  adapter.rank.assign(n, 0);
  adapter.scaling.assign(n, 0.0f);
  const auto r = static_cast<std::size_t>(rank);
  for (std::size_t l = 0; l < n; ++l) {
    if (adapted && !adapted(l)) continue;
    const auto in = static_cast<std::size_t>(layers[l].in);
    const auto out = static_cast<std::size_t>(layers[l].out);
    adapter.a[l] = uniform_values(r * in, std::sqrt(3.0f / static_cast<float>(in)), rng);
    adapter.b[l] = uniform_values(out * r, 0.5f / std::sqrt(static_cast<float>(rank)), rng);
    adapter.rank[l] = rank;
    adapter.scaling[l] = alpha / static_cast<float>(rank);
  }
  return adapter;
}

// One batch of input for an engine; run() is a forward pass with every column on `slot`.
struct Workload {
  cuda::Engine* engine = nullptr;
  int batch = 0;
  std::vector<std::uint8_t> windows;  // byte-input engines: [context, batch]
  std::vector<float> dense;           // dense-input engines: [in, batch]; uploaded once
  std::vector<int> column_slots;
  bool dense_uploaded = false;

  Status run(int slot, float* output) {
    column_slots.assign(static_cast<std::size_t>(batch), slot);
    if (!windows.empty())
      return engine->forward_bytes(windows.data(), batch, column_slots.data(), output);
    // The input stays resident after the first pass: the measurement is of the model.
    const float* input = dense_uploaded ? nullptr : dense.data();
    dense_uploaded = true;
    return engine->forward_dense(input, batch, column_slots.data(), output);
  }
};

inline Workload make_workload(cuda::Engine& engine, int batch, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  Workload workload;
  workload.engine = &engine;
  workload.batch = batch;
  const auto& spec = engine.spec();
  if (spec.vocab > 0) {
    std::uniform_int_distribution<int> byte(0, spec.vocab - 1);
    workload.windows.resize(static_cast<std::size_t>(spec.context) *
                            static_cast<std::size_t>(batch));
    for (auto& w : workload.windows) w = static_cast<std::uint8_t>(byte(rng));
  } else {
    workload.dense = uniform_values(
        static_cast<std::size_t>(spec.layers.front().in) * static_cast<std::size_t>(batch), 1.0f,
        rng);
  }
  return workload;
}

// One swap as the CUDA backend does it: reserve a free slot, upload, mark staged, flip.
struct SwapTiming {
  double stage_seconds = 0;
  double upload_seconds = 0;
  double pack_seconds = 0;
  double flip_seconds = 0;
};

inline Result<SwapTiming> swap_in(cuda::Engine& engine, SlotTable& table, std::uint64_t version,
                                  const HostAdapter& adapter) {
  SwapTiming timing;
  const auto start = Clock::now();
  auto slot = table.begin_stage(version, std::chrono::seconds(10));
  if (!slot.ok()) return Error{slot.error().message};
  auto written = engine.write_slot(*slot, adapter.layers());
  if (!written.ok()) {
    table.abort_stage(*slot);
    return Error{written.error().message};
  }
  if (auto finished = table.finish_stage(*slot); !finished.ok())
    return Error{finished.error().message};
  timing.stage_seconds = seconds_since(start);
  timing.upload_seconds = written->upload_seconds;
  timing.pack_seconds = written->pack_seconds;
  const auto flip_start = Clock::now();
  auto flipped = table.flip();
  timing.flip_seconds = seconds_since(flip_start);
  if (!flipped.ok()) return Error{flipped.error().message};
  return timing;
}

struct UploadFigures {
  double slot_bytes = 0;
  double pinned_bytes_per_s = 0;  // median of plain pinned copies of slot_bytes
  double upload_bytes_per_s = 0;  // median of write_slot's device copy (CUDA events)
  double pack_seconds = 0;        // median host packing (zero-pad, convert) into pinned memory
  double stage_bytes_per_s = 0;   // slot bytes / (pack + upload), the whole stage
  double ratio_upload_vs_pinned = 0;
  double ratio_stage_vs_pinned = 0;
};

inline Result<UploadFigures> measure_upload(cuda::Engine& engine, const HostAdapter& adapter,
                                            int repeats, int slot) {
  UploadFigures figures;
  figures.slot_bytes = static_cast<double>(engine.slot_bytes());
  auto pinned = engine.measure_pinned_h2d_bandwidth(engine.slot_bytes(), std::max(repeats, 3));
  if (!pinned.ok()) return Error{pinned.error().message};
  figures.pinned_bytes_per_s = *pinned;
  std::vector<double> upload, pack;
  for (int r = 0; r < std::max(repeats, 3); ++r) {
    auto written = engine.write_slot(slot, adapter.layers());
    if (!written.ok()) return Error{written.error().message};
    upload.push_back(written->upload_seconds);
    pack.push_back(written->pack_seconds);
  }
  const double upload_s = median(upload);
  figures.pack_seconds = median(pack);
  figures.upload_bytes_per_s = figures.slot_bytes / upload_s;
  figures.stage_bytes_per_s = figures.slot_bytes / (upload_s + figures.pack_seconds);
  figures.ratio_upload_vs_pinned = figures.upload_bytes_per_s / figures.pinned_bytes_per_s;
  figures.ratio_stage_vs_pinned = figures.stage_bytes_per_s / figures.pinned_bytes_per_s;
  return figures;
}

struct ServingFigures {
  double steady_batches_per_s = 0;    // median over phases
  double swapping_batches_per_s = 0;  // median over phases
  double ratio = 0;                   // median over pairs of swapping / steady
  std::uint64_t swaps = 0;
  double flip_seconds_median = 0;
  double flip_seconds_max = 0;
  double stage_seconds_median = 0;
  double upload_seconds_median = 0;
  std::uint64_t batches = 0;
  bool versions_monotonic = true;
};

// Pairs of phases (which goes first alternates): serving alone, and serving while another thread
// swaps adapters with `swap_interval` between swaps (0: back to back). `table` and `engine` must
// be fresh (no version active); versions start at first_version.
inline Result<ServingFigures> measure_serving_during_swaps(Workload& workload, SlotTable& table,
                                                           const HostAdapter& adapter,
                                                           double phase_seconds, int pairs,
                                                           double swap_interval_seconds,
                                                           std::uint64_t first_version = 1) {
  ServingFigures figures;
  std::uint64_t next_version = first_version;
  if (auto first = swap_in(*workload.engine, table, next_version++, adapter); !first.ok())
    return Error{first.error().message};
  std::uint64_t last_version = 0;
  std::string serve_error;
  auto serve_for = [&](double seconds) -> double {
    std::uint64_t batches = 0;
    const auto start = Clock::now();
    while (seconds_since(start) < seconds) {
      const auto lease = table.acquire();
      auto done = workload.run(lease.slot, nullptr);
      table.release(lease);
      if (!done.ok()) {
        serve_error = done.error().message;
        break;
      }
      if (lease.version < last_version) figures.versions_monotonic = false;
      last_version = lease.version;
      ++batches;
    }
    figures.batches += batches;
    return static_cast<double>(batches) / seconds_since(start);
  };
  // Warm-up: the first batches pay for lazy module loading.
  serve_for(std::min(phase_seconds, 0.2));

  std::vector<double> steady, swapping, ratios, flips, stages, uploads;
  std::string swap_error;
  for (int p = 0; p < pairs && serve_error.empty() && swap_error.empty(); ++p) {
    double steady_rate = 0;
    double swapping_rate = 0;
    for (int half = 0; half < 2; ++half) {
      const bool with_swaps = (half == 0) == (p % 2 == 1);
      if (!with_swaps) {
        steady_rate = serve_for(phase_seconds);
        continue;
      }
      std::atomic<bool> stop{false};
      std::thread swapper([&] {
        while (!stop.load()) {
          auto timing = swap_in(*workload.engine, table, next_version++, adapter);
          if (!timing.ok()) {
            swap_error = timing.error().message;
            return;
          }
          flips.push_back(timing->flip_seconds);
          stages.push_back(timing->stage_seconds);
          uploads.push_back(timing->upload_seconds);
          ++figures.swaps;
          if (swap_interval_seconds > 0)
            std::this_thread::sleep_for(std::chrono::duration<double>(swap_interval_seconds));
        }
      });
      swapping_rate = serve_for(phase_seconds);
      stop = true;
      swapper.join();
    }
    steady.push_back(steady_rate);
    swapping.push_back(swapping_rate);
    ratios.push_back(steady_rate > 0 ? swapping_rate / steady_rate : 0.0);
  }
  if (!serve_error.empty()) return Error{"serving: " + serve_error};
  if (!swap_error.empty()) return Error{"swapping: " + swap_error};
  figures.steady_batches_per_s = median(steady);
  figures.swapping_batches_per_s = median(swapping);
  figures.ratio = median(ratios);
  figures.flip_seconds_median = median(flips);
  figures.flip_seconds_max = flips.empty() ? 0.0 : *std::max_element(flips.begin(), flips.end());
  figures.stage_seconds_median = median(stages);
  figures.upload_seconds_median = median(uploads);
  return figures;
}

}  // namespace bftgate::gpu::device
