// The memory of one training rank, predicted from the architecture and the job's shapes: what
// `dpo-train --dry-run` prints and docs/memory.md tabulates. Bytes of tensors only (the measure
// of core/common/tensor_memory.h); the process's own code, allocator caches and host-side
// tables come on top.
//
// Persistent (whole run): fp32 parameters, fp32 gradients, the AdamW moments (two fp32 values a
// parameter), a local reference's fp32 weights. ZeRO (trainer/zero/) divides the moments by the
// world size from stage 1 and the gradients from stage 2 (which then also holds the buckets being
// reduced). Per step: the activations autograd keeps from the forward pass for the backward pass
// (gradient checkpointing: only each block's input) and, on top of them, the largest transient
// working set. The per-token counts follow this project's modules and LibTorch's saved tensors;
// they are checked against the counting allocator by tests/integration/memory_model_test.cc.
#pragma once

#include <cstdint>

#include "core/model/model_config.h"

namespace dpo {

struct TrainingMemoryInput {
  ModelConfig model;
  int64_t world_size = 1;
  int64_t zero_stage = 0;  // distributed.zero_stage
  // Stage 2: bytes of the largest gradient bucket (distributed.bucket_mb, or one larger
  // parameter), and how many reduce-scatters of that size can be in flight at once.
  int64_t largest_bucket_bytes = 0;
  int64_t buckets_in_flight = 1;
  int64_t sequences = 2;         // rows of one micro-batch: chosen and rejected of each pair
  int64_t sequence_tokens = 0;   // positions of a row: a micro-batch pads to its longest row
  int64_t scored_tokens = 0;     // completion tokens of a row (the positions the output projection scores)
  int64_t log_prob_chunk_tokens = 0;  // model.log_prob_chunk_tokens; 0 = all at once
  bool gradient_checkpointing = false;
  bool cuda = false;           // CUDA runs RMSNorm as one fused kernel that keeps less for backward
  bool bf16_autocast = false;  // matmul inputs and outputs in bfloat16; weights and residual stay fp32
  bool local_reference = false;    // a frozen fp32 reference model on this rank
  bool reference_in_step = false;  // ... run forward in every step (reference.precompute off)
};

// Bytes per rank, at the peak of a training step.
struct TrainingMemory {
  int64_t parameters = 0;
  int64_t gradients = 0;
  int64_t optimizer_state = 0;
  int64_t reference = 0;    // the local reference model's weights
  int64_t activations = 0;  // kept from forward for backward
  int64_t working = 0;      // the largest transient on top of them (a block's backward, its
                            // recomputation, log-prob chunks, the reference's forward)
  int64_t Total() const { return parameters + gradients + optimizer_state + reference + activations + working; }
};

TrainingMemory EstimateTrainingMemory(const TrainingMemoryInput& input);

}  // namespace dpo
