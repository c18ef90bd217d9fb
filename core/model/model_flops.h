// Model FLOPs of a DPO step: the arithmetic a step must do, counted from the architecture
// (PaLM appendix B's convention: matmul FLOPs only, 2 per multiply-add, backward = 2 x forward,
// recomputation -- gradient checkpointing, the fused log-prob backward -- not counted). MFU is
// these FLOPs per second over a peak (dpo-bench-step, bench/gpu/RESULTS.md).
#pragma once

#include <cstdint>

#include "core/model/model_config.h"

namespace dpo {

// Multiply-adds of one sequence through one forward pass, split by where they run.
struct ForwardMacs {
  double blocks = 0;             // the linear layers of the transformer blocks: tokens x block weights
  double attention = 0;          // q k^T and p v of causal attention: half of the T x T grid
  double output_projection = 0;  // hidden -> vocabulary, only at the positions that are scored
  double Total() const { return blocks + attention + output_projection; }
};

// The matmul weights of the blocks (q, k, v, o and the MLP; no embeddings, norms or biases).
int64_t BlockMatmulParameters(const ModelConfig& config);

// One forward of a sequence of `tokens` positions, `scored` of which go through the output
// projection (the completion tokens: DPO log-probs score nothing else).
ForwardMacs SequenceForwardMacs(const ModelConfig& config, int64_t tokens, int64_t scored);

// FLOPs of one training step over `sequences` sequences shaped like that (chosen and rejected
// both counted): the policy forward + backward, plus the reference forward when it runs in the
// step (online, not precomputed).
struct StepFlops {
  double policy = 0;     // 3 passes x 2 FLOPs per multiply-add
  double reference = 0;  // 1 pass x 2, or 0
  double Total() const { return policy + reference; }
};
StepFlops DpoStepFlops(const ModelConfig& config, int64_t sequences, int64_t tokens, int64_t scored,
                       bool reference_in_step);

}  // namespace dpo
