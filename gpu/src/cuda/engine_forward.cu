// The CUDA engine's forward pass (engine.hpp): cuBLAS for the base GEMMs, kernels.cuh for the
// embedding, the LoRA deltas of each column's slot, bias and activation; batches in chunks.
#include <cublas_v2.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstring>
#include <mutex>
#include <string>
#include <type_traits>
#include <vector>

#include "bftgate/gpu/cuda/engine.hpp"
#include "engine_internal.cuh"

namespace bftgate::gpu::cuda {
namespace {

using namespace engine_detail;  // the engine's shared parts (engine_internal.cuh)

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

}  // namespace bftgate::gpu::cuda
