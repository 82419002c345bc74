// Benchmarks of the serving plane (gpu/). make bench runs them through scripts/run_bench.sh.
//
// CPU backend (everywhere), on the tiny model's shape (context 32, embed 32, two tanh layers of
// 512, 256 logits; a rank-8 adapter in rank-16 slots):
//   BM_CpuForward/batch       tokens/s of ServingBackend::run_batch, interleaved with the
//                             reference validation::forward_logits_batch on the same batch:
//                             ratio_vs_reference = backend time / reference time (about 1).
//   BM_CpuSwap                stage + flip of a verified adapter (manual time); stage_us, flip_us,
//                             and verify_us, the certificate + digest + parse cost paid before.
//   BM_CpuServingDuringSwaps/interval_ms
//                             ServingLoop tokens/s with swaps every interval vs without, in
//                             interleaved pairs of phases: ratio_during_swaps = median of the
//                             per-pair ratios (target >= 0.95).
// CUDA (registered only when a device is present; the context says why not otherwise), for the
// tiny model (fp32) and a Llama-7B-shaped stack (fp16, 128 projections of 4096 x 4096, rank 16,
// a 32 MiB adapter):
//   BM_CudaUpload/shape       ratio_upload_vs_pinned = adapter upload rate / pinned host-to-
//                             device bandwidth for the same bytes (target >= 0.8); pack_ms, the
//                             host-side zero-pad + conversion into pinned memory, apart.
//   BM_CudaServingDuringSwaps/shape
//                             batches/s steady vs with back-to-back swaps (ratio_during_swaps,
//                             target >= 0.95), flip_us (median, max), stage_ms.
#include <benchmark/benchmark.h>

#include <atomic>
#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "bftgate/gpu/backend.hpp"
#include "bftgate/gpu/serving_loop.hpp"
#include "gpu_test_support.hpp"
#ifdef BFTGATE_HAVE_CUDA
#include "bftgate/gpu/cuda/engine.hpp"
#include "serving_harness.hpp"
#endif

namespace {

namespace gpu = bftgate::gpu;
namespace validation = bftgate::validation;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

double median(std::vector<double> values) {
  if (values.empty()) return 0.0;
  std::sort(values.begin(), values.end());
  const std::size_t mid = values.size() / 2;
  return values.size() % 2 == 1 ? values[mid] : (values[mid - 1] + values[mid]) / 2.0;
}

validation::DenseStackModel tiny_model() {
  return gpu::testing::random_model(32, 32, 512, 2, 42, "bftgate-tiny-lm");
}

constexpr int kMaxRank = 16;
constexpr int kRank = 8;

std::unique_ptr<gpu::ServingBackend> cpu_backend(const validation::DenseStackModel& model,
                                                 int max_batch = 256) {
  auto backend = gpu::make_backend(gpu::BackendKind::kCpu, model,
                                   {.slots = 3, .max_rank = kMaxRank, .max_batch = max_batch});
  if (!backend.ok()) throw std::runtime_error(backend.error().message);
  return std::move(backend).value();
}

// Verified adapters for versions first..first+count-1 over one packed artifact (the same bytes
// may be certified under several versions).
std::deque<gpu::VerifiedAdapter> verified_pool(const gpu::testing::CertifyingCluster& cluster,
                                               const validation::DenseStackModel& model,
                                               const validation::LoraAdapter& adapter,
                                               std::uint64_t first, std::size_t count,
                                               std::vector<double>* verify_seconds = nullptr) {
  const auto artifact = gpu::testing::CertifyingCluster::pack(adapter);
  std::deque<gpu::VerifiedAdapter> pool;
  for (std::size_t i = 0; i < count; ++i) {
    const auto certificate = cluster.certify(first + i, artifact);
    const auto start = Clock::now();
    auto verified = gpu::VerifiedAdapter::verify(certificate, cluster.config(), artifact,
                                                 model.shape(), {kMaxRank});
    if (verify_seconds != nullptr) verify_seconds->push_back(seconds_since(start));
    if (!verified.ok()) throw std::runtime_error(verified.error().message);
    pool.push_back(std::move(verified).value());
  }
  return pool;
}

void BM_CpuForward(benchmark::State& state) {
  const auto model = tiny_model();
  auto backend = cpu_backend(model);
  gpu::testing::CertifyingCluster cluster;
  const auto adapter = gpu::testing::random_adapter(model, kRank, {}, 7);
  auto pool = verified_pool(cluster, model, adapter, 1, 1);
  if (auto swapped = backend->swap(std::move(pool.front())); !swapped.ok()) {
    state.SkipWithError(swapped.error().message.c_str());
    return;
  }
  const auto batch = static_cast<int>(state.range(0));
  const auto windows = gpu::testing::random_windows(model.context, batch, 3);
  std::vector<double> backend_s, reference_s, ratios;
  bool backend_first = true;
  for (auto _ : state) {
    double b = 0, r = 0;
    for (int side = 0; side < 2; ++side) {
      const auto start = Clock::now();
      if ((side == 0) == backend_first) {
        auto result = backend->run_batch(windows);
        benchmark::DoNotOptimize(result);
        b = seconds_since(start);
      } else {
        auto reference = validation::forward_logits_batch(model, &adapter, windows);
        benchmark::DoNotOptimize(reference);
        r = seconds_since(start);
      }
    }
    backend_first = !backend_first;
    state.SetIterationTime(b);
    backend_s.push_back(b);
    reference_s.push_back(r);
    ratios.push_back(b / r);
  }
  state.SetItemsProcessed(state.iterations() * batch);
  state.counters["tokens_per_s"] = batch / median(backend_s);
  state.counters["reference_tokens_per_s"] = batch / median(reference_s);
  state.counters["ratio_vs_reference"] = median(ratios);
}
BENCHMARK(BM_CpuForward)
    ->Arg(1)
    ->Arg(16)
    ->Arg(64)
    ->Arg(256)
    ->UseManualTime()
    ->Unit(benchmark::kMicrosecond);

void BM_CpuSwap(benchmark::State& state) {
  const auto model = tiny_model();
  auto backend = cpu_backend(model);
  gpu::testing::CertifyingCluster cluster;
  const auto adapter = gpu::testing::random_adapter(model, kRank, {}, 7);
  std::vector<double> verify_seconds;
  auto pool = verified_pool(cluster, model, adapter, 1,
                            static_cast<std::size_t>(state.max_iterations), &verify_seconds);
  std::vector<double> stage_s, flip_s;
  std::size_t bytes = 0;
  for (auto _ : state) {
    auto swapped = backend->swap(std::move(pool.front()));
    pool.pop_front();
    if (!swapped.ok()) {
      state.SkipWithError(swapped.error().message.c_str());
      return;
    }
    state.SetIterationTime(swapped->stage.stage_seconds + swapped->flip.flip_seconds);
    stage_s.push_back(swapped->stage.stage_seconds);
    flip_s.push_back(swapped->flip.flip_seconds);
    bytes = swapped->stage.bytes;
  }
  state.counters["stage_us"] = median(stage_s) * 1e6;
  state.counters["flip_us"] = median(flip_s) * 1e6;
  state.counters["flip_us_max"] = *std::max_element(flip_s.begin(), flip_s.end()) * 1e6;
  state.counters["verify_us"] = median(verify_seconds) * 1e6;
  state.counters["slot_MiB"] = static_cast<double>(bytes) / (1024.0 * 1024.0);
}
BENCHMARK(BM_CpuSwap)->Iterations(300)->UseManualTime()->Unit(benchmark::kMicrosecond);

// The first error any thread meets.
class FirstError {
 public:
  void set(const std::string& message) {
    std::lock_guard lock(mutex_);
    if (message_.empty()) message_ = message;
  }
  std::string get() const {
    std::lock_guard lock(mutex_);
    return message_;
  }
  bool empty() const { return get().empty(); }

 private:
  mutable std::mutex mutex_;
  std::string message_;
};

// Closed-loop clients keep the serving loop's queue full; returns tokens/s over `seconds`.
double serve_for(gpu::ServingLoop& loop, int context, double seconds, int clients,
                 FirstError& error) {
  std::atomic<std::uint64_t> served{0};
  std::vector<std::thread> threads;
  const auto start = Clock::now();
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      std::vector<std::uint8_t> window(static_cast<std::size_t>(context),
                                       static_cast<std::uint8_t>(c));
      while (seconds_since(start) < seconds) {
        std::vector<std::future<bftgate::Result<gpu::ServingResponse>>> futures;
        for (int i = 0; i < 64; ++i) futures.push_back(loop.submit(window));
        for (auto& f : futures) {
          auto response = f.get();
          if (!response.ok()) {
            error.set(response.error().message);
            return;
          }
          ++served;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  return static_cast<double>(served.load()) / seconds_since(start);
}

void BM_CpuServingDuringSwaps(benchmark::State& state) {
  const auto model = tiny_model();
  auto backend = cpu_backend(model);
  gpu::testing::CertifyingCluster cluster;
  const auto adapter = gpu::testing::random_adapter(model, kRank, {}, 7);
  constexpr int kPairs = 5;
  constexpr double kPhaseSeconds = 0.4;
  const double interval = static_cast<double>(state.range(0)) / 1000.0;
  const auto swaps_needed = static_cast<std::size_t>(kPairs * kPhaseSeconds / interval * 1.2) + 8;
  auto pool = verified_pool(cluster, model, adapter, 1, swaps_needed);
  gpu::ServingLoop loop(*backend, {.max_batch = 64});
  loop.start();
  if (auto first = loop.swap(std::move(pool.front())); !first.ok()) {
    state.SkipWithError(first.error().message.c_str());
    return;
  }
  pool.pop_front();
  FirstError error;
  serve_for(loop, model.context, 0.1, 2, error);  // warm-up
  std::vector<double> steady, swapping, ratios;
  std::uint64_t swaps = 0;
  for (auto _ : state) {
    for (int p = 0; p < kPairs && error.empty(); ++p) {
      double steady_rate = 0, swapping_rate = 0;
      for (int half = 0; half < 2; ++half) {
        if ((half == 0) != (p % 2 == 1)) {
          steady_rate = serve_for(loop, model.context, kPhaseSeconds, 2, error);
          continue;
        }
        std::atomic<bool> stop{false};
        std::thread swapper([&] {
          while (!stop.load() && !pool.empty()) {
            auto swapped = loop.swap(std::move(pool.front()));
            pool.pop_front();
            if (!swapped.ok()) {
              error.set(swapped.error().message);
              return;
            }
            ++swaps;
            std::this_thread::sleep_for(std::chrono::duration<double>(interval));
          }
        });
        swapping_rate = serve_for(loop, model.context, kPhaseSeconds, 2, error);
        stop = true;
        swapper.join();
      }
      steady.push_back(steady_rate);
      swapping.push_back(swapping_rate);
      ratios.push_back(swapping_rate / steady_rate);
    }
    state.SetIterationTime(2 * kPairs * kPhaseSeconds);
  }
  loop.stop();
  if (!error.empty()) {
    state.SkipWithError(error.get().c_str());
    return;
  }
  const auto counters = loop.counters();
  state.counters["steady_tokens_per_s"] = median(steady);
  state.counters["swapping_tokens_per_s"] = median(swapping);
  state.counters["ratio_during_swaps"] = median(ratios);
  state.counters["swaps"] = static_cast<double>(swaps);
  state.counters["flip_us_max"] = counters.max_flip_seconds * 1e6;
  state.counters["stage_us_mean"] =
      counters.total_stage_seconds / static_cast<double>(counters.swaps) * 1e6;
  state.counters["activation_ms_max"] = counters.max_activation_seconds * 1e3;
}
BENCHMARK(BM_CpuServingDuringSwaps)
    ->Arg(10)
    ->Arg(2)
    ->Iterations(1)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

#ifdef BFTGATE_HAVE_CUDA
namespace device = bftgate::gpu::device;
namespace cuda = bftgate::gpu::cuda;

std::unique_ptr<cuda::Engine> engine_for(const std::string& shape, benchmark::State& state) {
  const auto spec =
      shape == "tiny" ? device::tiny_spec(kMaxRank, 64) : device::llama7b_spec(16, 64);
  auto engine = cuda::Engine::create(spec);
  if (!engine.ok()) {
    state.SkipWithError(engine.error().message.c_str());
    return nullptr;
  }
  if (auto randomized = (*engine)->randomize_base(1); !randomized.ok()) {
    state.SkipWithError(randomized.error().message.c_str());
    return nullptr;
  }
  return std::move(engine).value();
}

void BM_CudaUpload(benchmark::State& state, const std::string& shape) {
  auto engine = engine_for(shape, state);
  if (!engine) return;
  const auto adapter =
      device::random_host_adapter(engine->spec().layers, shape == "tiny" ? kRank : 16, 5);
  device::UploadFigures figures;
  for (auto _ : state) {
    auto measured = device::measure_upload(*engine, adapter, 20, 0);
    if (!measured.ok()) {
      state.SkipWithError(measured.error().message.c_str());
      return;
    }
    figures = *measured;
    state.SetIterationTime(figures.slot_bytes / figures.upload_bytes_per_s);
  }
  state.counters["slot_MiB"] = figures.slot_bytes / (1024.0 * 1024.0);
  state.counters["pinned_GBps"] = figures.pinned_bytes_per_s / 1e9;
  state.counters["upload_GBps"] = figures.upload_bytes_per_s / 1e9;
  state.counters["ratio_upload_vs_pinned"] = figures.ratio_upload_vs_pinned;
  state.counters["pack_ms"] = figures.pack_seconds * 1e3;
  state.counters["ratio_stage_vs_pinned"] = figures.ratio_stage_vs_pinned;
}

void BM_CudaServingDuringSwaps(benchmark::State& state, const std::string& shape) {
  auto engine = engine_for(shape, state);
  if (!engine) return;
  const int batch = 64;
  const auto adapter =
      device::random_host_adapter(engine->spec().layers, shape == "tiny" ? kRank : 16, 5);
  gpu::SlotTable table(engine->spec().slots);
  auto workload = device::make_workload(*engine, batch, 9);
  device::ServingFigures figures;
  for (auto _ : state) {
    auto measured = device::measure_serving_during_swaps(workload, table, adapter, 0.5, 4, 0.0);
    if (!measured.ok()) {
      state.SkipWithError(measured.error().message.c_str());
      return;
    }
    figures = *measured;
    state.SetIterationTime(4.0);
  }
  state.counters["steady_tokens_per_s"] = figures.steady_batches_per_s * batch;
  state.counters["swapping_tokens_per_s"] = figures.swapping_batches_per_s * batch;
  state.counters["ratio_during_swaps"] = figures.ratio;
  state.counters["swaps"] = static_cast<double>(figures.swaps);
  state.counters["flip_us"] = figures.flip_seconds_median * 1e6;
  state.counters["flip_us_max"] = figures.flip_seconds_max * 1e6;
  state.counters["stage_ms"] = figures.stage_seconds_median * 1e3;
  state.counters["upload_ms"] = figures.upload_seconds_median * 1e3;
  state.counters["versions_monotonic"] = figures.versions_monotonic ? 1.0 : 0.0;
}
#endif

void register_cuda_benchmarks() {
#ifdef BFTGATE_HAVE_CUDA
  std::string why;
  if (cuda::device_count(&why) == 0) {
    benchmark::AddCustomContext("cuda", "not run: no CUDA device (" + why + ")");
    return;
  }
  auto info = cuda::device_info(0);
  if (info.ok()) {
    benchmark::AddCustomContext("cuda_device", info->name);
    benchmark::AddCustomContext("cuda_device_detail", info->describe());
    benchmark::AddCustomContext("cuda_driver_version", std::to_string(info->driver_version));
    benchmark::AddCustomContext("cuda_runtime_version", std::to_string(info->runtime_version));
  }
  for (std::string shape : {"tiny", "llama7b"}) {
    benchmark::RegisterBenchmark(("BM_CudaUpload/" + shape).c_str(), BM_CudaUpload, shape)
        ->Iterations(1)
        ->UseManualTime()
        ->Unit(benchmark::kMicrosecond);
    benchmark::RegisterBenchmark(("BM_CudaServingDuringSwaps/" + shape).c_str(),
                                 BM_CudaServingDuringSwaps, shape)
        ->Iterations(1)
        ->UseManualTime()
        ->Unit(benchmark::kMillisecond);
  }
#else
  benchmark::AddCustomContext("cuda", "not run: this build has no CUDA support");
#endif
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  register_cuda_benchmarks();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
