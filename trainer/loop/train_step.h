// TrainStep: one optimizer step of DPO, and nothing else -- no logging, no files, no clocks
// beyond the gradient-sync time it reports. Read TrainStep::Run top to bottom:
//   1. gradients  each micro-batch: policy forward, reference log-probs, loss, backward
//   2. synchronise  gradient sums over ranks, agreement on reference failures, loss/metric sums
//   3. clip        to training.max_grad_norm
//   4. update      AdamW at the scheduled learning rate, unless loss or gradient is not finite
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include <ATen/core/Tensor.h>

#include "core/common/error.h"
#include "trainer/loop/preference_step.h"

namespace dpo {

class Communicator;
class DataParallelOptimizer;
class LrSchedule;

// What one step did. Loss, metrics and tokens are summed over every rank (the same on each).
struct StepResult {
  StepTotals totals;
  double learning_rate = 0;
  double grad_norm = 0;          // before clipping; 0 when the step failed
  bool applied = false;          // false: skipped (non-finite loss or gradient) or failed
  double grad_sync_seconds = 0;  // this rank's wait for the gradient reduction (0 on one rank)
  // Set when any rank could not get its reference log-probs: nothing was applied, on any rank,
  // and the gradients are zero again. The caller decides what to do (dpo-train stops, exit 3).
  std::optional<Error> reference_failure;
};

// The parts a step works with. Pointers are borrowed, required and must outlive the TrainStep.
struct TrainStepParts {
  PreferenceStep* micro_batches = nullptr;  // forward, reference, loss and backward of a micro-batch
  const std::vector<TokenizedPair>* pairs = nullptr;
  DataParallelOptimizer* optimizer = nullptr;  // gradient sync, clipping and AdamW (any ZeRO stage)
  const LrSchedule* schedule = nullptr;
  Communicator* communicator = nullptr;
  int64_t micro_batch_size = 1;           // training.per_device_batch_size
  int64_t accumulation_steps = 1;         // training.gradient_accumulation_steps
  double max_grad_norm = 0;               // <= 0: no clipping (the norm is still computed)
};

// Sums `totals` (loss, pair metrics, tokens) over every rank, in place (collective; a no-op on
// one rank). Used by the step and by evaluation.
void ReduceTotals(Communicator& communicator, StepTotals& totals);

class TrainStep {
 public:
  // Throws Error(kInternal) when a required part is missing.
  explicit TrainStep(TrainStepParts parts);

  // Optimizer step `step` (0-based) over `global_batch` (the sampler's pair indices, which set the
  // loss normalisation) of which this rank computes `rank_shard` (micro_batch_size x
  // accumulation_steps indices). Collective: every rank calls it for every step. Throws
  // dpo::Error for anything but a reference failure (returned in the result).
  StepResult Run(int64_t step, const std::vector<int64_t>& global_batch, const std::vector<int64_t>& rank_shard);

  // The pair indices of micro-batch `micro` of `rank_shard`.
  std::vector<int64_t> MicroBatch(const std::vector<int64_t>& rank_shard, int64_t micro) const;

 private:
  // Step 1: accumulates the gradients of every micro-batch; after a reference failure the rest
  // do no work, and the failure is returned (the other errors propagate).
  // `step_number` is 1-based.
  std::optional<Error> ComputeGradients(int64_t step_number, const std::vector<int64_t>& rank_shard,
                                        const LossNormalizer& normalizer, StepTotals& totals);
  // Step 2: whether any rank failed (collective); this rank's own failure, or one naming another
  // rank's.
  std::optional<Error> AgreeOnReferenceFailure(std::optional<Error> failure, int64_t step_number);

  TrainStepParts parts_;
};

}  // namespace dpo
