// One optimizer step: gradients -> synchronise -> clip -> update.
#include "trainer/loop/train_step.h"

#include <torch/torch.h>

#include <cmath>
#include <limits>
#include <string>

#include "core/common/clock.h"
#include "core/optim/lr_schedule.h"
#include "trainer/checkpoint/fault_injection.h"
#include "trainer/comm/communicator.h"
#include "trainer/zero/data_parallel_optimizer.h"

namespace dpo {
namespace {

// Testing only: DPO_FAULT_INJECT=rank<R>.{throw,hang,kill}:<step> (fault_injection.h).
void InjectFaultsForTesting(int rank, int64_t step_number) {
  const std::string point = "rank" + std::to_string(rank);
  for (const char* action : {".throw", ".hang", ".kill"}) MaybeInjectFault(point + action, step_number);
}

}  // namespace

void ReduceTotals(Communicator& communicator, StepTotals& totals) {
  if (communicator.world_size() == 1) return;
  std::vector<double> sums = totals.metrics.Pack();
  sums.push_back(totals.loss);
  sums.push_back(static_cast<double>(totals.tokens));
  communicator.AllReduceSum(sums);
  totals.tokens = static_cast<int64_t>(sums.back());
  sums.pop_back();
  totals.loss = sums.back();
  sums.pop_back();
  totals.metrics = PairMetricSums::Unpack(sums);
}

TrainStep::TrainStep(TrainStepParts parts) : parts_(std::move(parts)) {
  if (parts_.micro_batches == nullptr || parts_.pairs == nullptr || parts_.optimizer == nullptr ||
      parts_.schedule == nullptr || parts_.communicator == nullptr) {
    throw Error(ErrorKind::kInternal, "TrainStep: a required part is missing");
  }
}

StepResult TrainStep::Run(int64_t step, const std::vector<int64_t>& global_batch,
                          const std::vector<int64_t>& rank_shard) {
  StepResult result;
  result.learning_rate = parts_.schedule->At(step);

  // 1. Gradients of the loss over this rank's micro-batches, accumulated in .grad. The loss is
  //    normalised by the global batch, so the sum over ranks is the global batch's loss.
  const LossNormalizer normalizer = PreferenceStep::NormalizerFor(*parts_.pairs, global_batch);
  std::optional<Error> failure = ComputeGradients(step + 1, rank_shard, normalizer, result.totals);
  InjectFaultsForTesting(parts_.communicator->rank(), step + 1);

  // 2. Synchronise: the gradient sums (also after a failure: every rank issues the same
  //    collectives), whether any rank lost its reference, then the loss and metric sums.
  const Clock::time_point sync_started = Clock::now();
  parts_.optimizer->SynchronizeGradients();
  result.grad_sync_seconds = SecondsSince(sync_started);
  result.reference_failure = AgreeOnReferenceFailure(std::move(failure), step + 1);
  if (result.reference_failure) {
    parts_.optimizer->ZeroGrad();
    return result;
  }
  ReduceTotals(*parts_.communicator, result.totals);

  // 3. Clip to max_grad_norm; the norm before clipping (over every rank's shard) is reported
  //    either way.
  result.grad_norm = parts_.optimizer->ClipGradNorm(parts_.max_grad_norm);

  // 4. Update, unless the loss or the norm is not finite. Totals and the norm are identical on
  //    every rank after the sync, so every rank decides alike.
  result.applied = std::isfinite(result.totals.loss) && std::isfinite(result.grad_norm);
  if (result.applied) parts_.optimizer->Step(result.learning_rate);
  parts_.optimizer->ZeroGrad();
  return result;
}

std::optional<Error> TrainStep::ComputeGradients(int64_t step_number, const std::vector<int64_t>& rank_shard,
                                                 const LossNormalizer& normalizer, StepTotals& totals) {
  std::optional<Error> failure;
  for (int64_t micro = 0; micro < parts_.accumulation_steps; ++micro) {
    parts_.optimizer->BeginMicroBatch(/*last=*/micro + 1 == parts_.accumulation_steps);
    // After a reference failure the remaining micro-batches do no work, but still take part in
    // the optimizer's per-micro-batch collectives (ZeRO-2), contributing zeros.
    if (!failure) {
      try {
        if (micro == 0) {
          MaybeInjectFault("rank" + std::to_string(parts_.communicator->rank()) + ".reference.unavailable", step_number);
        }
        parts_.micro_batches->Run(*parts_.pairs, MicroBatch(rank_shard, micro), normalizer, /*backward=*/true, totals);
      } catch (const Error& e) {
        if (e.kind() != ErrorKind::kReferenceUnavailable) throw;
        failure = e;
      }
    }
    parts_.optimizer->EndMicroBatch();
  }
  return failure;
}

std::optional<Error> TrainStep::AgreeOnReferenceFailure(std::optional<Error> failure, int64_t step_number) {
  if (parts_.communicator->world_size() == 1) return failure;
  std::vector<double> failed{failure ? 1.0 : 0.0};
  parts_.communicator->AllReduceSum(failed);
  if (failed[0] > 0 && !failure) {
    failure = Error(ErrorKind::kReferenceUnavailable, "step " + std::to_string(step_number) +
                                                          ": another rank could not get reference log-probs (see its log)");
  }
  return failure;
}

std::vector<int64_t> TrainStep::MicroBatch(const std::vector<int64_t>& rank_shard, int64_t micro) const {
  const auto begin = rank_shard.begin() + micro * parts_.micro_batch_size;
  return std::vector<int64_t>(begin, begin + parts_.micro_batch_size);
}

}  // namespace dpo
