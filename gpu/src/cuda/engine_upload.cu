// The CUDA engine's base weights and adapter slots (engine.hpp): uploads converted to the
// engine's precision, slots packed in pinned memory and copied on the upload stream.
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <chrono>
#include <cmath>
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

}  // namespace bftgate::gpu::cuda
