// The CUDA engine (engine.hpp): the device, the engine's set-up with all its memory allocated
// once, and the pinned copy bandwidth. Uploads are engine_upload.cu, the forward pass
// engine_forward.cu.
#include <cublas_v2.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "bftgate/gpu/cuda/engine.hpp"
#include "engine_internal.cuh"

namespace bftgate::gpu::cuda {
namespace {

using namespace engine_detail;  // the engine's shared parts (engine_internal.cuh)

std::string version_text(int version) {
  return std::to_string(version / 1000) + "." + std::to_string((version % 1000) / 10);
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
