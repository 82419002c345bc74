// The CUDA engine under the CUDA backend and the self-contained device program (gpu/device/):
// a stack of dense layers on one GPU with K preallocated adapter slots. Base GEMMs run through
// cuBLAS; the LoRA term y += s·B·(A·x), the bias and the activation run in one fused kernel of our
// own that reads each column's slot index, so one batch may mix adapters (SGMV/Punica-style).
// fp32 (the tiny model) or fp16 storage with fp32 accumulation (the 7B-shaped benchmark stack).
//
// This header has no CUDA types in it: C++ code built without nvcc includes it, and it needs only
// the standard library and bftgate's Result.
//
// Threads: forward() and write_slot() may run at the same time on different threads (each has
// its own stream and buffers); the caller guarantees that no forward pass reads a slot while it
// is being written (SlotTable does). write_slot returns once the copy has landed on the device.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "bftgate/base/result.hpp"

namespace bftgate::gpu::cuda {

enum class Precision : std::uint8_t { kF32, kF16 };

struct DeviceInfo {
  int index = 0;
  std::string name;
  int compute_major = 0;
  int compute_minor = 0;
  std::size_t total_memory = 0;
  int multiprocessors = 0;
  int driver_version = 0;   // e.g. 13000 for CUDA 13.0 (cudaDriverGetVersion)
  int runtime_version = 0;  // cudaRuntimeGetVersion

  std::string describe()
      const;  // "NVIDIA H100 80GB HBM3 (sm_90, 132 SMs, 79.1 GiB, driver 13.0, runtime 13.0)"
};

// Number of usable devices; 0 without a driver or a device (never throws). `why` gets the CUDA
// runtime's message when it is 0.
int device_count(std::string* why = nullptr);
Result<DeviceInfo> device_info(int device);

struct LayerSpec {
  int out = 0;
  int in = 0;
  bool tanh = false;
};

struct EngineSpec {
  int device = 0;
  Precision precision = Precision::kF32;
  // Byte input (vocab > 0): the input is `context` bytes per column, each mapped through the
  // embedding [vocab, embed_dim] and concatenated, oldest first. Dense input (vocab == 0): the
  // input is layers[0].in floats per column.
  int vocab = 0;
  int embed_dim = 0;
  int context = 0;
  std::vector<LayerSpec> layers;
  int slots = 3;
  int max_rank = 16;
  int max_batch = 256;
};

// One module's adapter in Eigen's (column-major) layout: A [rank, in], B [out, rank]. rank 0: the
// adapter leaves this module alone.
struct HostLoraLayer {
  const float* a = nullptr;
  const float* b = nullptr;
  int rank = 0;
  float scaling = 0;
};

struct SlotUploadTiming {
  double pack_seconds = 0;    // host: zero-padding and conversion into pinned memory
  double upload_seconds = 0;  // device: the host-to-device copy, timed with CUDA events
  std::size_t bytes = 0;      // bytes copied to the device (the whole padded slot)
};

class Engine {
 public:
  static Result<std::unique_ptr<Engine>> create(const EngineSpec& spec);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  const EngineSpec& spec() const;
  const DeviceInfo& device() const;
  std::size_t slot_bytes() const;  // device bytes of one slot (every module at max rank)

  // Base model, column-major like Eigen: embedding [vocab, embed_dim] (byte input only), weights
  // [out, in], biases [out]. Converted to the engine's precision.
  Status upload_base(const float* embedding, std::span<const float* const> weights,
                     std::span<const float* const> biases);
  // Base weights drawn on the device (uniform, variance 1/in; biases zero): benchmark stacks.
  Status randomize_base(std::uint64_t seed);

  // Writes slot `slot`: `layers` has one entry per layer; A rows and B columns past each rank
  // are zeroed so the math is that of the unpadded adapter. Packs into pinned memory, copies on
  // the upload stream and waits for that copy's event.
  Result<SlotUploadTiming> write_slot(int slot, std::span<const HostLoraLayer> layers);

  // Forward pass of `batch` columns. `column_slots[j]` is column j's slot (-1: base model only).
  // Byte input: `windows` [context, batch] column-major. Dense input: `input` [layers[0].in, batch]
  // floats, or null to reuse the input already on the device (benchmarks). `output` gets
  // [layers.back().out, batch] floats, or nothing when null. Batches above max_batch run in
  // chunks.
  Status forward_bytes(const std::uint8_t* windows, int batch, const int* column_slots,
                       float* output);
  Status forward_dense(const float* input, int batch, const int* column_slots, float* output);

  // Pinned host-to-device bandwidth in bytes/s: `repeats` copies of `bytes` into fresh buffers,
  // timed with CUDA events (the reference the adapter upload rate is compared with).
  Result<double> measure_pinned_h2d_bandwidth(std::size_t bytes, int repeats);

  struct Impl;

 private:
  explicit Engine(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace bftgate::gpu::cuda
