// CheckpointedForward: a custom autograd function whose backward recomputes the block and runs a
// reentrant backward through the recomputation. The block travels to the backward in the
// function's context as a capsule (the context only stores IValues), with the autocast state it
// ran under.
#include "core/model/gradient_checkpoint.h"

#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/autograd/custom_function.h>
#include <torch/csrc/autograd/engine.h>

#include <utility>

#include "core/model/mixed_precision.h"

namespace dpo {
namespace {

using Block = std::function<at::Tensor(const at::Tensor&)>;

// What the backward needs besides the saved input.
struct Recomputation : torch::CustomClassHolder {
  Recomputation(Block block, AutocastState autocast) : block(std::move(block)), autocast(autocast) {}
  Block block;
  AutocastState autocast;
};

constexpr const char* kRecomputation = "recomputation";

class CheckpointFunction : public torch::autograd::Function<CheckpointFunction> {
 public:
  // Runs with grad mode off (Function::apply disables it), so the block records no graph.
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const Block& block, const at::Tensor& input) {
    ctx->save_for_backward({input});
    ctx->saved_data[kRecomputation] =
        c10::IValue::make_capsule(c10::make_intrusive<Recomputation>(block, AutocastState::Current()));
    at::Tensor output = block(input);
    // A custom function's output that aliases an input becomes a view that cannot be modified in
    // place; a copy keeps the result an ordinary tensor.
    if (output.is_alias_of(input)) output = output.clone();
    return output;
  }

  // One gradient per forward argument: none for the block, then the input's.
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad_outputs) {
    TORCH_CHECK(torch::autograd::Engine::get_default_engine().is_checkpoint_valid(),
                "CheckpointedForward supports backward() only, not gradients for chosen inputs "
                "(torch::autograd::grad or backward with `inputs`)");
    const auto recomputation =
        c10::static_intrusive_pointer_cast<Recomputation>(ctx->saved_data.at(kRecomputation).toCapsule());
    const at::Tensor input = ctx->get_saved_variables()[0].detach().requires_grad_(true);
    at::Tensor output;
    {
      at::AutoGradMode grad_mode(true);
      AutocastStateGuard autocast(recomputation->autocast);
      output = recomputation->block(input);
    }
    if (output.requires_grad()) torch::autograd::backward({output}, {grad_outputs[0]});
    return {at::Tensor(), input.grad()};
  }
};

}  // namespace

at::Tensor CheckpointedForward(const std::function<at::Tensor(const at::Tensor&)>& block, const at::Tensor& input) {
  if (!at::GradMode::is_enabled() || !input.requires_grad()) return block(input);
  return CheckpointFunction::apply(block, input);
}

}  // namespace dpo
