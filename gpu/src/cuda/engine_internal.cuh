// What the CUDA engine's parts share (engine.cu: the device and set-up, engine_upload.cu: base
// weights and adapter slots, engine_forward.cu: the forward pass): error handling, launch sizes,
// host conversions and the engine's state.
#pragma once

#include <cublas_v2.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "bftgate/gpu/cuda/engine.hpp"
#include "kernels.cuh"

namespace bftgate::gpu::cuda {
namespace engine_detail {

inline std::string cuda_message(cudaError_t error, const char* what) {
  return std::string(what) + ": " + cudaGetErrorName(error) + " (" + cudaGetErrorString(error) +
         ")";
}

inline std::string cublas_message(cublasStatus_t status, const char* what) {
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

inline int grid_for(std::size_t elements) {
  const std::size_t blocks = (elements + kernels::kThreads - 1) / kernels::kThreads;
  return static_cast<int>(std::min<std::size_t>(std::max<std::size_t>(blocks, 1), 65535));
}

template <typename T>
T host_convert(float v);
template <>
inline float host_convert<float>(float v) {
  return v;
}
template <>
inline __half host_convert<__half>(float v) {
  return __float2half_rn(v);
}

}  // namespace engine_detail

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

}  // namespace bftgate::gpu::cuda
