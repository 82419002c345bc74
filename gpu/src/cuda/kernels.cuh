// The CUDA kernels of the serving engine (engine_upload.cu, engine_forward.cu): embedding gather,
// bias + activation, and the LoRA term y += s·B·(A·x) for a batch whose columns may each use a
// different adapter slot (SGMV, as in Punica and S-LoRA). Columns are processed in tiles of
// kTileColumns; when every column of a tile uses the same slot, each A and B element is loaded once
// for the whole tile.
//
// Slot layout (one contiguous buffer per slot, so an upload is a single copy): for each layer,
// A row-major [max_rank, in] (row k contiguous: coalesced shrink) then B column-major
// [out, max_rank] (column k contiguous: coalesced expand). Rows/columns past an adapter's rank
// are zero. Activations are column-major [features, batch]. fp32 accumulation for every type.
#pragma once

#include <cuda_fp16.h>

#include <cstddef>
#include <cstdint>

namespace bftgate::gpu::cuda::kernels {

inline constexpr int kThreads = 256;    // block size of every kernel here
inline constexpr int kTileColumns = 8;  // batch columns per block
inline constexpr int kRowsPerPass = 4;  // shrink rows (of A) per pass
inline constexpr int kWarps = kThreads / 32;
static_assert(kRowsPerPass * kTileColumns == 32, "one shuffle-reduced value per lane");

__device__ __forceinline__ float to_float(float v) {
  return v;
}
__device__ __forceinline__ float to_float(__half v) {
  return __half2float(v);
}
template <typename T>
__device__ __forceinline__ T from_float(float v);
template <>
__device__ __forceinline__ float from_float<float>(float v) {
  return v;
}
template <>
__device__ __forceinline__ __half from_float<__half>(float v) {
  return __float2half_rn(v);
}

// x[(t*E + e), j] = embedding[windows[t, j], e]; embedding is column-major [vocab, E].
template <typename T>
__global__ void gather_embedding(const T* __restrict__ embedding, int vocab, int embed_dim,
                                 const std::uint8_t* __restrict__ windows, int context, int batch,
                                 T* __restrict__ x) {
  const long long rows = static_cast<long long>(context) * embed_dim;
  const long long total = rows * batch;
  for (long long idx = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; idx < total;
       idx += static_cast<long long>(gridDim.x) * blockDim.x) {
    const long long j = idx / rows;
    const long long r = idx - j * rows;
    const int t = static_cast<int>(r / embed_dim);
    const int e = static_cast<int>(r - static_cast<long long>(t) * embed_dim);
    const int byte = windows[t + j * context];
    x[idx] = embedding[byte + static_cast<long long>(e) * vocab];
  }
}

// y[o, j] = act(y[o, j] + bias[o]).
template <typename T>
__global__ void bias_activation(T* __restrict__ y, const T* __restrict__ bias, int out, int batch,
                                int tanh_act) {
  const long long total = static_cast<long long>(out) * batch;
  for (long long idx = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; idx < total;
       idx += static_cast<long long>(gridDim.x) * blockDim.x) {
    float v = to_float(y[idx]) + to_float(bias[idx % out]);
    if (tanh_act) v = tanhf(v);
    y[idx] = from_float<T>(v);
  }
}

// Where one layer's adapter lives in the slot buffer, and each slot's scaling for it.
template <typename T>
struct LoraLayerArgs {
  const T* slots;  // slot 0's buffer; slot s starts at slots + s * slot_stride
  std::size_t slot_stride;
  std::size_t a_offset;  // this layer's A within a slot
  std::size_t b_offset;  // this layer's B within a slot
  const float* scales;   // scales[s * layer_count + layer]; 0: the slot leaves this layer alone
  int layer_count;
  int layer;
  const int* column_slots;  // per batch column; -1: no adapter
  int max_rank;
};

// The tile's slots and scalings, in shared memory; `uniform` when every column of the tile uses
// one slot, `any` when some column has a non-zero scaling.
struct TileSlots {
  int slot[kTileColumns];
  float scale[kTileColumns];
  int columns;
  bool uniform;
  bool any;
};

template <typename T>
__device__ void load_tile_slots(const LoraLayerArgs<T>& args, int j0, int batch, TileSlots& tile) {
  if (threadIdx.x == 0) {
    tile.columns = min(kTileColumns, batch - j0);
    tile.uniform = true;
    tile.any = false;
    for (int c = 0; c < kTileColumns; ++c) {
      int slot = -1;
      float scale = 0.0f;
      if (c < tile.columns) {
        slot = args.column_slots[j0 + c];
        if (slot >= 0)
          scale = args.scales[static_cast<std::size_t>(slot) * args.layer_count + args.layer];
        if (scale == 0.0f) slot = -1;
      }
      tile.slot[c] = slot;
      tile.scale[c] = scale;
      if (c < tile.columns && slot != tile.slot[0]) tile.uniform = false;
      if (slot >= 0) tile.any = true;
    }
  }
  __syncthreads();
}

// Block-wide shrink of rows [k0, k0 + kRowsPerPass) for the tile's columns:
// result[c * max_rank + k] = A_slot(c)[k, :] · x[:, j0 + c]. Every thread of the block calls it.
template <typename T>
__device__ void shrink_rows(const LoraLayerArgs<T>& args, const TileSlots& tile,
                            const T* __restrict__ x, int in, int j0, int k0, float* result,
                            float* scratch) {
  float acc[kRowsPerPass][kTileColumns];
#pragma unroll
  for (int r = 0; r < kRowsPerPass; ++r) {
#pragma unroll
    for (int c = 0; c < kTileColumns; ++c) acc[r][c] = 0.0f;
  }
  const int rows = min(kRowsPerPass, args.max_rank - k0);
  for (int i = threadIdx.x; i < in; i += blockDim.x) {
    float xv[kTileColumns];
#pragma unroll
    for (int c = 0; c < kTileColumns; ++c) {
      xv[c] = c < tile.columns ? to_float(x[static_cast<std::size_t>(j0 + c) * in + i]) : 0.0f;
    }
    if (tile.uniform) {
      const T* a =
          args.slots + static_cast<std::size_t>(tile.slot[0]) * args.slot_stride + args.a_offset;
#pragma unroll
      for (int r = 0; r < kRowsPerPass; ++r) {
        if (r < rows) {
          const float av = to_float(a[static_cast<std::size_t>(k0 + r) * in + i]);
#pragma unroll
          for (int c = 0; c < kTileColumns; ++c) acc[r][c] += av * xv[c];
        }
      }
    } else {
#pragma unroll
      for (int c = 0; c < kTileColumns; ++c) {
        if (tile.slot[c] < 0) continue;
        const T* a =
            args.slots + static_cast<std::size_t>(tile.slot[c]) * args.slot_stride + args.a_offset;
#pragma unroll
        for (int r = 0; r < kRowsPerPass; ++r) {
          if (r < rows) acc[r][c] += to_float(a[static_cast<std::size_t>(k0 + r) * in + i]) * xv[c];
        }
      }
    }
  }
  const int lane = threadIdx.x & 31;
  const int warp = threadIdx.x >> 5;
#pragma unroll
  for (int r = 0; r < kRowsPerPass; ++r) {
#pragma unroll
    for (int c = 0; c < kTileColumns; ++c) {
      float v = acc[r][c];
      for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_down_sync(0xffffffffu, v, offset);
      if (lane == 0) scratch[warp * 32 + r * kTileColumns + c] = v;
    }
  }
  __syncthreads();
  if (threadIdx.x < 32) {
    const int r = threadIdx.x / kTileColumns;
    const int c = threadIdx.x % kTileColumns;
    float sum = 0.0f;
    for (int w = 0; w < kWarps; ++w) sum += scratch[w * 32 + threadIdx.x];
    if (r < rows && c < tile.columns) result[c * args.max_rank + k0 + r] = sum;
  }
  __syncthreads();
}

// y[o, j] = act(y[o, j] + s_j · Σ_k B_slot(j)[o, k] · shrink[j, k] + bias[o]) for the tile's
// columns and this block's outputs.
template <typename T>
__device__ void expand_bias_activation(const LoraLayerArgs<T>& args, const TileSlots& tile,
                                       const float* shrink, T* __restrict__ y,
                                       const T* __restrict__ bias, int out, int j0, int tanh_act) {
  for (int o = blockIdx.y * blockDim.x + threadIdx.x; o < out; o += gridDim.y * blockDim.x) {
    float acc[kTileColumns];
#pragma unroll
    for (int c = 0; c < kTileColumns; ++c) acc[c] = 0.0f;
    if (tile.any && tile.uniform) {
      const T* b =
          args.slots + static_cast<std::size_t>(tile.slot[0]) * args.slot_stride + args.b_offset;
      for (int k = 0; k < args.max_rank; ++k) {
        const float bv = to_float(b[static_cast<std::size_t>(k) * out + o]);
#pragma unroll
        for (int c = 0; c < kTileColumns; ++c) {
          // Columns past the batch have no shrink results (not even zeros): never read them.
          if (c < tile.columns) acc[c] += bv * shrink[c * args.max_rank + k];
        }
      }
    } else if (tile.any) {
#pragma unroll
      for (int c = 0; c < kTileColumns; ++c) {
        if (tile.slot[c] < 0) continue;
        const T* b =
            args.slots + static_cast<std::size_t>(tile.slot[c]) * args.slot_stride + args.b_offset;
        for (int k = 0; k < args.max_rank; ++k) {
          acc[c] +=
              to_float(b[static_cast<std::size_t>(k) * out + o]) * shrink[c * args.max_rank + k];
        }
      }
    }
    const float bias_o = to_float(bias[o]);
#pragma unroll
    for (int c = 0; c < kTileColumns; ++c) {
      if (c >= tile.columns) continue;
      const std::size_t idx = static_cast<std::size_t>(j0 + c) * out + o;
      float v = to_float(y[idx]) + tile.scale[c] * acc[c] + bias_o;
      if (tanh_act) v = tanhf(v);
      y[idx] = from_float<T>(v);
    }
  }
}

// Dynamic shared memory of the LoRA kernels: the tile's shrink results, then the reduction scratch.
inline std::size_t lora_shared_bytes(int max_rank) {
  return (static_cast<std::size_t>(kTileColumns) * max_rank + kWarps * 32) * sizeof(float);
}

// Fused shrink + expand + bias + activation; grid (column tiles, output tiles). Each output tile
// recomputes its column tile's shrink, so the engine uses it only for narrow layers (<= 2 tiles).
template <typename T>
__global__ void __launch_bounds__(kThreads)
    lora_fused(LoraLayerArgs<T> args, const T* __restrict__ x, int in, T* __restrict__ y,
               const T* __restrict__ bias, int out, int batch, int tanh_act) {
  extern __shared__ float shared[];
  float* shrink = shared;
  float* scratch = shared + kTileColumns * args.max_rank;
  __shared__ TileSlots tile;
  const int j0 = blockIdx.x * kTileColumns;
  load_tile_slots(args, j0, batch, tile);
  if (tile.any) {
    for (int k0 = 0; k0 < args.max_rank; k0 += kRowsPerPass)
      shrink_rows(args, tile, x, in, j0, k0, shrink, scratch);
  }
  expand_bias_activation(args, tile, shrink, y, bias, out, j0, tanh_act);
}

// Two-stage form for wide layers. Stage 1, grid (column tiles, row passes):
// shrink_out[j * max_rank + k] = A_slot(j)[k, :] · x[:, j].
template <typename T>
__global__ void __launch_bounds__(kThreads)
    lora_shrink(LoraLayerArgs<T> args, const T* __restrict__ x, int in, int batch,
                float* shrink_out) {
  __shared__ float scratch[kWarps * 32];
  __shared__ TileSlots tile;
  const int j0 = blockIdx.x * kTileColumns;
  load_tile_slots(args, j0, batch, tile);
  if (!tile.any) return;  // block-uniform: the expand stage reads nothing for this tile
  shrink_rows(args, tile, x, in, j0, blockIdx.y * kRowsPerPass,
              shrink_out + static_cast<std::size_t>(j0) * args.max_rank, scratch);
}

// Stage 2, grid (column tiles, output tiles): expand + bias + activation from stage 1's results.
template <typename T>
__global__ void __launch_bounds__(kThreads)
    lora_expand(LoraLayerArgs<T> args, const float* __restrict__ shrink_in, T* __restrict__ y,
                const T* __restrict__ bias, int out, int batch, int tanh_act) {
  extern __shared__ float shared[];
  __shared__ TileSlots tile;
  const int j0 = blockIdx.x * kTileColumns;
  load_tile_slots(args, j0, batch, tile);
  if (tile.any) {
    for (int idx = threadIdx.x; idx < tile.columns * args.max_rank; idx += blockDim.x) {
      shared[idx] = shrink_in[static_cast<std::size_t>(j0) * args.max_rank + idx];
    }
  }
  __syncthreads();
  expand_bias_activation(args, tile, shared, y, bias, out, j0, tanh_act);
}

// Uniform values in [-scale, scale) from a counter-based hash (splitmix64): reproducible fills.
template <typename T>
__global__ void fill_uniform(T* __restrict__ p, std::size_t n, unsigned long long seed,
                             float scale) {
  for (std::size_t idx = blockIdx.x * static_cast<std::size_t>(blockDim.x) + threadIdx.x; idx < n;
       idx += static_cast<std::size_t>(gridDim.x) * blockDim.x) {
    unsigned long long z = seed + 0x9e3779b97f4a7c15ull * (idx + 1);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    const float u = static_cast<float>(z >> 40) * (1.0f / 16777216.0f);  // [0, 1)
    p[idx] = from_float<T>((2.0f * u - 1.0f) * scale);
  }
}

template <typename T>
__global__ void to_float_kernel(const T* __restrict__ in, float* __restrict__ out, std::size_t n) {
  for (std::size_t idx = blockIdx.x * static_cast<std::size_t>(blockDim.x) + threadIdx.x; idx < n;
       idx += static_cast<std::size_t>(gridDim.x) * blockDim.x) {
    out[idx] = to_float(in[idx]);
  }
}

}  // namespace bftgate::gpu::cuda::kernels
