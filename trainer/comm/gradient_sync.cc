// Bucketed, optionally backward-overlapped gradient all-reduce.
#include "trainer/comm/gradient_sync.h"

#include <torch/csrc/autograd/utils/lambda_post_hook.h>
#include <torch/csrc/autograd/variable.h>
#include <torch/torch.h>

#include "trainer/comm/communicator.h"
#include "trainer/comm/gradient_buckets.h"

namespace dpo {

GradientSync::GradientSync(Communicator& communicator, const std::vector<at::Tensor>& parameters, int64_t bucket_bytes,
                           bool overlap) {
  const std::vector<at::Tensor> reversed(parameters.rbegin(), parameters.rend());
  std::vector<at::Tensor> buffers = AssignBucketViewGradients(reversed, bucket_bytes);
  std::vector<std::vector<at::Tensor>> buckets;
  for (const auto& bucket : PlanBuckets(reversed, bucket_bytes)) {
    buckets.emplace_back();
    for (const size_t index : bucket) buckets.back().push_back(reversed[index]);
  }
  start_ = [&communicator, buffers = std::move(buffers)](size_t bucket) {
    return communicator.StartAllReduceSum(buffers[bucket]);
  };
  InstallHooks(buckets, overlap);
}

GradientSync::GradientSync(const std::vector<std::vector<at::Tensor>>& buckets, StartBucket start, bool overlap)
    : start_(std::move(start)) {
  InstallHooks(buckets, overlap);
}

void GradientSync::InstallHooks(const std::vector<std::vector<at::Tensor>>& buckets, bool overlap) {
  for (const auto& bucket : buckets) bucket_sizes_.push_back(static_cast<int64_t>(bucket.size()));
  ready_.assign(buckets.size(), 0);
  pending_.resize(buckets.size());
  if (!overlap) return;
  for (size_t b = 0; b < buckets.size(); ++b) {
    for (const at::Tensor& parameter : buckets[b]) {
      std::shared_ptr<torch::autograd::Node> accumulator = torch::autograd::impl::grad_accumulator(parameter);
      accumulator->add_post_hook(std::make_unique<torch::autograd::utils::LambdaPostHook>(
          [this, b](const torch::autograd::variable_list& outputs, const torch::autograd::variable_list&) {
            OnGradientReady(b);
            return outputs;
          }));
      accumulators_.push_back(std::move(accumulator));
    }
  }
}

GradientSync::~GradientSync() = default;

void GradientSync::Arm() {
  if (!accumulators_.empty()) armed_ = true;
}

void GradientSync::OnGradientReady(size_t bucket) {
  if (!armed_) return;
  if (++ready_[bucket] == bucket_sizes_[bucket]) StartReadyBuckets();
  // Give started reductions a chance to progress between backward kernels.
  for (size_t b = 0; b < next_to_start_; ++b) pending_[b]->Test();
}

void GradientSync::StartReadyBuckets() {
  while (next_to_start_ < bucket_sizes_.size() && ready_[next_to_start_] == bucket_sizes_[next_to_start_]) {
    pending_[next_to_start_] = start_(next_to_start_);
    ++next_to_start_;
  }
}

void GradientSync::Finish() {
  armed_ = false;
  for (; next_to_start_ < bucket_sizes_.size(); ++next_to_start_) {
    pending_[next_to_start_] = start_(next_to_start_);
  }
  for (auto& pending : pending_) {
    pending->Wait();
    pending.reset();
  }
  next_to_start_ = 0;
  std::fill(ready_.begin(), ready_.end(), 0);
}

}  // namespace dpo
