// Counting the multiply-adds of the supported families' forward pass.
#include "core/model/model_flops.h"

namespace dpo {

int64_t BlockMatmulParameters(const ModelConfig& config) {
  const int64_t h = config.hidden_size, inner = config.InnerSize();
  const int64_t q = config.num_heads * config.HeadSize(), kv = config.KvHeads() * config.HeadSize();
  const int64_t attention = h * q + 2 * h * kv + q * h;
  const int64_t mlp = (config.family() == ModelFamily::kGpt2 ? 2 : 3) * h * inner;  // SwiGLU has a gate
  return config.num_layers * (attention + mlp);
}

ForwardMacs SequenceForwardMacs(const ModelConfig& config, int64_t tokens, int64_t scored) {
  const double t = static_cast<double>(tokens);
  const double attention_width = static_cast<double>(config.num_heads * config.HeadSize());
  ForwardMacs macs;
  macs.blocks = t * static_cast<double>(BlockMatmulParameters(config));
  // Per layer, q k^T and p v each take T x T x width multiply-adds; causal masking halves both.
  macs.attention = static_cast<double>(config.num_layers) * t * t * attention_width;
  macs.output_projection =
      static_cast<double>(scored) * static_cast<double>(config.hidden_size) * static_cast<double>(config.vocab_size);
  return macs;
}

StepFlops DpoStepFlops(const ModelConfig& config, int64_t sequences, int64_t tokens, int64_t scored,
                       bool reference_in_step) {
  const double forward_flops = 2.0 * SequenceForwardMacs(config, tokens, scored).Total() * static_cast<double>(sequences);
  return {3.0 * forward_flops, reference_in_step ? forward_flops : 0.0};
}

}  // namespace dpo
