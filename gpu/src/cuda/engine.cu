// The CUDA engine (engine.hpp): cuBLAS for the base GEMMs, kernels.cuh for the rest.
#include <cublas_v2.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <string>
#include <type_traits>
#include <vector>

#include "bftgate/gpu/cuda/engine.hpp"
#include "kernels.cuh"

namespace bftgate::gpu::cuda {
namespace {

std::string cuda_message(cudaError_t error, const char* what) {
  return std::string(what) + ": " + cudaGetErrorName(error) + " (" + cudaGetErrorString(error) +
         ")";
}

std::string cublas_message(cublasStatus_t status, const char* what) {
  return std::string(what) + ": " + cublasGetStatusName(status) + " (" +
         cublasGetStatusString(status) + ")";
}

#define BFTGATE_CUDA_TRY(expr)                                                            \
  do {                                                                                    \
    const cudaError_t bftgate_error_ = (expr);                                            \
    if (bftgate_error_ != cudaSuccess) return Error{cuda_message(bftgate_error_, #expr)}; \
  } while (0)

#define BFTGATE_CUBLAS_TRY(expr)                            \
  do {                                                      \
    const cublasStatus_t bftgate_status_ = (expr);          \
    if (bftgate_status_ != CUBLAS_STATUS_SUCCESS)           \
      return Error{cublas_message(bftgate_status_, #expr)}; \
  } while (0)

std::string version_text(int version) {
  return std::to_string(version / 1000) + "." + std::to_string((version % 1000) / 10);
}

int grid_for(std::size_t elements) {
  const std::size_t blocks = (elements + kernels::kThreads - 1) / kernels::kThreads;
  return static_cast<int>(std::min<std::size_t>(std::max<std::size_t>(blocks, 1), 65535));
}

constexpr std::size_t kCublasWorkspaceBytes = 32ull << 20;

}  // namespace

std::string DeviceInfo::describe() const {
  char memory[32];
  std::snprintf(memory, sizeof memory, "%.1f GiB",
                static_cast<double>(total_memory) / (1024.0 * 1024.0 * 1024.0));
  return name + " (sm_" + std::to_string(compute_major) + std::to_string(compute_minor) + ", " +
         std::to_string(multiprocessors) + " SMs, " + memory + ", driver CUDA " +
         version_text(driver_version) + ", runtime " + version_text(runtime_version) + ")";
}

int device_count(std::string* why) {
  int count = 0;
  const cudaError_t error = cudaGetDeviceCount(&count);
  if (error != cudaSuccess) {
    if (why != nullptr) *why = cuda_message(error, "cudaGetDeviceCount");
    cudaGetLastError();  // clear the sticky-free error so later calls start clean
    return 0;
  }
  if (count == 0 && why != nullptr) *why = "cudaGetDeviceCount found no device";
  return count;
}

Result<DeviceInfo> device_info(int device) {
  DeviceInfo info;
  info.index = device;
  cudaDeviceProp props{};
  BFTGATE_CUDA_TRY(cudaGetDeviceProperties(&props, device));
  info.name = props.name;
  info.compute_major = props.major;
  info.compute_minor = props.minor;
  info.total_memory = props.totalGlobalMem;
  info.multiprocessors = props.multiProcessorCount;
  BFTGATE_CUDA_TRY(cudaDriverGetVersion(&info.driver_version));
  BFTGATE_CUDA_TRY(cudaRuntimeGetVersion(&info.runtime_version));
  return info;
}

struct Engine::Impl {
  EngineSpec spec;
  DeviceInfo info;
  std::size_t element_bytes = 4;
  int layer_count = 0;
  int max_features = 0;
  int input_features = 0;                                                   // layers[0].in
  int output_features = 0;                                                  // layers.back().out
  std::vector<std::size_t> weight_offset, bias_offset, a_offset, b_offset;  // in elements
  std::size_t weight_elements = 0, bias_elements = 0, slot_elements = 0;

  // Device memory, all allocated once in create().
  void* embedding = nullptr;
  void* weights = nullptr;
  void* biases = nullptr;
  void* slots = nullptr;
  float* scales = nullptr;  // [slot][layer]
  void* activations[2] = {nullptr, nullptr};
  void* input = nullptr;
  std::uint8_t* windows = nullptr;
  int* column_slots = nullptr;
  float* shrink = nullptr;  // [max_batch][max_rank]
  float* output = nullptr;  // fp16 engines convert the last activation into it
  void* cublas_workspace = nullptr;

  // Pinned host memory.
  void* slot_staging = nullptr;
  float* scale_staging = nullptr;
  void* input_staging = nullptr;
  int* slots_staging = nullptr;
  float* output_staging = nullptr;

  cudaStream_t compute = nullptr;
  cudaStream_t upload = nullptr;
  cublasHandle_t cublas = nullptr;
  std::vector<cudaEvent_t> slot_ready;
  cudaEvent_t upload_start = nullptr;
  cudaEvent_t upload_stop = nullptr;
  std::vector<std::vector<char>> slot_present;  // host view: [slot][layer] has a non-zero scaling

  std::mutex forward_mutex;
  std::mutex upload_mutex;

  ~Impl() {
    cudaSetDevice(spec.device);
    if (compute != nullptr) cudaStreamSynchronize(compute);
    if (upload != nullptr) cudaStreamSynchronize(upload);
    if (cublas != nullptr) cublasDestroy(cublas);
    for (auto event : slot_ready) cudaEventDestroy(event);
    if (upload_start != nullptr) cudaEventDestroy(upload_start);
    if (upload_stop != nullptr) cudaEventDestroy(upload_stop);
    if (compute != nullptr) cudaStreamDestroy(compute);
    if (upload != nullptr) cudaStreamDestroy(upload);
    for (void* p :
         {embedding, weights, biases, slots, static_cast<void*>(scales), activations[0],
          activations[1], input, static_cast<void*>(windows), static_cast<void*>(column_slots),
          static_cast<void*>(shrink), static_cast<void*>(output), cublas_workspace}) {
      if (p != nullptr) cudaFree(p);
    }
    for (void* p : {slot_staging, static_cast<void*>(scale_staging), input_staging,
                    static_cast<void*>(slots_staging), static_cast<void*>(output_staging)}) {
      if (p != nullptr) cudaFreeHost(p);
    }
  }

  bool half() const { return spec.precision == Precision::kF16; }

  template <typename T>
  Status forward_chunk(const std::uint8_t* byte_input, const float* dense_input, int batch,
                       const int* slots_of_columns, float* out);
  template <typename T>
  Result<SlotUploadTiming> write_slot(int slot, std::span<const HostLoraLayer> layers);
  template <typename T>
  Status upload_base(const float* embedding_host, std::span<const float* const> weight_host,
                     std::span<const float* const> bias_host);
  template <typename T>
  Status randomize(std::uint64_t seed);
};

namespace {

template <typename T>
T host_convert(float v);
template <>
float host_convert<float>(float v) {
  return v;
}
template <>
__half host_convert<__half>(float v) {
  return __float2half_rn(v);
}

template <typename T>
Status copy_converted(void* device, const float* host, std::size_t n) {
  if constexpr (std::is_same_v<T, float>) {
    BFTGATE_CUDA_TRY(cudaMemcpy(device, host, n * sizeof(float), cudaMemcpyHostToDevice));
  } else {
    std::vector<T> converted(n);
    for (std::size_t i = 0; i < n; ++i) converted[i] = host_convert<T>(host[i]);
    BFTGATE_CUDA_TRY(cudaMemcpy(device, converted.data(), n * sizeof(T), cudaMemcpyHostToDevice));
  }
  return ok_status();
}

}  // namespace

template <typename T>
Status Engine::Impl::upload_base(const float* embedding_host,
                                 std::span<const float* const> weight_host,
                                 std::span<const float* const> bias_host) {
  if (weight_host.size() != static_cast<std::size_t>(layer_count) ||
      bias_host.size() != weight_host.size()) {
    return Error{"upload_base: " + std::to_string(weight_host.size()) + " weights and " +
                 std::to_string(bias_host.size()) + " biases for " + std::to_string(layer_count) +
                 " layers"};
  }
  if (spec.vocab > 0) {
    if (embedding_host == nullptr)
      return Error{"upload_base: the byte-input engine needs an embedding"};
    auto copied = copy_converted<T>(embedding, embedding_host,
                                    static_cast<std::size_t>(spec.vocab) * spec.embed_dim);
    if (!copied.ok()) return copied;
  }
  for (int l = 0; l < layer_count; ++l) {
    const auto& layer = spec.layers[static_cast<std::size_t>(l)];
    auto* w = static_cast<T*>(weights) + weight_offset[static_cast<std::size_t>(l)];
    auto* b = static_cast<T*>(biases) + bias_offset[static_cast<std::size_t>(l)];
    auto copied = copy_converted<T>(w, weight_host[static_cast<std::size_t>(l)],
                                    static_cast<std::size_t>(layer.out) * layer.in);
    if (!copied.ok()) return copied;
    auto copied_bias = copy_converted<T>(b, bias_host[static_cast<std::size_t>(l)],
                                         static_cast<std::size_t>(layer.out));
    if (!copied_bias.ok()) return copied_bias;
  }
  return ok_status();
}

template <typename T>
Status Engine::Impl::randomize(std::uint64_t seed) {
  for (int l = 0; l < layer_count; ++l) {
    const auto& layer = spec.layers[static_cast<std::size_t>(l)];
    const std::size_t n = static_cast<std::size_t>(layer.out) * layer.in;
    const float scale = std::sqrt(3.0f / static_cast<float>(layer.in));  // variance 1/in
    kernels::fill_uniform<T><<<grid_for(n), kernels::kThreads, 0, compute>>>(
        static_cast<T*>(weights) + weight_offset[static_cast<std::size_t>(l)], n,
        seed + 7919ull * l, scale);
    BFTGATE_CUDA_TRY(cudaGetLastError());
  }
  BFTGATE_CUDA_TRY(cudaMemsetAsync(biases, 0, bias_elements * sizeof(T), compute));
  if (spec.vocab > 0) {
    const std::size_t n = static_cast<std::size_t>(spec.vocab) * spec.embed_dim;
    kernels::fill_uniform<T><<<grid_for(n), kernels::kThreads, 0, compute>>>(
        static_cast<T*>(embedding), n, seed ^ 0x5eedull, 1.0f);
    BFTGATE_CUDA_TRY(cudaGetLastError());
  }
  BFTGATE_CUDA_TRY(cudaStreamSynchronize(compute));
  return ok_status();
}

template <typename T>
Result<SlotUploadTiming> Engine::Impl::write_slot(int slot, std::span<const HostLoraLayer> layers) {
  if (slot < 0 || slot >= spec.slots)
    return Error{"write_slot: slot " + std::to_string(slot) + " out of range"};
  if (layers.size() != static_cast<std::size_t>(layer_count)) {
    return Error{"write_slot: " + std::to_string(layers.size()) + " layer entries for " +
                 std::to_string(layer_count) + " layers"};
  }
  const int max_rank = spec.max_rank;
  for (std::size_t l = 0; l < layers.size(); ++l) {
    const auto& in = layers[l];
    if (in.rank < 0 || in.rank > max_rank ||
        (in.rank > 0 && (in.a == nullptr || in.b == nullptr))) {
      return Error{"write_slot: layer " + std::to_string(l) + " has rank " +
                   std::to_string(in.rank) + " (slots hold 0 to " + std::to_string(max_rank) +
                   ") or no data"};
    }
  }
  const auto pack_start = std::chrono::steady_clock::now();
  auto* staging = static_cast<T*>(slot_staging);
  for (std::size_t l = 0; l < layers.size(); ++l) {
    const auto& layer = spec.layers[l];
    const auto& in = layers[l];
    const std::size_t n_in = static_cast<std::size_t>(layer.in);
    const std::size_t n_out = static_cast<std::size_t>(layer.out);
    const std::size_t rank = static_cast<std::size_t>(in.rank);
    T* a = staging + a_offset[l];
    T* b = staging + b_offset[l];
    // A: column-major [rank, in] in, row-major [max_rank, in] out; B keeps its layout.
    for (std::size_t i = 0; i < n_in; ++i) {
      for (std::size_t k = 0; k < rank; ++k) a[k * n_in + i] = host_convert<T>(in.a[k + i * rank]);
    }
    std::memset(static_cast<void*>(a + rank * n_in), 0,
                (static_cast<std::size_t>(max_rank) - rank) * n_in * sizeof(T));
    for (std::size_t idx = 0; idx < rank * n_out; ++idx) b[idx] = host_convert<T>(in.b[idx]);
    std::memset(static_cast<void*>(b + rank * n_out), 0,
                (static_cast<std::size_t>(max_rank) - rank) * n_out * sizeof(T));
    scale_staging[l] = in.rank > 0 ? in.scaling : 0.0f;
  }
  const double pack_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - pack_start).count();

  const std::size_t bytes = slot_elements * sizeof(T);
  BFTGATE_CUDA_TRY(cudaEventRecord(upload_start, upload));
  BFTGATE_CUDA_TRY(
      cudaMemcpyAsync(static_cast<T*>(slots) + static_cast<std::size_t>(slot) * slot_elements,
                      staging, bytes, cudaMemcpyHostToDevice, upload));
  BFTGATE_CUDA_TRY(cudaMemcpyAsync(
      scales + static_cast<std::size_t>(slot) * layer_count, scale_staging,
      static_cast<std::size_t>(layer_count) * sizeof(float), cudaMemcpyHostToDevice, upload));
  BFTGATE_CUDA_TRY(cudaEventRecord(upload_stop, upload));
  // Batches on the compute stream wait on this event before they read the slot.
  BFTGATE_CUDA_TRY(cudaEventRecord(slot_ready[static_cast<std::size_t>(slot)], upload));
  BFTGATE_CUDA_TRY(cudaEventSynchronize(upload_stop));
  float upload_ms = 0;
  BFTGATE_CUDA_TRY(cudaEventElapsedTime(&upload_ms, upload_start, upload_stop));

  auto& present = slot_present[static_cast<std::size_t>(slot)];
  for (std::size_t l = 0; l < layers.size(); ++l)
    present[l] = layers[l].rank > 0 && layers[l].scaling != 0.0f;
  return SlotUploadTiming{pack_seconds, static_cast<double>(upload_ms) / 1000.0,
                          bytes + static_cast<std::size_t>(layer_count) * sizeof(float)};
}

template <typename T>
Status Engine::Impl::forward_chunk(const std::uint8_t* byte_input, const float* dense_input,
                                   int batch, const int* slots_of_columns, float* out) {
  // Which layers any column's adapter touches, and the slots to wait for.
  std::vector<char> layer_has_lora(static_cast<std::size_t>(layer_count), 0);
  std::vector<char> slot_used(static_cast<std::size_t>(spec.slots), 0);
  for (int j = 0; j < batch; ++j) {
    const int s = slots_of_columns[j];
    if (s < -1 || s >= spec.slots)
      return Error{"forward: column " + std::to_string(j) + " names slot " + std::to_string(s)};
    if (s < 0 || slot_used[static_cast<std::size_t>(s)]) continue;
    slot_used[static_cast<std::size_t>(s)] = 1;
    for (int l = 0; l < layer_count; ++l) {
      if (slot_present[static_cast<std::size_t>(s)][static_cast<std::size_t>(l)])
        layer_has_lora[static_cast<std::size_t>(l)] = 1;
    }
    BFTGATE_CUDA_TRY(cudaStreamWaitEvent(compute, slot_ready[static_cast<std::size_t>(s)], 0));
  }
  std::memcpy(slots_staging, slots_of_columns, static_cast<std::size_t>(batch) * sizeof(int));
  BFTGATE_CUDA_TRY(cudaMemcpyAsync(column_slots, slots_staging,
                                   static_cast<std::size_t>(batch) * sizeof(int),
                                   cudaMemcpyHostToDevice, compute));

  const T* x = nullptr;
  if (spec.vocab > 0) {
    const std::size_t bytes = static_cast<std::size_t>(spec.context) * batch;
    std::memcpy(input_staging, byte_input, bytes);
    BFTGATE_CUDA_TRY(
        cudaMemcpyAsync(windows, input_staging, bytes, cudaMemcpyHostToDevice, compute));
    const std::size_t n = static_cast<std::size_t>(input_features) * batch;
    kernels::gather_embedding<T><<<grid_for(n), kernels::kThreads, 0, compute>>>(
        static_cast<const T*>(embedding), spec.vocab, spec.embed_dim, windows, spec.context, batch,
        static_cast<T*>(activations[0]));
    BFTGATE_CUDA_TRY(cudaGetLastError());
    x = static_cast<const T*>(activations[0]);
  } else {
    if (dense_input != nullptr) {
      const std::size_t n = static_cast<std::size_t>(input_features) * batch;
      auto* staged = static_cast<T*>(input_staging);
      for (std::size_t i = 0; i < n; ++i) staged[i] = host_convert<T>(dense_input[i]);
      BFTGATE_CUDA_TRY(
          cudaMemcpyAsync(input, staged, n * sizeof(T), cudaMemcpyHostToDevice, compute));
    }
    x = static_cast<const T*>(input);
  }

  const float one = 1.0f;
  const float zero = 0.0f;
  const int column_tiles = (batch + kernels::kTileColumns - 1) / kernels::kTileColumns;
  for (int l = 0; l < layer_count; ++l) {
    const auto& layer = spec.layers[static_cast<std::size_t>(l)];
    T* y = static_cast<T*>(x == activations[0] ? activations[1] : activations[0]);
    if constexpr (std::is_same_v<T, float>) {
      BFTGATE_CUBLAS_TRY(cublasSgemm(
          cublas, CUBLAS_OP_N, CUBLAS_OP_N, layer.out, batch, layer.in, &one,
          static_cast<const float*>(weights) + weight_offset[static_cast<std::size_t>(l)],
          layer.out, x, layer.in, &zero, y, layer.out));
    } else {
      BFTGATE_CUBLAS_TRY(
          cublasGemmEx(cublas, CUBLAS_OP_N, CUBLAS_OP_N, layer.out, batch, layer.in, &one,
                       static_cast<const T*>(weights) + weight_offset[static_cast<std::size_t>(l)],
                       CUDA_R_16F, layer.out, x, CUDA_R_16F, layer.in, &zero, y, CUDA_R_16F,
                       layer.out, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
    }
    const T* bias = static_cast<const T*>(biases) + bias_offset[static_cast<std::size_t>(l)];
    const int tanh_act = layer.tanh ? 1 : 0;
    if (layer_has_lora[static_cast<std::size_t>(l)]) {
      kernels::LoraLayerArgs<T> args{static_cast<const T*>(slots),
                                     slot_elements,
                                     a_offset[static_cast<std::size_t>(l)],
                                     b_offset[static_cast<std::size_t>(l)],
                                     scales,
                                     layer_count,
                                     l,
                                     column_slots,
                                     spec.max_rank};
      const int output_tiles = (layer.out + kernels::kThreads - 1) / kernels::kThreads;
      const std::size_t shared = kernels::lora_shared_bytes(spec.max_rank);
      if (output_tiles <= 2) {
        kernels::lora_fused<T>
            <<<dim3(column_tiles, output_tiles), kernels::kThreads, shared, compute>>>(
                args, x, layer.in, y, bias, layer.out, batch, tanh_act);
      } else {
        const int passes = (spec.max_rank + kernels::kRowsPerPass - 1) / kernels::kRowsPerPass;
        kernels::lora_shrink<T><<<dim3(column_tiles, passes), kernels::kThreads, 0, compute>>>(
            args, x, layer.in, batch, shrink);
        BFTGATE_CUDA_TRY(cudaGetLastError());
        kernels::lora_expand<T>
            <<<dim3(column_tiles, output_tiles), kernels::kThreads,
               static_cast<std::size_t>(kernels::kTileColumns) * spec.max_rank * sizeof(float),
               compute>>>(args, shrink, y, bias, layer.out, batch, tanh_act);
      }
    } else {
      const std::size_t n = static_cast<std::size_t>(layer.out) * batch;
      kernels::bias_activation<T>
          <<<grid_for(n), kernels::kThreads, 0, compute>>>(y, bias, layer.out, batch, tanh_act);
    }
    BFTGATE_CUDA_TRY(cudaGetLastError());
    x = y;
  }

  const std::size_t n_out = static_cast<std::size_t>(output_features) * batch;
  if (out != nullptr) {
    const float* result = nullptr;
    if constexpr (std::is_same_v<T, float>) {
      result = x;
    } else {
      kernels::to_float_kernel<T>
          <<<grid_for(n_out), kernels::kThreads, 0, compute>>>(x, output, n_out);
      BFTGATE_CUDA_TRY(cudaGetLastError());
      result = output;
    }
    BFTGATE_CUDA_TRY(cudaMemcpyAsync(output_staging, result, n_out * sizeof(float),
                                     cudaMemcpyDeviceToHost, compute));
  }
  BFTGATE_CUDA_TRY(cudaStreamSynchronize(compute));
  if (out != nullptr) std::memcpy(out, output_staging, n_out * sizeof(float));
  return ok_status();
}

Engine::Engine(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Engine::~Engine() = default;

const EngineSpec& Engine::spec() const {
  return impl_->spec;
}
const DeviceInfo& Engine::device() const {
  return impl_->info;
}
std::size_t Engine::slot_bytes() const {
  return impl_->slot_elements * impl_->element_bytes;
}

Result<std::unique_ptr<Engine>> Engine::create(const EngineSpec& spec) {
  std::string why;
  const int count = device_count(&why);
  if (count == 0) return Error{"no CUDA device: " + why};
  if (spec.device < 0 || spec.device >= count) {
    return Error{"CUDA device " + std::to_string(spec.device) + " requested, " +
                 std::to_string(count) + " present"};
  }
  if (spec.layers.empty()) return Error{"engine: no layers"};
  if (spec.slots < 1 || spec.max_rank < 1 || spec.max_batch < 1)
    return Error{"engine: slots, max_rank and max_batch must be >= 1"};
  if (spec.vocab > 0 && (spec.embed_dim < 1 || spec.context < 1 || spec.vocab > 256 ||
                         spec.layers[0].in != spec.context * spec.embed_dim)) {
    return Error{
        "engine: byte input needs vocab <= 256, embed_dim and context >= 1, and layers[0].in == "
        "context * embed_dim"};
  }
  for (std::size_t l = 0; l < spec.layers.size(); ++l) {
    if (spec.layers[l].out < 1 || spec.layers[l].in < 1)
      return Error{"engine: layer " + std::to_string(l) + " has an empty shape"};
    if (l > 0 && spec.layers[l].in != spec.layers[l - 1].out) {
      return Error{"engine: layer " + std::to_string(l) + " reads " +
                   std::to_string(spec.layers[l].in) + " features, layer " + std::to_string(l - 1) +
                   " writes " + std::to_string(spec.layers[l - 1].out)};
    }
  }

  auto impl = std::make_unique<Impl>();
  Impl& e = *impl;
  e.spec = spec;
  BFTGATE_CUDA_TRY(cudaSetDevice(spec.device));
  auto info = device_info(spec.device);
  if (!info.ok()) return Error{info.error().message};
  e.info = *info;
  e.element_bytes = spec.precision == Precision::kF16 ? sizeof(__half) : sizeof(float);
  e.layer_count = static_cast<int>(spec.layers.size());
  e.input_features = spec.layers.front().in;
  e.output_features = spec.layers.back().out;
  e.max_features = e.input_features;
  for (const auto& layer : spec.layers) {
    e.weight_offset.push_back(e.weight_elements);
    e.bias_offset.push_back(e.bias_elements);
    e.a_offset.push_back(e.slot_elements);
    e.slot_elements += static_cast<std::size_t>(spec.max_rank) * layer.in;
    e.b_offset.push_back(e.slot_elements);
    e.slot_elements += static_cast<std::size_t>(layer.out) * spec.max_rank;
    e.weight_elements += static_cast<std::size_t>(layer.out) * layer.in;
    e.bias_elements += static_cast<std::size_t>(layer.out);
    e.max_features = std::max(e.max_features, layer.out);
  }
  const std::size_t eb = e.element_bytes;
  const std::size_t batch = static_cast<std::size_t>(spec.max_batch);
  const std::size_t layers = static_cast<std::size_t>(e.layer_count);

  if (spec.vocab > 0)
    BFTGATE_CUDA_TRY(
        cudaMalloc(&e.embedding, static_cast<std::size_t>(spec.vocab) * spec.embed_dim * eb));
  BFTGATE_CUDA_TRY(cudaMalloc(&e.weights, e.weight_elements * eb));
  BFTGATE_CUDA_TRY(cudaMalloc(&e.biases, e.bias_elements * eb));
  BFTGATE_CUDA_TRY(
      cudaMalloc(&e.slots, e.slot_elements * eb * static_cast<std::size_t>(spec.slots)));
  BFTGATE_CUDA_TRY(
      cudaMemset(e.slots, 0, e.slot_elements * eb * static_cast<std::size_t>(spec.slots)));
  BFTGATE_CUDA_TRY(
      cudaMalloc(&e.scales, layers * static_cast<std::size_t>(spec.slots) * sizeof(float)));
  BFTGATE_CUDA_TRY(
      cudaMemset(e.scales, 0, layers * static_cast<std::size_t>(spec.slots) * sizeof(float)));
  for (auto& buffer : e.activations)
    BFTGATE_CUDA_TRY(cudaMalloc(&buffer, static_cast<std::size_t>(e.max_features) * batch * eb));
  if (spec.vocab == 0)
    BFTGATE_CUDA_TRY(cudaMalloc(&e.input, static_cast<std::size_t>(e.input_features) * batch * eb));
  if (spec.vocab > 0)
    BFTGATE_CUDA_TRY(cudaMalloc(&e.windows, static_cast<std::size_t>(spec.context) * batch));
  BFTGATE_CUDA_TRY(cudaMalloc(&e.column_slots, batch * sizeof(int)));
  BFTGATE_CUDA_TRY(
      cudaMalloc(&e.shrink, batch * static_cast<std::size_t>(spec.max_rank) * sizeof(float)));
  BFTGATE_CUDA_TRY(
      cudaMalloc(&e.output, static_cast<std::size_t>(e.output_features) * batch * sizeof(float)));
  BFTGATE_CUDA_TRY(cudaMalloc(&e.cublas_workspace, kCublasWorkspaceBytes));

  BFTGATE_CUDA_TRY(cudaMallocHost(&e.slot_staging, e.slot_elements * eb));
  BFTGATE_CUDA_TRY(
      cudaMallocHost(reinterpret_cast<void**>(&e.scale_staging), layers * sizeof(float)));
  const std::size_t input_bytes = spec.vocab > 0
                                      ? static_cast<std::size_t>(spec.context) * batch
                                      : static_cast<std::size_t>(e.input_features) * batch * eb;
  BFTGATE_CUDA_TRY(cudaMallocHost(&e.input_staging, input_bytes));
  BFTGATE_CUDA_TRY(cudaMallocHost(reinterpret_cast<void**>(&e.slots_staging), batch * sizeof(int)));
  BFTGATE_CUDA_TRY(
      cudaMallocHost(reinterpret_cast<void**>(&e.output_staging),
                     static_cast<std::size_t>(e.output_features) * batch * sizeof(float)));

  BFTGATE_CUDA_TRY(cudaStreamCreateWithFlags(&e.compute, cudaStreamNonBlocking));
  BFTGATE_CUDA_TRY(cudaStreamCreateWithFlags(&e.upload, cudaStreamNonBlocking));
  BFTGATE_CUDA_TRY(cudaEventCreate(&e.upload_start));
  BFTGATE_CUDA_TRY(cudaEventCreate(&e.upload_stop));
  e.slot_ready.resize(static_cast<std::size_t>(spec.slots), nullptr);
  for (auto& event : e.slot_ready)
    BFTGATE_CUDA_TRY(cudaEventCreateWithFlags(&event, cudaEventDisableTiming));
  e.slot_present.assign(static_cast<std::size_t>(spec.slots), std::vector<char>(layers, 0));

  BFTGATE_CUBLAS_TRY(cublasCreate(&e.cublas));
  BFTGATE_CUBLAS_TRY(cublasSetStream(e.cublas, e.compute));
  // A fixed workspace: cuBLAS never allocates (and so never synchronizes) during serving.
  BFTGATE_CUBLAS_TRY(cublasSetWorkspace(e.cublas, e.cublas_workspace, kCublasWorkspaceBytes));
  // Plain fp32 for fp32 engines (no TF32), so results compare with the CPU reference.
  BFTGATE_CUBLAS_TRY(cublasSetMathMode(e.cublas, CUBLAS_DEFAULT_MATH));
  BFTGATE_CUDA_TRY(cudaDeviceSynchronize());
  return std::unique_ptr<Engine>(new Engine(std::move(impl)));
}

Status Engine::upload_base(const float* embedding, std::span<const float* const> weights,
                           std::span<const float* const> biases) {
  std::lock_guard lock(impl_->forward_mutex);
  BFTGATE_CUDA_TRY(cudaSetDevice(impl_->spec.device));
  return impl_->half() ? impl_->upload_base<__half>(embedding, weights, biases)
                       : impl_->upload_base<float>(embedding, weights, biases);
}

Status Engine::randomize_base(std::uint64_t seed) {
  std::lock_guard lock(impl_->forward_mutex);
  BFTGATE_CUDA_TRY(cudaSetDevice(impl_->spec.device));
  return impl_->half() ? impl_->randomize<__half>(seed) : impl_->randomize<float>(seed);
}

Result<SlotUploadTiming> Engine::write_slot(int slot, std::span<const HostLoraLayer> layers) {
  std::lock_guard lock(impl_->upload_mutex);
  BFTGATE_CUDA_TRY(cudaSetDevice(impl_->spec.device));
  return impl_->half() ? impl_->write_slot<__half>(slot, layers)
                       : impl_->write_slot<float>(slot, layers);
}

namespace {

template <typename Chunk>
Status in_chunks(int batch, int max_batch, Chunk&& chunk) {
  if (batch < 1) return Error{"forward: empty batch"};
  for (int j0 = 0; j0 < batch; j0 += max_batch) {
    auto done = chunk(j0, std::min(max_batch, batch - j0));
    if (!done.ok()) return done;
  }
  return ok_status();
}

}  // namespace

Status Engine::forward_bytes(const std::uint8_t* windows, int batch, const int* column_slots,
                             float* output) {
  Impl& e = *impl_;
  if (e.spec.vocab == 0) return Error{"forward_bytes: this engine takes dense input"};
  std::lock_guard lock(e.forward_mutex);
  BFTGATE_CUDA_TRY(cudaSetDevice(e.spec.device));
  return in_chunks(batch, e.spec.max_batch, [&](int j0, int n) {
    const auto* in = windows + static_cast<std::size_t>(j0) * e.spec.context;
    auto* out =
        output != nullptr ? output + static_cast<std::size_t>(j0) * e.output_features : nullptr;
    return e.half() ? e.forward_chunk<__half>(in, nullptr, n, column_slots + j0, out)
                    : e.forward_chunk<float>(in, nullptr, n, column_slots + j0, out);
  });
}

Status Engine::forward_dense(const float* input, int batch, const int* column_slots,
                             float* output) {
  Impl& e = *impl_;
  if (e.spec.vocab > 0) return Error{"forward_dense: this engine takes byte windows"};
  std::lock_guard lock(e.forward_mutex);
  BFTGATE_CUDA_TRY(cudaSetDevice(e.spec.device));
  if (input == nullptr && batch > e.spec.max_batch)
    return Error{"forward_dense: a resident input holds at most max_batch columns"};
  return in_chunks(batch, e.spec.max_batch, [&](int j0, int n) {
    const auto* in =
        input != nullptr ? input + static_cast<std::size_t>(j0) * e.input_features : nullptr;
    auto* out =
        output != nullptr ? output + static_cast<std::size_t>(j0) * e.output_features : nullptr;
    return e.half() ? e.forward_chunk<__half>(nullptr, in, n, column_slots + j0, out)
                    : e.forward_chunk<float>(nullptr, in, n, column_slots + j0, out);
  });
}

Result<double> Engine::measure_pinned_h2d_bandwidth(std::size_t bytes, int repeats) {
  Impl& e = *impl_;
  std::lock_guard lock(e.upload_mutex);
  BFTGATE_CUDA_TRY(cudaSetDevice(e.spec.device));
  if (bytes == 0 || repeats < 1)
    return Error{"measure_pinned_h2d_bandwidth: need bytes > 0 and repeats >= 1"};
  void* host = nullptr;
  void* device = nullptr;
  BFTGATE_CUDA_TRY(cudaMallocHost(&host, bytes));
  std::memset(host, 1, bytes);
  const cudaError_t allocated = cudaMalloc(&device, bytes);
  if (allocated != cudaSuccess) {
    cudaFreeHost(host);
    return Error{cuda_message(allocated, "cudaMalloc")};
  }
  std::vector<float> ms;
  cudaError_t error =
      cudaMemcpyAsync(device, host, bytes, cudaMemcpyHostToDevice, e.upload);  // warm-up
  for (int r = 0; r < repeats && error == cudaSuccess; ++r) {
    error = cudaEventRecord(e.upload_start, e.upload);
    if (error == cudaSuccess)
      error = cudaMemcpyAsync(device, host, bytes, cudaMemcpyHostToDevice, e.upload);
    if (error == cudaSuccess) error = cudaEventRecord(e.upload_stop, e.upload);
    if (error == cudaSuccess) error = cudaEventSynchronize(e.upload_stop);
    float elapsed = 0;
    if (error == cudaSuccess) error = cudaEventElapsedTime(&elapsed, e.upload_start, e.upload_stop);
    ms.push_back(elapsed);
  }
  cudaFree(device);
  cudaFreeHost(host);
  if (error != cudaSuccess) return Error{cuda_message(error, "pinned host-to-device copy")};
  std::sort(ms.begin(), ms.end());
  const double median_seconds = static_cast<double>(ms[ms.size() / 2]) / 1000.0;
  return static_cast<double>(bytes) / median_seconds;
}

}  // namespace bftgate::gpu::cuda
