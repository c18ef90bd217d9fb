// ZeRO stages 1 and 2 over flat parameter and gradient buckets.
#include "trainer/zero/sharded_optimizer.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "core/common/error.h"
#include "core/optim/fused_adamw.h"
#include "core/optim/weight_decay_groups.h"
#include "trainer/checkpoint/checkpoint_layout.h"
#include "trainer/comm/communicator.h"
#include "trainer/comm/gradient_buckets.h"
#include "trainer/comm/gradient_sync.h"
#include "trainer/zero/adam_state_files.h"

namespace dpo {
namespace {

ShardLayout PlanLayout(const Communicator& communicator, const std::vector<at::Tensor>& parameters, int64_t bucket_bytes) {
  std::vector<int64_t> numels;
  for (const auto& parameter : parameters) numels.push_back(parameter.numel());
  const std::vector<at::Tensor> reversed(parameters.rbegin(), parameters.rend());
  return ShardLayout(numels, PlanBuckets(reversed, bucket_bytes), communicator.world_size(), communicator.rank());
}

}  // namespace

ShardedOptimizer::ShardedOptimizer(Communicator& communicator, std::vector<at::Tensor> parameters,
                                   const DataParallelOptions& options)
    : communicator_(communicator),
      options_(options),
      parameters_(std::move(parameters)),
      layout_(PlanLayout(communicator, parameters_, options.bucket_bytes)) {
  if (options_.zero_stage != 1 && options_.zero_stage != 2) {
    throw Error(ErrorKind::kInternal, "ShardedOptimizer: zero_stage " + std::to_string(options_.zero_stage));
  }
  MoveParametersIntoBuckets();
  BuildKernelGroups();

  std::vector<std::vector<at::Tensor>> buckets;
  for (const ShardBucket& bucket : layout_.buckets()) {
    buckets.emplace_back();
    for (const size_t parameter : bucket.parameters) buckets.back().push_back(parameters_[parameter]);
  }
  if (options_.zero_stage == 1) {
    gradient_sync_ = std::make_unique<GradientSync>(
        buckets, [this](size_t b) { return communicator_.StartAllReduceSum(grad_buffers_[b]); }, options_.overlap);
  } else {
    // Hooks always: reducing during backward is what frees the gradients.
    gradient_sync_ = std::make_unique<GradientSync>(
        buckets,
        [this](size_t b) { return ReduceScatterBucket(b); },
        /*overlap=*/true);
  }
}

ShardedOptimizer::~ShardedOptimizer() = default;

void ShardedOptimizer::MoveParametersIntoBuckets() {
  // Checked before any parameter moves, so a refused model is left as it was.
  for (const at::Tensor& parameter : parameters_) {
    if (parameter.scalar_type() != parameters_.front().scalar_type() || parameter.device() != parameters_.front().device()) {
      throw InvalidInput("distributed.zero_stage: every trainable parameter must share one dtype and device");
    }
  }
  const torch::NoGradGuard no_grad;
  for (const ShardBucket& bucket : layout_.buckets()) {
    const auto options = parameters_[bucket.parameters.front()].options().requires_grad(false);
    at::Tensor params = torch::zeros({bucket.padded_size}, options);
    at::Tensor grads = options_.zero_stage == 1 ? torch::zeros({bucket.padded_size}, options) : at::Tensor();
    for (const size_t index : bucket.parameters) {
      at::Tensor parameter = parameters_[index];
      const int64_t offset = layout_.bucket_offset(index);
      at::Tensor slot = params.narrow(0, offset, parameter.numel());
      slot.copy_(parameter.detach().reshape({-1}));
      parameter.set_data(slot.view(parameter.sizes()));
      if (grads.defined()) {
        parameter.mutable_grad() = grads.narrow(0, offset, parameter.numel()).view(parameter.sizes());
      } else {
        parameter.mutable_grad() = at::Tensor();
      }
    }
    param_buffers_.push_back(params);
    if (grads.defined()) grad_buffers_.push_back(grads);
    if (options_.zero_stage == 2) grad_shards_.push_back(torch::zeros({bucket.segment}, options));
    exp_avg_.push_back(torch::zeros({bucket.segment}, options));
    exp_avg_sq_.push_back(torch::zeros({bucket.segment}, options));
  }
  const auto device = parameters_.empty() ? torch::Device(torch::kCPU) : parameters_.front().device();
  step_tensor_ = torch::zeros({}, torch::dtype(torch::kFloat).device(device));
  if (options_.zero_stage == 2 && !parameters_.empty()) {
    int64_t largest = 0;
    for (const ShardBucket& bucket : layout_.buckets()) largest = std::max(largest, bucket.padded_size);
    const auto options = parameters_.front().options().requires_grad(false);
    in_flight_.resize(kBucketsInFlight);
    for (InFlightBuffer& buffer : in_flight_) {
      buffer.flat = torch::empty({largest}, options);
      buffer.segment = torch::empty({largest / layout_.world_size()}, options);
    }
  }
}

// One bucket's started reduce-scatter; completing it adds the received segment to the bucket's
// gradient shard, once, whoever waits first (the buffer's next user or GradientSync::Finish).
class ShardedOptimizer::SegmentReduction final : public PendingReduction {
 public:
  SegmentReduction(std::unique_ptr<PendingReduction> started, at::Tensor segment, at::Tensor shard)
      : started_(std::move(started)), segment_(std::move(segment)), shard_(std::move(shard)) {}
  void Wait() override {
    if (done_) return;
    started_->Wait();
    const torch::NoGradGuard no_grad;
    shard_.add_(segment_);
    done_ = true;
  }
  bool Test() override { return done_ || started_->Test(); }

 private:
  std::unique_ptr<PendingReduction> started_;
  at::Tensor segment_, shard_;
  bool done_ = false;
};

namespace {
// What GradientSync owns of a reduction the in-flight buffer also refers to.
class SharedReduction final : public PendingReduction {
 public:
  explicit SharedReduction(std::shared_ptr<PendingReduction> reduction) : reduction_(std::move(reduction)) {}
  void Wait() override { reduction_->Wait(); }
  bool Test() override { return reduction_->Test(); }

 private:
  std::shared_ptr<PendingReduction> reduction_;
};
}  // namespace

std::unique_ptr<PendingReduction> ShardedOptimizer::ReduceScatterBucket(size_t b) {
  InFlightBuffer& buffer = in_flight_[next_in_flight_];
  next_in_flight_ = (next_in_flight_ + 1) % in_flight_.size();
  if (buffer.reduction) buffer.reduction->Wait();  // its previous bucket is in its shard now
  const torch::NoGradGuard no_grad;
  const ShardBucket& bucket = layout_.buckets()[b];
  at::Tensor flat = buffer.flat.narrow(0, 0, bucket.padded_size);
  at::Tensor segment = buffer.segment.narrow(0, 0, bucket.segment);
  for (const size_t index : bucket.parameters) {
    at::Tensor& grad = parameters_[index].mutable_grad();
    at::Tensor slot = flat.narrow(0, layout_.bucket_offset(index), parameters_[index].numel());
    // A parameter this micro-batch did not reach contributes zeros.
    if (grad.defined()) {
      slot.copy_(grad.reshape({-1}));
    } else {
      slot.zero_();
    }
    grad = at::Tensor();
  }
  flat.narrow(0, bucket.size, bucket.padded_size - bucket.size).zero_();
  buffer.reduction =
      std::make_shared<SegmentReduction>(communicator_.StartReduceScatterSum(flat, segment), segment, grad_shards_[b]);
  return std::make_unique<SharedReduction>(buffer.reduction);
}

void ShardedOptimizer::BuildKernelGroups() {
  kernel_groups_.assign(2, {});
  kernel_groups_[0].weight_decay = options_.weight_decay;  // matrices and embeddings
  kernel_groups_[1].weight_decay = 0;                      // biases and norm weights
  for (const ShardPiece& piece : layout_.pieces()) {
    const ShardBucket& bucket = layout_.buckets()[piece.bucket];
    const int64_t in_segment = piece.bucket_offset - layout_.rank() * bucket.segment;
    const at::Tensor grad = options_.zero_stage == 2 ? grad_shards_[piece.bucket].narrow(0, in_segment, piece.length)
                                                     : grad_buffers_[piece.bucket].narrow(0, piece.bucket_offset, piece.length);
    KernelGroup& group = kernel_groups_[DecaysWeight(parameters_[piece.parameter]) ? 0 : 1];
    group.params.push_back(param_buffers_[piece.bucket].narrow(0, piece.bucket_offset, piece.length));
    group.grads.push_back(grad);
    group.exp_avgs.push_back(exp_avg_[piece.bucket].narrow(0, in_segment, piece.length));
    group.exp_avg_sqs.push_back(exp_avg_sq_[piece.bucket].narrow(0, in_segment, piece.length));
    group.steps.push_back(step_tensor_);
    owned_grads_.push_back(grad);
  }
}

void ShardedOptimizer::BeginMicroBatch(bool last) {
  if (options_.zero_stage == 2 || last) gradient_sync_->Arm();
}

void ShardedOptimizer::EndMicroBatch() {
  // Stage 2: the buckets backward did not complete (parameters without a gradient in this
  // micro-batch) are reduced now, in bucket order like every rank's.
  if (options_.zero_stage == 2) gradient_sync_->Finish();
}

void ShardedOptimizer::SynchronizeGradients() {
  if (options_.zero_stage == 1) gradient_sync_->Finish();
}

double ShardedOptimizer::ClipGradNorm(double max_norm) {
  const torch::NoGradGuard no_grad;
  std::vector<double> squared{0.0};
  if (!owned_grads_.empty()) {
    const at::Tensor norms = torch::stack(at::_foreach_norm(owned_grads_, 2)).to(torch::kDouble);
    squared[0] = norms.pow(2).sum().item<double>();
  }
  communicator_.AllReduceSum(squared);
  const double norm = std::sqrt(squared[0]);
  if (max_norm > 0 && std::isfinite(norm)) {
    const double factor = max_norm / (norm + 1e-6);
    if (factor < 1 && !owned_grads_.empty()) at::_foreach_mul_(owned_grads_, factor);
  }
  return norm;
}

void ShardedOptimizer::Step(double learning_rate) {
  const torch::NoGradGuard no_grad;
  ++step_;
  step_tensor_.fill_(static_cast<double>(step_));
  for (KernelGroup& group : kernel_groups_) {
    if (group.params.empty()) continue;
    at::_fused_adamw_(group.params, group.grads, group.exp_avgs, group.exp_avg_sqs, /*max_exp_avg_sqs=*/{}, group.steps,
                      learning_rate, options_.beta1, options_.beta2, group.weight_decay, options_.eps,
                      /*amsgrad=*/false, /*maximize=*/false);
  }
  for (at::Tensor& buffer : param_buffers_) communicator_.AllGather(buffer);
}

void ShardedOptimizer::ZeroGrad() {
  for (InFlightBuffer& buffer : in_flight_) {
    if (buffer.reduction) buffer.reduction->Wait();  // nothing lands in a shard after it is zeroed
  }
  for (at::Tensor& buffer : grad_buffers_) buffer.zero_();
  for (at::Tensor& shard : grad_shards_) shard.zero_();
  // Stage 2: gradients of an abandoned micro-batch (an error before EndMicroBatch) go too.
  if (options_.zero_stage == 2) {
    for (at::Tensor& parameter : parameters_) parameter.mutable_grad() = at::Tensor();
  }
}

std::vector<std::string> ShardedOptimizer::WriteState(const std::string& dir) {
  std::vector<std::pair<int64_t, int64_t>> ranges;
  std::vector<at::Tensor> exp_avg, exp_avg_sq;
  for (const ShardPiece& piece : layout_.pieces()) {
    const int64_t in_segment = piece.bucket_offset - layout_.rank() * layout_.buckets()[piece.bucket].segment;
    ranges.emplace_back(layout_.global_offset(piece.parameter) + piece.param_offset, piece.length);
    exp_avg.push_back(exp_avg_[piece.bucket].narrow(0, in_segment, piece.length));
    exp_avg_sq.push_back(exp_avg_sq_[piece.bucket].narrow(0, in_segment, piece.length));
  }
  const auto concatenated = [](const std::vector<at::Tensor>& pieces) {
    return pieces.empty() ? torch::zeros({0}, torch::kFloat) : torch::cat(pieces);
  };
  const std::string name = OptimizerShardFileName(layout_.rank(), layout_.world_size());
  WriteOptimizerShard((std::filesystem::path(dir) / name).string(), step_, layout_.total(), ranges, concatenated(exp_avg),
                      concatenated(exp_avg_sq));
  return {name};
}

void ShardedOptimizer::ReadState(const std::string& dir, const std::vector<std::string>& files) {
  FlatAdamState flat;
  if (files.size() == 1 && files.front() == kOptimizerFileName) {
    // A stage-0 checkpoint: load it the way stage 0 would, then flatten.
    const auto adamw = AdamWOptionsOf(options_);
    FusedAdamW whole(WeightDecayGroups(parameters_, adamw), adamw);
    const std::string path = (std::filesystem::path(dir) / kOptimizerFileName).string();
    try {
      torch::load(whole, path, torch::Device(torch::kCPU));
    } catch (const c10::Error& e) {
      throw InvalidInput(path + ": cannot load into this optimizer: " + e.what_without_backtrace());
    }
    flat = FlattenAdamState(whole, parameters_);
  } else {
    flat = ReadOptimizerShards(dir, files, layout_.total());
  }
  const torch::NoGradGuard no_grad;
  for (const ShardPiece& piece : layout_.pieces()) {
    const int64_t in_segment = piece.bucket_offset - layout_.rank() * layout_.buckets()[piece.bucket].segment;
    const int64_t global = layout_.global_offset(piece.parameter) + piece.param_offset;
    exp_avg_[piece.bucket].narrow(0, in_segment, piece.length).copy_(flat.exp_avg.narrow(0, global, piece.length));
    exp_avg_sq_[piece.bucket].narrow(0, in_segment, piece.length).copy_(flat.exp_avg_sq.narrow(0, global, piece.length));
  }
  step_ = flat.step;
}

int64_t ShardedOptimizer::GradientBytes() const {
  int64_t bytes = 0;
  for (const InFlightBuffer& buffer : in_flight_) bytes += static_cast<int64_t>(buffer.flat.nbytes() + buffer.segment.nbytes());
  for (const at::Tensor& buffer : grad_buffers_) bytes += static_cast<int64_t>(buffer.nbytes());
  for (const at::Tensor& shard : grad_shards_) bytes += static_cast<int64_t>(shard.nbytes());
  return bytes;
}

int64_t ShardedOptimizer::StateBytes() const {
  int64_t bytes = 0;
  for (size_t b = 0; b < exp_avg_.size(); ++b) bytes += static_cast<int64_t>(exp_avg_[b].nbytes() + exp_avg_sq_[b].nbytes());
  return bytes;
}

}  // namespace dpo
