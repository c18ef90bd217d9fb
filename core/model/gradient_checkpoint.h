// Gradient checkpointing (activation recomputation) for one block of a model: the block's
// intermediate activations are dropped after the forward pass and recomputed during backward,
// trading one extra forward of the block for the memory of everything it would have saved.
#pragma once

#include <ATen/core/Tensor.h>

#include <functional>

namespace dpo {

// Runs `block(input)` keeping none of its intermediate activations for backward: only `input` is
// saved; backward recomputes block(input) with gradients enabled and back-propagates through the
// recomputation. The gradients of the parameters `block` uses are accumulated into their .grad
// during that inner backward (as PyTorch's reentrant checkpoint does), so they need not be passed;
// their gradient accumulators run, with their hooks, inside it. When grad mode is off or `input`
// does not require grad, simply returns block(input) (with the block's ordinary graph).
//
// The recomputation runs under the CPU and CUDA autocast state that was current when this was
// called, whichever thread runs the backward. Contract for `block`:
// - deterministic: it must compute the same values again. The RNG state is not restored, so a
//   block with active dropout must not be checkpointed.
// - it must not modify `input` in place, and whatever it captures must stay alive until the
//   backward pass has run (a copy of `block` is kept until then).
// An output that aliases `input` is returned as a copy, so the result is never a view of `input`.
// Only backward() is supported through the result: computing gradients for chosen inputs
// (torch::autograd::grad, or backward with `inputs`) throws, because the inner backward would
// accumulate into every parameter's .grad instead.
at::Tensor CheckpointedForward(const std::function<at::Tensor(const at::Tensor&)>& block, const at::Tensor& input);

}  // namespace dpo
