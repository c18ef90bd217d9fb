// One thread block per row. Forward keeps an online (max, sum of exp) pair per thread, merged
// across the block; backward is elementwise once the row's log-normaliser is known. Loads are
// 16 bytes wide where the row allows it (vocab a multiple of the vector width, aligned base).
#include "core/cuda/log_softmax_rows.h"

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cmath>

namespace dpo::cuda {
namespace {

constexpr int kThreads = 512;

__device__ __forceinline__ float ToFloat(float x) { return x; }
__device__ __forceinline__ float ToFloat(__nv_bfloat16 x) { return __bfloat162float(x); }
__device__ __forceinline__ float ToFloat(__half x) { return __half2float(x); }

template <typename T>
__device__ __forceinline__ T FromFloat(float x);
template <>
__device__ __forceinline__ float FromFloat<float>(float x) { return x; }
template <>
__device__ __forceinline__ __nv_bfloat16 FromFloat<__nv_bfloat16>(float x) { return __float2bfloat16(x); }
template <>
__device__ __forceinline__ __half FromFloat<__half>(float x) { return __float2half(x); }

// Running log-sum-exp: sum of exp(x - max) over the values seen.
struct Lse {
  float max;
  float sum;
};

__device__ __forceinline__ Lse Merge(Lse a, Lse b) {
  const float max = fmaxf(a.max, b.max);
  if (max == -INFINITY) return {max, 0.0f};
  return {max, (a.max == -INFINITY ? 0.0f : a.sum * __expf(a.max - max)) +
                   (b.max == -INFINITY ? 0.0f : b.sum * __expf(b.max - max))};
}

// Adds `count` values whose maximum is `max`: one rescale, then one exponential per value.
__device__ __forceinline__ void Rescale(Lse& lse, float max) {
  if (max > lse.max) {
    lse.sum = lse.max == -INFINITY ? 0.0f : lse.sum * __expf(lse.max - max);
    lse.max = max;
  }
}

__device__ __forceinline__ void AddOne(Lse& lse, float x) {
  if (x == -INFINITY) return;
  Rescale(lse, x);
  lse.sum += __expf(x - lse.max);
}

// Number of T in 16 bytes.
template <typename T>
__host__ __device__ constexpr int VectorWidth() {
  return 16 / static_cast<int>(sizeof(T));
}

template <typename T>
struct alignas(16) Vector {
  T values[VectorWidth<T>()];
};

template <typename T>
__device__ __forceinline__ bool CanVectorise(const T* row, int64_t vocab) {
  return vocab % VectorWidth<T>() == 0 && reinterpret_cast<uintptr_t>(row) % 16 == 0;
}

template <typename T>
__global__ void __launch_bounds__(kThreads)
    RowStatsKernel(const T* __restrict__ logits, int64_t vocab, const int64_t* __restrict__ targets,
                   float* __restrict__ log_normalisers, float* __restrict__ target_logits,
                   float* __restrict__ mean_logits) {
  const int64_t row = blockIdx.x;
  const T* values = logits + row * vocab;
  Lse lse{-INFINITY, 0.0f};
  float sum = 0.0f;
  if (CanVectorise(values, vocab)) {
    const auto* vectors = reinterpret_cast<const Vector<T>*>(values);
    const int64_t count = vocab / VectorWidth<T>();
    for (int64_t i = threadIdx.x; i < count; i += kThreads) {
      const Vector<T> v = vectors[i];
      float x[VectorWidth<T>()];
      float max = -INFINITY;
#pragma unroll
      for (int k = 0; k < VectorWidth<T>(); ++k) {
        x[k] = ToFloat(v.values[k]);
        max = fmaxf(max, x[k]);
        sum += x[k];
      }
      if (max == -INFINITY) continue;
      Rescale(lse, max);
#pragma unroll
      for (int k = 0; k < VectorWidth<T>(); ++k) lse.sum += __expf(x[k] - lse.max);
    }
  } else {
    for (int64_t j = threadIdx.x; j < vocab; j += kThreads) {
      const float x = ToFloat(values[j]);
      AddOne(lse, x);
      sum += x;
    }
  }
  // Warp, then block.
  for (int offset = 16; offset > 0; offset /= 2) {
    const Lse other{__shfl_xor_sync(0xffffffffu, lse.max, offset), __shfl_xor_sync(0xffffffffu, lse.sum, offset)};
    lse = Merge(lse, other);
    sum += __shfl_xor_sync(0xffffffffu, sum, offset);
  }
  __shared__ Lse warp_lse[kThreads / 32];
  __shared__ float warp_sum[kThreads / 32];
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  if (lane == 0) {
    warp_lse[warp] = lse;
    warp_sum[warp] = sum;
  }
  __syncthreads();
  if (threadIdx.x == 0) {
    Lse total = warp_lse[0];
    float total_sum = warp_sum[0];
    for (int w = 1; w < kThreads / 32; ++w) {
      total = Merge(total, warp_lse[w]);
      total_sum += warp_sum[w];
    }
    log_normalisers[row] = total.max + logf(total.sum);
    mean_logits[row] = total_sum / static_cast<float>(vocab);
    const int64_t target = targets[row];
    target_logits[row] = target >= 0 && target < vocab ? ToFloat(values[target]) : NAN;
  }
}

template <typename T>
__device__ __forceinline__ T GradientAt(float x, int64_t j, int64_t target, float lse, float g) {
  return FromFloat<T>(g * ((j == target ? 1.0f : 0.0f) - __expf(x - lse)));
}

template <typename T>
__global__ void __launch_bounds__(kThreads)
    GatherBackwardKernel(T* __restrict__ logits, int64_t vocab, const int64_t* __restrict__ targets,
                         const float* __restrict__ log_normalisers, const float* __restrict__ grad) {
  const int64_t row = blockIdx.x;
  T* values = logits + row * vocab;
  const int64_t target = targets[row];
  const float lse = log_normalisers[row], g = grad[row];
  if (CanVectorise(values, vocab)) {
    auto* vectors = reinterpret_cast<Vector<T>*>(values);
    const int64_t count = vocab / VectorWidth<T>();
    for (int64_t i = threadIdx.x; i < count; i += kThreads) {
      Vector<T> v = vectors[i];
#pragma unroll
      for (int k = 0; k < VectorWidth<T>(); ++k) {
        v.values[k] = GradientAt<T>(ToFloat(v.values[k]), i * VectorWidth<T>() + k, target, lse, g);
      }
      vectors[i] = v;
    }
  } else {
    for (int64_t j = threadIdx.x; j < vocab; j += kThreads) values[j] = GradientAt<T>(ToFloat(values[j]), j, target, lse, g);
  }
}

template <typename T>
cudaError_t LaunchStats(const void* logits, int64_t rows, int64_t vocab, const int64_t* targets, float* lse,
                        float* target_logits, float* mean_logits, cudaStream_t stream) {
  if (rows == 0) return cudaSuccess;
  RowStatsKernel<T><<<static_cast<unsigned>(rows), kThreads, 0, stream>>>(static_cast<const T*>(logits), vocab, targets,
                                                                          lse, target_logits, mean_logits);
  return cudaGetLastError();
}

template <typename T>
cudaError_t LaunchBackward(void* logits, int64_t rows, int64_t vocab, const int64_t* targets, const float* lse,
                           const float* grad, cudaStream_t stream) {
  if (rows == 0) return cudaSuccess;
  GatherBackwardKernel<T><<<static_cast<unsigned>(rows), kThreads, 0, stream>>>(static_cast<T*>(logits), vocab, targets,
                                                                                lse, grad);
  return cudaGetLastError();
}

}  // namespace

cudaError_t LaunchRowLogSoftmaxStats(const void* logits, LogitsDtype dtype, int64_t rows, int64_t vocab,
                                     const int64_t* targets, float* log_normalisers, float* target_logits,
                                     float* mean_logits, cudaStream_t stream) {
  switch (dtype) {
    case LogitsDtype::kFloat32:
      return LaunchStats<float>(logits, rows, vocab, targets, log_normalisers, target_logits, mean_logits, stream);
    case LogitsDtype::kBFloat16:
      return LaunchStats<__nv_bfloat16>(logits, rows, vocab, targets, log_normalisers, target_logits, mean_logits,
                                        stream);
    case LogitsDtype::kFloat16:
      return LaunchStats<__half>(logits, rows, vocab, targets, log_normalisers, target_logits, mean_logits, stream);
  }
  return cudaErrorInvalidValue;
}

cudaError_t LaunchRowLogSoftmaxGatherBackward(void* logits, LogitsDtype dtype, int64_t rows, int64_t vocab,
                                              const int64_t* targets, const float* log_normalisers,
                                              const float* grad, cudaStream_t stream) {
  switch (dtype) {
    case LogitsDtype::kFloat32:
      return LaunchBackward<float>(logits, rows, vocab, targets, log_normalisers, grad, stream);
    case LogitsDtype::kBFloat16:
      return LaunchBackward<__nv_bfloat16>(logits, rows, vocab, targets, log_normalisers, grad, stream);
    case LogitsDtype::kFloat16:
      return LaunchBackward<__half>(logits, rows, vocab, targets, log_normalisers, grad, stream);
  }
  return cudaErrorInvalidValue;
}

}  // namespace dpo::cuda
