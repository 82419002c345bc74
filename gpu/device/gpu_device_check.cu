// The serving plane's GPU checks and figures in one program that needs nothing but the CUDA
// toolkit (the GPU machine has no Eigen, GoogleTest or Google Benchmark). It reuses the engine
// and kernels of gpu/src/cuda/ and the slot table of gpu/src/, and checks them against a plain
// host reference. scripts/gpu_device_run.sh builds it with nvcc and runs it (also under
// compute-sanitizer memcheck and racecheck).
//
// Checks (tolerances: fp32 5e-4 absolute; fp16 3e-2 of the largest reference output):
//   tiny_fp32_mixed_slots      one batch mixing three slots and no adapter (SGMV), fused path
//   wide_fp32_two_stage        layers of 1024 (the shrink + expand path), mixed slots
//   fp16_stack                 dense input, fp16 storage, rank 16
//   swap_under_serving         a serving thread checks every batch against the reference of
//                              the version it pinned while another thread swaps 10 versions;
//                              versions never go backwards; a stale stage is refused
// Figures (skipped with --checks-only; the 7B stack skipped with --quick):
//   upload_{tiny,llama7b}      pinned host-to-device bandwidth vs adapter upload rate
//   serving_{tiny,llama7b}     batches/s steady vs during back-to-back swaps, flip latency
//
// Usage: gpu_device_check [--out DIR] [--quick] [--checks-only] [--batch N]
// Exit: 0 all checks passed, 1 a check failed, 2 usage or CUDA error, 77 no CUDA device.
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "bftgate/gpu/cuda/engine.hpp"
#include "bftgate/gpu/slot_table.hpp"
#include "serving_harness.hpp"

namespace {

namespace cuda = bftgate::gpu::cuda;
namespace device = bftgate::gpu::device;
using bftgate::gpu::SlotTable;

constexpr int kNoDevice = 77;

// ---- host reference --------------------------------------------------------------------------

struct HostModel {
  cuda::EngineSpec spec;
  std::vector<float> embedding;             // [vocab, E] column-major
  std::vector<std::vector<float>> weights;  // [out, in] column-major
  std::vector<std::vector<float>> biases;
};

HostModel random_host_model(const cuda::EngineSpec& spec, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  HostModel model;
  model.spec = spec;
  if (spec.vocab > 0) {
    model.embedding =
        device::uniform_values(static_cast<std::size_t>(spec.vocab) * spec.embed_dim, 1.0f, rng);
  }
  for (const auto& layer : spec.layers) {
    model.weights.push_back(device::uniform_values(static_cast<std::size_t>(layer.out) * layer.in,
                                                   std::sqrt(3.0f / static_cast<float>(layer.in)),
                                                   rng));
    model.biases.push_back(device::uniform_values(static_cast<std::size_t>(layer.out), 0.1f, rng));
  }
  return model;
}

bftgate::Status upload(cuda::Engine& engine, const HostModel& model) {
  std::vector<const float*> w, b;
  for (std::size_t l = 0; l < model.weights.size(); ++l) {
    w.push_back(model.weights[l].data());
    b.push_back(model.biases[l].data());
  }
  return engine.upload_base(model.embedding.empty() ? nullptr : model.embedding.data(), w, b);
}

// One column through the model with `adapter` (null: none), in double precision.
std::vector<double> host_forward(const HostModel& model, const device::HostAdapter* adapter,
                                 const std::uint8_t* window, const float* dense) {
  const auto& spec = model.spec;
  std::vector<double> x;
  if (spec.vocab > 0) {
    for (int t = 0; t < spec.context; ++t) {
      for (int e = 0; e < spec.embed_dim; ++e) {
        x.push_back(model.embedding[window[t] + static_cast<std::size_t>(e) * spec.vocab]);
      }
    }
  } else {
    x.assign(dense, dense + spec.layers.front().in);
  }
  for (std::size_t l = 0; l < spec.layers.size(); ++l) {
    const auto& layer = spec.layers[l];
    const auto out = static_cast<std::size_t>(layer.out);
    const auto in = static_cast<std::size_t>(layer.in);
    std::vector<double> y(out, 0.0);
    for (std::size_t i = 0; i < in; ++i) {
      for (std::size_t o = 0; o < out; ++o)
        y[o] += static_cast<double>(model.weights[l][o + i * out]) * x[i];
    }
    if (adapter != nullptr && adapter->rank[l] > 0) {
      const auto r = static_cast<std::size_t>(adapter->rank[l]);
      std::vector<double> t(r, 0.0);
      for (std::size_t i = 0; i < in; ++i) {
        for (std::size_t k = 0; k < r; ++k)
          t[k] += static_cast<double>(adapter->a[l][k + i * r]) * x[i];
      }
      for (std::size_t k = 0; k < r; ++k) {
        for (std::size_t o = 0; o < out; ++o) {
          y[o] += static_cast<double>(adapter->scaling[l]) *
                  static_cast<double>(adapter->b[l][o + k * out]) * t[k];
        }
      }
    }
    for (std::size_t o = 0; o < out; ++o) {
      y[o] += model.biases[l][o];
      if (layer.tanh) y[o] = std::tanh(y[o]);
    }
    x = std::move(y);
  }
  return x;
}

// ---- results ---------------------------------------------------------------------------------

struct Report {
  std::vector<std::string> checks;  // JSON objects
  std::vector<std::string> figures;
  int failures = 0;

  void check(const std::string& name, bool passed, const std::string& detail) {
    std::printf("[%s] %s: %s\n", passed ? " OK " : "FAIL", name.c_str(), detail.c_str());
    std::fflush(stdout);
    if (!passed) ++failures;
    checks.push_back("{\"name\": \"" + name + "\", \"passed\": " + (passed ? "true" : "false") +
                     ", \"detail\": \"" + escape(detail) + "\"}");
  }

  void figure(const std::string& name, const std::map<std::string, double>& values) {
    std::ostringstream json;
    json << "{\"name\": \"" << name << "\"";
    std::printf("[FIG ] %s:", name.c_str());
    for (const auto& [key, value] : values) {
      json << ", \"" << key << "\": " << (std::isfinite(value) ? value : -1.0);
      std::printf(" %s=%.4g", key.c_str(), value);
    }
    json << "}";
    std::printf("\n");
    std::fflush(stdout);
    figures.push_back(json.str());
  }

  static std::string escape(const std::string& text) {
    std::string out;
    for (char c : text) {
      if (c == '"' || c == '\\') out += '\\';
      if (static_cast<unsigned char>(c) < 0x20) continue;
      out += c;
    }
    return out;
  }
};

std::string format(const char* fmt, double a, double b = 0, double c = 0) {
  char buffer[256];
  std::snprintf(buffer, sizeof buffer, fmt, a, b, c);
  return buffer;
}

// ---- checks ----------------------------------------------------------------------------------

std::unique_ptr<cuda::Engine> make_engine(const cuda::EngineSpec& spec, Report& report,
                                          const std::string& name) {
  auto engine = cuda::Engine::create(spec);
  if (!engine.ok()) {
    report.check(name, false, "engine: " + engine.error().message);
    return nullptr;
  }
  return std::move(engine).value();
}

// Writes `adapters` into slots 0.., runs one batch with `column_slots`, compares every column.
void check_mixed_batch(Report& report, const std::string& name, const cuda::EngineSpec& spec,
                       float tolerance, bool relative, int batch, int rank_a, int rank_b) {
  auto engine = make_engine(spec, report, name);
  if (!engine) return;
  const auto model = random_host_model(spec, 11);
  if (auto up = upload(*engine, model); !up.ok())
    return report.check(name, false, "upload_base: " + up.error().message);
  const auto n = spec.layers.size();
  std::vector<device::HostAdapter> adapters = {
      device::random_host_adapter(spec.layers, rank_a, 1),
      device::random_host_adapter(spec.layers, rank_b, 2, 8.0f,
                                  [n](std::size_t l) { return l + 1 >= n / 2; }),
      device::random_host_adapter(spec.layers, 3, 3, 4.0f, [](std::size_t l) { return l == 0; }),
  };
  for (int s = 0; s < 3; ++s) {
    auto written = engine->write_slot(s, adapters[static_cast<std::size_t>(s)].layers());
    if (!written.ok()) return report.check(name, false, "write_slot: " + written.error().message);
  }
  auto workload = device::make_workload(*engine, batch, 5);
  std::vector<int> slots(static_cast<std::size_t>(batch));
  for (int j = 0; j < batch; ++j)
    slots[static_cast<std::size_t>(j)] = j < 8 ? 1 : (j * 7) % 4 - 1;  // -1, 0, 1, 2
  const auto out_features = static_cast<std::size_t>(spec.layers.back().out);
  std::vector<float> output(out_features * static_cast<std::size_t>(batch));
  bftgate::Status done =
      spec.vocab > 0
          ? engine->forward_bytes(workload.windows.data(), batch, slots.data(), output.data())
          : engine->forward_dense(workload.dense.data(), batch, slots.data(), output.data());
  if (!done.ok()) return report.check(name, false, "forward: " + done.error().message);
  double worst = 0, largest = 0;
  for (int j = 0; j < batch; ++j) {
    const int slot = slots[static_cast<std::size_t>(j)];
    const auto col = static_cast<std::size_t>(j);
    const auto reference = host_forward(
        model, slot >= 0 ? &adapters[static_cast<std::size_t>(slot)] : nullptr,
        spec.vocab > 0 ? workload.windows.data() + col * static_cast<std::size_t>(spec.context)
                       : nullptr,
        spec.vocab > 0
            ? nullptr
            : workload.dense.data() + col * static_cast<std::size_t>(spec.layers.front().in));
    for (std::size_t o = 0; o < out_features; ++o) {
      worst = std::max(
          worst, std::abs(reference[o] - static_cast<double>(output[col * out_features + o])));
      largest = std::max(largest, std::abs(reference[o]));
    }
  }
  const double allowed = relative ? tolerance * largest : tolerance;
  report.check(name, worst <= allowed,
               format("max |gpu - host| = %.3g (allowed %.3g, largest |output| %.3g)", worst,
                      allowed, largest));
}

void check_swap_under_serving(Report& report, int max_batch) {
  const std::string name = "swap_under_serving";
  const auto spec = device::tiny_spec(16, max_batch);
  auto engine = make_engine(spec, report, name);
  if (!engine) return;
  const auto model = random_host_model(spec, 21);
  if (auto up = upload(*engine, model); !up.ok())
    return report.check(name, false, "upload_base: " + up.error().message);
  constexpr std::uint64_t kVersions = 10;
  std::vector<device::HostAdapter> adapters;  // adapters[v - 1]
  for (std::uint64_t v = 1; v <= kVersions; ++v) {
    const int rank = static_cast<int>(2 + (v % 4) * 4);  // 2..14 below max rank 16
    adapters.push_back(device::random_host_adapter(
        spec.layers, rank, 100 + v, 16.0f, [v](std::size_t l) { return (l + v) % 3 != 0; }));
  }
  const int batch = std::min(32, max_batch);
  auto workload = device::make_workload(*engine, batch, 6);
  const auto out_features = static_cast<std::size_t>(spec.layers.back().out);
  // The reference output of the fixed batch for every version (0: base model).
  std::vector<std::vector<double>> reference(kVersions + 1);
  for (std::uint64_t v = 0; v <= kVersions; ++v) {
    for (int j = 0; j < batch; ++j) {
      const auto column = host_forward(
          model, v == 0 ? nullptr : &adapters[v - 1],
          workload.windows.data() + static_cast<std::size_t>(j) * spec.context, nullptr);
      reference[v].insert(reference[v].end(), column.begin(), column.end());
    }
  }

  SlotTable table(spec.slots);
  std::atomic<std::uint64_t> newest_served{0};
  std::atomic<bool> done{false};
  std::atomic<bool> serve_failed{false};  // serve_failure is read by this thread only after join
  std::string serve_failure;
  std::uint64_t batches = 0;
  double worst = 0;
  std::thread server([&] {
    std::vector<float> output(out_features * static_cast<std::size_t>(batch));
    std::uint64_t previous = 0;
    while (!done.load() && !serve_failed.load()) {
      const auto lease = table.acquire();
      auto ran = workload.run(lease.slot, output.data());
      table.release(lease);
      if (!ran.ok()) {
        serve_failure = "forward: " + ran.error().message;
        serve_failed = true;
        break;
      }
      if (lease.version < previous) {
        serve_failure = "version went backwards";
        serve_failed = true;
      }
      previous = lease.version;
      for (std::size_t i = 0; i < output.size(); ++i) {
        const double diff = std::abs(reference[lease.version][i] - static_cast<double>(output[i]));
        worst = std::max(worst, diff);
        if (diff > 5e-4) {
          serve_failure = "a batch pinned to version " + std::to_string(lease.version) +
                          " differs from that version's reference by " + std::to_string(diff);
          serve_failed = true;
          break;
        }
      }
      ++batches;
      newest_served = lease.version;
    }
  });
  std::string swap_failure;
  std::mt19937 rng(3);
  for (std::uint64_t v = 1; v <= kVersions && swap_failure.empty() && !serve_failed.load(); ++v) {
    auto swapped = device::swap_in(*engine, table, v, adapters[v - 1]);
    if (!swapped.ok()) {
      swap_failure = swapped.error().message;
      break;
    }
    const auto deadline = device::Clock::now() + std::chrono::seconds(20);
    while (newest_served.load() < v && !serve_failed.load() && device::Clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
    std::this_thread::sleep_for(std::chrono::microseconds(rng() % 2000));
  }
  // A stale version is refused and changes nothing.
  auto stale = table.begin_stage(kVersions - 1, std::chrono::milliseconds(0));
  done = true;
  server.join();
  if (stale.ok()) swap_failure = "a stale version was accepted";
  const bool passed =
      serve_failure.empty() && swap_failure.empty() && newest_served.load() == kVersions;
  report.check(
      name, passed,
      serve_failure + swap_failure +
          format(" %.0f batches, %.0f versions, max |gpu - host| = %.3g",
                 static_cast<double>(batches), static_cast<double>(newest_served.load()), worst));
}

// ---- figures ---------------------------------------------------------------------------------

void upload_figure(Report& report, const std::string& name, const cuda::EngineSpec& spec,
                   int rank) {
  auto engine = cuda::Engine::create(spec);
  if (!engine.ok()) return report.check(name, false, engine.error().message);
  if (auto randomized = (*engine)->randomize_base(1); !randomized.ok())
    return report.check(name, false, randomized.error().message);
  const auto adapter = device::random_host_adapter(spec.layers, rank, 5);
  auto measured = device::measure_upload(**engine, adapter, 20, 0);
  if (!measured.ok()) return report.check(name, false, measured.error().message);
  report.figure(name, {{"slot_MiB", measured->slot_bytes / (1024.0 * 1024.0)},
                       {"pinned_GBps", measured->pinned_bytes_per_s / 1e9},
                       {"upload_GBps", measured->upload_bytes_per_s / 1e9},
                       {"upload_ms", measured->slot_bytes / measured->upload_bytes_per_s * 1e3},
                       {"ratio_upload_vs_pinned", measured->ratio_upload_vs_pinned},
                       {"pack_ms", measured->pack_seconds * 1e3},
                       {"ratio_stage_vs_pinned", measured->ratio_stage_vs_pinned},
                       {"target_ratio_upload_vs_pinned", 0.8}});
}

void serving_figure(Report& report, const std::string& name, const cuda::EngineSpec& spec, int rank,
                    int batch, double phase_seconds, int pairs, double interval) {
  auto engine = cuda::Engine::create(spec);
  if (!engine.ok()) return report.check(name, false, engine.error().message);
  if (auto randomized = (*engine)->randomize_base(1); !randomized.ok())
    return report.check(name, false, randomized.error().message);
  const auto adapter = device::random_host_adapter(spec.layers, rank, 5);
  SlotTable table(spec.slots);
  auto workload = device::make_workload(**engine, batch, 9);
  auto measured = device::measure_serving_during_swaps(workload, table, adapter, phase_seconds,
                                                       pairs, interval);
  if (!measured.ok()) return report.check(name, false, measured.error().message);
  report.figure(name, {{"batch", batch},
                       {"swap_interval_ms", interval * 1e3},
                       {"steady_tokens_per_s", measured->steady_batches_per_s * batch},
                       {"swapping_tokens_per_s", measured->swapping_batches_per_s * batch},
                       {"ratio_during_swaps", measured->ratio},
                       {"target_ratio_during_swaps", 0.95},
                       {"swaps", static_cast<double>(measured->swaps)},
                       {"flip_us_median", measured->flip_seconds_median * 1e6},
                       {"flip_us_max", measured->flip_seconds_max * 1e6},
                       {"stage_ms_median", measured->stage_seconds_median * 1e3},
                       {"upload_ms_median", measured->upload_seconds_median * 1e3},
                       {"batch_ms_steady", 1e3 / measured->steady_batches_per_s}});
  report.check(name + "_versions_monotonic", measured->versions_monotonic,
               "every batch pinned a version >= the last");
}

bool write_text(const std::string& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
  return static_cast<bool>(out);
}

}  // namespace

int main(int argc, char** argv) {
  std::string out_dir;
  bool quick = false;
  bool checks_only = false;
  int batch = 64;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--out" && i + 1 < argc) {
      out_dir = argv[++i];
    } else if (arg == "--quick") {
      quick = true;
    } else if (arg == "--checks-only") {
      checks_only = true;
    } else if (arg == "--batch" && i + 1 < argc) {
      batch = std::atoi(argv[++i]);
    } else {
      std::fprintf(stderr, "usage: %s [--out DIR] [--quick] [--checks-only] [--batch N]\n",
                   argv[0]);
      return 2;
    }
  }
  if (batch < 1) batch = 64;
  std::string why;
  if (cuda::device_count(&why) == 0) {
    std::printf("no CUDA device: %s\n", why.c_str());
    if (!out_dir.empty())
      write_text(out_dir + "/device.json",
                 "{\"device\": null, \"reason\": \"" + Report::escape(why) + "\"}\n");
    return kNoDevice;
  }
  auto info = cuda::device_info(0);
  if (!info.ok()) {
    std::fprintf(stderr, "device_info: %s\n", info.error().message.c_str());
    return 2;
  }
  std::printf("device: %s\n", info->describe().c_str());
  const std::string device_json =
      "{\"name\": \"" + Report::escape(info->name) + "\", \"compute_capability\": \"" +
      std::to_string(info->compute_major) + "." + std::to_string(info->compute_minor) +
      "\", \"multiprocessors\": " + std::to_string(info->multiprocessors) +
      ", \"total_memory_bytes\": " + std::to_string(info->total_memory) +
      ", \"driver_version\": " + std::to_string(info->driver_version) +
      ", \"runtime_version\": " + std::to_string(info->runtime_version) + "}";

  Report report;
  check_mixed_batch(report, "tiny_fp32_mixed_slots", device::tiny_spec(16, 64), 5e-4f, false, 45, 8,
                    16);
  {
    cuda::EngineSpec wide;
    wide.vocab = 256;
    wide.embed_dim = 16;
    wide.context = 8;
    wide.layers = {{1024, 128, true}, {1024, 1024, true}, {256, 1024, false}};
    wide.max_rank = 16;
    wide.max_batch = 32;  // 45 columns: two chunks
    check_mixed_batch(report, "wide_fp32_two_stage", wide, 5e-4f, false, 45, 16, 5);
  }
  {
    cuda::EngineSpec half;
    half.precision = cuda::Precision::kF16;
    half.layers = {{1024, 512, true}, {1024, 1024, true}, {1024, 1024, false}, {512, 1024, true}};
    half.max_rank = 16;
    half.max_batch = 64;
    check_mixed_batch(report, "fp16_stack", half, 3e-2f, true, 40, 16, 8);
  }
  check_swap_under_serving(report, 64);

  if (!checks_only) {
    upload_figure(report, "upload_tiny", device::tiny_spec(16, batch), 8);
    serving_figure(report, "serving_tiny_back_to_back_swaps", device::tiny_spec(16, batch), 8,
                   batch, quick ? 0.2 : 0.5, quick ? 2 : 5, 0.0);
    if (!quick) {
      serving_figure(report, "serving_tiny_swap_every_10ms", device::tiny_spec(16, batch), 8, batch,
                     0.5, 5, 0.01);
      upload_figure(report, "upload_llama7b", device::llama7b_spec(16, batch), 16);
      serving_figure(report, "serving_llama7b_back_to_back_swaps", device::llama7b_spec(16, batch),
                     16, batch, 1.0, 5, 0.0);
      serving_figure(report, "serving_llama7b_swap_every_100ms", device::llama7b_spec(16, batch),
                     16, batch, 1.0, 5, 0.1);
    }
  }

  std::string checks = "[", figures = "[";
  for (std::size_t i = 0; i < report.checks.size(); ++i)
    checks += (i ? ",\n  " : "\n  ") + report.checks[i];
  for (std::size_t i = 0; i < report.figures.size(); ++i)
    figures += (i ? ",\n  " : "\n  ") + report.figures[i];
  checks += "\n]";
  figures += "\n]";
  const std::string results = "{\n\"device\": " + device_json +
                              ",\n\"quick\": " + (quick ? "true" : "false") +
                              ",\n\"checks\": " + checks + ",\n\"figures\": " + figures +
                              ",\n\"failures\": " + std::to_string(report.failures) + "\n}\n";
  if (!out_dir.empty()) {
    if (!write_text(out_dir + "/results.json", results) ||
        !write_text(out_dir + "/device.json", device_json + "\n")) {
      std::fprintf(stderr, "cannot write into %s\n", out_dir.c_str());
      return 2;
    }
  }
  std::printf("%d check(s) failed\n", report.failures);
  return report.failures == 0 ? 0 : 1;
}
