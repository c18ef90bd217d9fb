// CUDA kernels for the rows of an output projection's logits: the statistics the DPO log-probs
// need (forward) and the gradient of log_softmax(z)[target] (backward), one pass over the row
// each, reading the logits in their own dtype and computing in float32.
//
// A plain C++ interface on raw device pointers, so that nvcc never sees LibTorch's headers;
// core/loss/row_log_softmax.cc calls it with the current stream.
#pragma once

#include <cstdint>

#include <cuda_runtime_api.h>

namespace dpo::cuda {

enum class LogitsDtype { kFloat32, kBFloat16, kFloat16 };

// logits (rows, vocab) row-major, targets (rows,) ->
//   log_normalisers[r] = logsumexp_j logits[r, j]
//   target_logits[r]   = logits[r, targets[r]]   (NaN where targets[r] is outside [0, vocab))
//   mean_logits[r]     = mean_j logits[r, j]
// all float32. Returns the launch's error.
cudaError_t LaunchRowLogSoftmaxStats(const void* logits, LogitsDtype dtype, int64_t rows, int64_t vocab,
                                     const int64_t* targets, float* log_normalisers, float* target_logits,
                                     float* mean_logits, cudaStream_t stream);

// In place over `logits` (rows, vocab), in its dtype:
//   logits[r, j] <- grad[r] * ([j == targets[r]] - exp(logits[r, j] - log_normalisers[r]))
// the gradient of grad[r] * log_softmax(logits[r])[targets[r]] with respect to logits[r].
cudaError_t LaunchRowLogSoftmaxGatherBackward(void* logits, LogitsDtype dtype, int64_t rows, int64_t vocab,
                                              const int64_t* targets, const float* log_normalisers,
                                              const float* grad, cudaStream_t stream);

}  // namespace dpo::cuda
