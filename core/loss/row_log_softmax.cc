// The ATen path, and the CUDA kernels for CUDA tensors when they are built in.
#include "core/loss/row_log_softmax.h"

#include <torch/torch.h>

#ifdef DPO_WITH_CUDA_KERNELS
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

#include "core/cuda/log_softmax_rows.h"
#endif

#include "core/common/error.h"

namespace dpo {
namespace {

#ifdef DPO_WITH_CUDA_KERNELS
cuda::LogitsDtype KernelDtype(const at::Tensor& logits) {
  switch (logits.scalar_type()) {
    case at::kFloat: return cuda::LogitsDtype::kFloat32;
    case at::kBFloat16: return cuda::LogitsDtype::kBFloat16;
    case at::kHalf: return cuda::LogitsDtype::kFloat16;
    default:
      throw InvalidInput(std::string("row log-softmax: logits must be float32, bfloat16 or float16, found ") +
                         c10::toString(logits.scalar_type()));
  }
}

void Check(cudaError_t status, const char* what) {
  if (status != cudaSuccess) throw Error(ErrorKind::kInternal, std::string(what) + ": " + cudaGetErrorString(status));
}

cudaStream_t CurrentStream(const at::Tensor& tensor) {
  return c10::cuda::getCurrentCUDAStream(tensor.device().index()).stream();
}

RowLogSoftmaxStats KernelStats(const at::Tensor& logits, const at::Tensor& targets) {
  const c10::cuda::CUDAGuard device(logits.device());
  const auto rows = logits.contiguous();
  const auto row_targets = targets.to(torch::kLong).contiguous();
  const auto options = logits.options().dtype(torch::kFloat);
  RowLogSoftmaxStats stats{torch::empty({rows.size(0)}, options), torch::empty({rows.size(0)}, options),
                           torch::empty({rows.size(0)}, options)};
  Check(cuda::LaunchRowLogSoftmaxStats(rows.data_ptr(), KernelDtype(rows), rows.size(0), rows.size(1),
                                       row_targets.data_ptr<int64_t>(), stats.log_normalisers.data_ptr<float>(),
                                       stats.target_logits.data_ptr<float>(), stats.mean_logits.data_ptr<float>(),
                                       CurrentStream(rows)),
        "row log-softmax statistics kernel");
  return stats;
}

at::Tensor KernelGatherBackward(const at::Tensor& logits, const at::Tensor& targets, const at::Tensor& log_normalisers,
                                const at::Tensor& grad) {
  const c10::cuda::CUDAGuard device(logits.device());
  auto rows = logits.contiguous();
  const auto row_targets = targets.to(torch::kLong).contiguous();
  const auto lse = log_normalisers.to(torch::kFloat).contiguous();
  const auto row_grad = grad.to(torch::kFloat).contiguous();
  Check(cuda::LaunchRowLogSoftmaxGatherBackward(rows.data_ptr(), KernelDtype(rows), rows.size(0), rows.size(1),
                                                row_targets.data_ptr<int64_t>(), lse.data_ptr<float>(),
                                                row_grad.data_ptr<float>(), CurrentStream(rows)),
        "row log-softmax backward kernel");
  return rows;
}
#endif

}  // namespace

RowLogSoftmaxStats ComputeRowLogSoftmaxStats(const at::Tensor& logits, const at::Tensor& targets) {
#ifdef DPO_WITH_CUDA_KERNELS
  if (logits.is_cuda()) return KernelStats(logits, targets);
#endif
  const auto z = logits.to(torch::kFloat);
  return {torch::logsumexp(z, -1), z.gather(1, targets.unsqueeze(1)).squeeze(1), z.mean(-1)};
}

at::Tensor RowLogSoftmaxGatherBackward(at::Tensor logits, const at::Tensor& targets, const at::Tensor& log_normalisers,
                                       const at::Tensor& grad) {
#ifdef DPO_WITH_CUDA_KERNELS
  if (logits.is_cuda()) return KernelGatherBackward(logits, targets, log_normalisers, grad);
#endif
  const auto g = grad.unsqueeze(1);  // (c, 1)
  auto result = torch::exp(logits.to(torch::kFloat) - log_normalisers.unsqueeze(1));
  result.mul_(-g);
  result.scatter_add_(1, targets.unsqueeze(1), g);
  return result.to(logits.scalar_type());
}

}  // namespace dpo
