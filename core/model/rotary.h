// Rotary position embeddings (RoPE) as in transformers' LlamaRotaryEmbedding, with the
// rope_scaling variants dpo-cluster supports (none, linear, llama3). Private to core/model.
#pragma once

#include <cstdint>
#include <utility>

#include <ATen/core/Tensor.h>

#include "core/model/model_config.h"

namespace dpo {

// (head/2,) float32 inverse frequencies 1 / rope_theta^(2i / head), adjusted by rope_scaling:
// linear divides all by factor; llama3 divides the low frequencies (wavelength above
// original_max_position_embeddings / low_freq_factor) by factor, keeps the high ones (wavelength
// below original_max_position_embeddings / high_freq_factor) and interpolates in between.
at::Tensor RotaryInverseFrequencies(const ModelConfig& config);

// cos and sin of the rotation angles of positions [offset, offset + t): each (t, head) float32
// on the device of `inverse_frequencies`, angles computed in float32 (as transformers).
std::pair<at::Tensor, at::Tensor> RotaryAngles(const at::Tensor& inverse_frequencies, int64_t offset, int64_t t);

// x * cos + rotate_half(x) * sin, rotate_half(x) = [-x2, x1] for the two halves of the head.
// x: (N, heads, t, head); cos, sin: (t, head), cast to x's dtype. Returns (N, heads, t, head).
at::Tensor ApplyRotary(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin);

}  // namespace dpo
