// A job's per-rank memory plan.
#include "trainer/loop/memory_plan.h"

#include <torch/torch.h>

#include <algorithm>
#include <cstdio>
#include <ostream>

#include "trainer/comm/gradient_buckets.h"
#include "trainer/zero/sharded_optimizer.h"

namespace dpo {

TrainingMemoryInput JobMemoryInput(const JobConfig& config, const ModelConfig& model, int world_size,
                                   const std::vector<at::Tensor>& parameters, const std::vector<TokenizedPair>& pairs,
                                   bool local_reference, bool reference_in_step) {
  TrainingMemoryInput input;
  input.model = model;
  input.world_size = world_size;
  input.zero_stage = config.distributed.zero_stage;
  if (input.zero_stage >= 2 && !parameters.empty()) {
    // The sharded optimizer's plan: buckets over the parameters in backward's order.
    const std::vector<at::Tensor> reversed(parameters.rbegin(), parameters.rend());
    for (const auto& bucket : PlanBuckets(reversed, static_cast<int64_t>(config.distributed.bucket_mb * 1024 * 1024))) {
      int64_t bytes = 0;
      for (const size_t index : bucket) bytes += static_cast<int64_t>(reversed[index].nbytes());
      input.largest_bucket_bytes = std::max(input.largest_bucket_bytes, bytes);
    }
    input.buckets_in_flight = static_cast<int64_t>(ShardedOptimizer::kBucketsInFlight);
  }
  input.sequences = 2 * config.training.per_device_batch_size;
  for (const TokenizedPair& pair : pairs) {
    const auto completion = static_cast<int64_t>(std::max(pair.chosen_ids.size(), pair.rejected_ids.size()));
    input.sequence_tokens = std::max(input.sequence_tokens, static_cast<int64_t>(pair.prompt_ids.size()) + completion);
    input.scored_tokens = std::max(input.scored_tokens, completion);
  }
  input.log_prob_chunk_tokens = config.model.log_probs.chunk_tokens;
  input.gradient_checkpointing = config.model.gradient_checkpointing;
  input.cuda = config.training.device == DeviceKind::kCuda;
  input.bf16_autocast = input.cuda && config.training.mixed_precision == MixedPrecision::kBf16;
  input.local_reference = local_reference;
  input.reference_in_step = reference_in_step;
  return input;
}

std::string FormatBytes(int64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double value = static_cast<double>(bytes);
  size_t unit = 0;
  while (value >= 1024 && unit + 1 < std::size(units)) {
    value /= 1024;
    ++unit;
  }
  char text[32];
  std::snprintf(text, sizeof(text), unit == 0 ? "%.0f %s" : "%.2f %s", value, units[unit]);
  return text;
}

void PrintMemoryPlan(std::ostream& out, const TrainingMemoryInput& input) {
  const TrainingMemory m = EstimateTrainingMemory(input);
  TrainingMemoryInput toggled = input;
  toggled.gradient_checkpointing = !input.gradient_checkpointing;
  const TrainingMemory other = EstimateTrainingMemory(toggled);
  const auto line = [&out](const char* what, int64_t bytes) {
    out << "    " << what << ": " << FormatBytes(bytes) << " (" << bytes << " bytes)\n";
  };
  out << "  memory per rank (tensors at a step's peak; distributed.zero_stage " << input.zero_stage << ", "
      << input.world_size << " ranks, micro-batch " << input.sequences << " rows x " << input.sequence_tokens
      << " tokens):\n";
  line("parameters", m.parameters);
  line("gradients", m.gradients);
  line("optimizer state", m.optimizer_state);
  line(input.local_reference ? "reference model" : "reference model (none on this rank)", m.reference);
  line(input.gradient_checkpointing ? "activations (gradient checkpointing)" : "activations", m.activations);
  line("working set", m.working);
  line("total", m.Total());
  out << "    total " << (toggled.gradient_checkpointing ? "with" : "without") << " gradient checkpointing: "
      << FormatBytes(other.Total()) << " (" << other.Total() << " bytes; activations " << FormatBytes(other.activations)
      << ")\n";
}

}  // namespace dpo
