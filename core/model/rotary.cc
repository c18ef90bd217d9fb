// RoPE frequencies (transformers' _compute_default/linear/llama3_rope_parameters) and rotation.
#include "core/model/rotary.h"

#include <torch/torch.h>

#include <cmath>

namespace dpo {

at::Tensor RotaryInverseFrequencies(const ModelConfig& config) {
  const int64_t head = config.HeadSize();
  // Computed in float64 then rounded once; transformers computes in float32 (differences ~1 ulp).
  const auto exponents = torch::arange(0, head, 2, torch::kFloat64) / static_cast<double>(head);
  auto inverse = 1.0 / torch::pow(torch::tensor(config.rope_theta, torch::kFloat64), exponents);
  const RopeScaling& scaling = config.rope_scaling;
  if (scaling.rope_type == "linear") inverse = inverse / scaling.factor;
  if (scaling.rope_type == "llama3") {
    const double old_context = static_cast<double>(scaling.original_max_position_embeddings);
    const double low_freq_wavelength = old_context / scaling.low_freq_factor;
    const double high_freq_wavelength = old_context / scaling.high_freq_factor;
    const auto wavelength = 2.0 * M_PI / inverse;
    const auto scaled = torch::where(wavelength > low_freq_wavelength, inverse / scaling.factor, inverse);
    const auto smooth = (old_context / wavelength - scaling.low_freq_factor) /
                        (scaling.high_freq_factor - scaling.low_freq_factor);
    const auto smoothed = (1.0 - smooth) * scaled / scaling.factor + smooth * scaled;
    const auto is_medium = (wavelength >= high_freq_wavelength).logical_and(wavelength <= low_freq_wavelength);
    inverse = torch::where(is_medium, smoothed, scaled);
  }
  return inverse.to(torch::kFloat32);
}

std::pair<at::Tensor, at::Tensor> RotaryAngles(const at::Tensor& inverse_frequencies, int64_t offset, int64_t t) {
  const auto positions =
      torch::arange(offset, offset + t, torch::dtype(torch::kFloat32).device(inverse_frequencies.device()));
  const auto frequencies = torch::outer(positions, inverse_frequencies);  // (t, head/2)
  const auto angles = torch::cat({frequencies, frequencies}, -1);        // (t, head)
  return {angles.cos(), angles.sin()};
}

at::Tensor ApplyRotary(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin) {
  const int64_t half = x.size(-1) / 2;
  const auto rotated = torch::cat({-x.narrow(-1, half, half), x.narrow(-1, 0, half)}, -1);
  return x * cos.to(x.scalar_type()) + rotated * sin.to(x.scalar_type());
}

}  // namespace dpo
