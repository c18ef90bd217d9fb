// Per-rank memory of a training step, counted per token from the modules' saved tensors.
#include "core/model/memory_model.h"

#include <algorithm>

namespace dpo {
namespace {

constexpr double kFp32 = 4;

// What one row position of one block keeps for backward, in bytes. `matmul` is the element
// size of linear-layer inputs and outputs (bf16 under autocast), the residual stream is fp32.
//   both    block input and the residual after attention; each norm's output (the next linear's
//           saved input) and statistics; q, k, v, the attention output and its log-sum-exp
//   llama   RMSNorm on the CPU (ATen's composite) also keeps x * rsqrt; SwiGLU keeps gate, up,
//           silu(gate) and the product (4 x inner)
//   gpt2    LayerNorm keeps mean and rstd; q, k, v are views of one c_attn output; GELU keeps
//           its input and output (2 x inner)
double BlockBytesPerToken(const ModelConfig& c, bool cuda, double matmul) {
  const double h = static_cast<double>(c.hidden_size), inner = static_cast<double>(c.InnerSize());
  const double q = static_cast<double>(c.num_heads * c.HeadSize()), kv = static_cast<double>(c.KvHeads() * c.HeadSize());
  const double heads = static_cast<double>(c.num_heads);
  const double attention = (q + 2 * kv + q) * matmul + heads * kFp32;
  if (c.family() == ModelFamily::kGpt2) {
    return 2 * h * kFp32 + 2 * (h * matmul + 2 * kFp32) + attention + 2 * inner * matmul;
  }
  const double norm = h * matmul + kFp32 + (cuda ? 0 : h * kFp32);
  return 2 * h * kFp32 + 2 * norm + attention + 4 * inner * matmul;
}

// The final norm's saved tensors per row position.
double FinalNormBytesPerToken(const ModelConfig& c, bool cuda) {
  const double h = static_cast<double>(c.hidden_size);
  if (c.family() == ModelFamily::kGpt2) return h * kFp32 + 2 * kFp32;
  return h * kFp32 + kFp32 + (cuda ? 0 : h * kFp32);
}

// A block's forward without autograd (the reference model; a checkpointed block in forward):
// the MLP's intermediates live until its output exists, beside a few hidden-sized tensors.
double NoGradBlockBytesPerToken(const ModelConfig& c, double matmul) {
  const double h = static_cast<double>(c.hidden_size), inner = static_cast<double>(c.InnerSize());
  const double intermediates = c.family() == ModelFamily::kGpt2 ? 2 : 4;
  return intermediates * inner * matmul + 5 * h * kFp32;
}

// A block's MLP backward beyond what it frees: gradients of its intermediates.
double MlpBackwardBytesPerToken(const ModelConfig& c, double matmul) {
  const double h = static_cast<double>(c.hidden_size), inner = static_cast<double>(c.InnerSize());
  if (c.family() == ModelFamily::kGpt2) return inner * matmul;
  return std::max(0.0, (2 * inner - 1.5 * h) * matmul);
}

int64_t Bytes(double value) { return static_cast<int64_t>(value + 0.5); }

}  // namespace

TrainingMemory EstimateTrainingMemory(const TrainingMemoryInput& in) {
  const ModelConfig& c = in.model;
  const double n = static_cast<double>(c.NumParameters());
  const double ranks = static_cast<double>(std::max<int64_t>(1, in.world_size));
  const double matmul = in.bf16_autocast ? 2 : kFp32;
  const double h = static_cast<double>(c.hidden_size), vocab = static_cast<double>(c.vocab_size);
  const double tokens = static_cast<double>(in.sequences * in.sequence_tokens);  // M
  const double scored = static_cast<double>(in.sequences * in.scored_tokens);    // completion positions
  const double chunk = in.log_prob_chunk_tokens > 0 ? std::min(scored, static_cast<double>(in.log_prob_chunk_tokens)) : scored;

  TrainingMemory m;
  m.parameters = Bytes(n * kFp32);
  const double bucket = static_cast<double>(in.largest_bucket_bytes);
  if (in.zero_stage >= 2) {
    // The shard, and the buffers in flight: a bucket and its segment each.
    m.gradients = Bytes(n * kFp32 / ranks + static_cast<double>(in.buckets_in_flight) * bucket * (1 + 1 / ranks));
  } else {
    m.gradients = Bytes(n * kFp32);
  }
  m.optimizer_state = Bytes(2 * n * kFp32 / (in.zero_stage >= 1 ? ranks : 1));
  m.reference = in.local_reference ? Bytes(n * kFp32) : 0;

  const double block = BlockBytesPerToken(c, in.cuda, matmul) * tokens;
  const double layers = static_cast<double>(c.num_layers);
  // The log-probs keep the gathered completion predictors and a few int64/fp32 values per
  // scored position (indices, targets, per-chunk statistics).
  const double head = FinalNormBytesPerToken(c, in.cuda) * tokens + scored * (h * kFp32 + 64);
  // Under autocast each linear keeps the bf16 copy of its weight it multiplied with.
  const double autocast_weights = in.bf16_autocast ? n * 2 : 0;
  const double stored_blocks = in.gradient_checkpointing ? layers * h * kFp32 * tokens : layers * block;
  m.activations = Bytes(stored_blocks + head + autocast_weights);

  // Transients on top of the stored activations; the step's peak is the largest.
  const double log_prob_forward = 2 * chunk * vocab * kFp32 + tokens * h * kFp32;  // chunk logits; predictor copy
  const double log_prob_backward = 3 * chunk * vocab * kFp32 + 2.5 * tokens * h * kFp32;
  const double final_norm_backward = 3.75 * tokens * h * kFp32;
  const double no_grad_block = NoGradBlockBytesPerToken(c, matmul) * tokens;
  const double mlp_backward = MlpBackwardBytesPerToken(c, matmul) * tokens;
  double working = std::max({log_prob_forward, log_prob_backward, final_norm_backward});
  working = std::max(working, in.gradient_checkpointing ? std::max(no_grad_block, block + mlp_backward) : mlp_backward);
  if (in.reference_in_step) working = std::max(working, no_grad_block + (in.bf16_autocast ? n * 2 : 0));
  if (in.zero_stage >= 2) working += bucket;  // autograd's gradients of the bucket not yet reduced
  m.working = Bytes(working);
  return m;
}

}  // namespace dpo
