// Gradient checkpointing: gradients and accumulator hooks as without it, the block recomputed once
// in backward, its activations not kept, the forward autocast state reused, plain calls when no
// gradient is needed, aliasing outputs copied, and the unsupported torch::autograd::grad refused.
#include "core/model/gradient_checkpoint.h"
#include "core/model/mixed_precision.h"

#include <gtest/gtest.h>
#include <torch/csrc/autograd/utils/lambda_post_hook.h>
#include <torch/torch.h>

#include <optional>
#include <string>
#include <vector>

namespace dpo {
namespace {

// A residual MLP block with a LayerNorm, like the feed-forward half of a transformer layer.
struct BlockImpl : torch::nn::Module {
  BlockImpl(int64_t width, int64_t hidden)
      : fc1(register_module("fc1", torch::nn::Linear(width, hidden))),
        fc2(register_module("fc2", torch::nn::Linear(hidden, width))),
        norm(register_module("norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({width})))) {}

  at::Tensor forward(const at::Tensor& x) { return norm(x + fc2(torch::gelu(fc1(x)))); }

  torch::nn::Linear fc1;
  torch::nn::Linear fc2;
  torch::nn::LayerNorm norm;
};
TORCH_MODULE(Block);

// Blocks applied in sequence, each optionally checkpointed; counts the calls of the blocks.
struct Stack {
  Stack(int n, at::ScalarType dtype) {
    torch::manual_seed(5);
    for (int i = 0; i < n; ++i) {
      blocks.emplace_back(8, 32);
      blocks.back()->to(dtype);
    }
  }

  at::Tensor Forward(const at::Tensor& input, bool checkpoint) {
    at::Tensor x = input;
    for (Block& block : blocks) {
      const auto run = [this, &block](const at::Tensor& y) {
        ++calls;
        return block->forward(y);
      };
      x = checkpoint ? CheckpointedForward(run, x) : run(x);
    }
    return x;
  }

  std::vector<at::Tensor> Parameters() const {
    std::vector<at::Tensor> parameters;
    for (const Block& block : blocks) {
      for (const at::Tensor& p : block->parameters()) parameters.push_back(p);
    }
    return parameters;
  }

  void ZeroGrad() {
    for (at::Tensor& p : Parameters()) p.mutable_grad() = at::Tensor();
  }

  std::vector<Block> blocks;
  int calls = 0;
};

at::Tensor RandomInput(at::ScalarType dtype, uint64_t seed) {
  auto generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  return torch::randn({4, 6, 8}, generator, torch::dtype(dtype)).requires_grad_(true);
}

// A weighted sum of the outputs (a plain sum of a LayerNorm's outputs has zero gradient).
at::Tensor Loss(const at::Tensor& output) {
  auto generator = at::make_generator<at::CPUGeneratorImpl>(99);
  return (output * torch::randn(output.sizes(), generator, torch::dtype(output.scalar_type()))).sum();
}

// The gradients of each input then of every parameter after one backward pass per input, run from
// zero gradients.
std::vector<at::Tensor> Gradients(Stack& stack, const std::vector<at::Tensor>& inputs, bool checkpoint) {
  stack.ZeroGrad();
  std::vector<at::Tensor> gradients;
  for (const at::Tensor& input : inputs) {
    const at::Tensor leaf = input.detach().requires_grad_(true);
    Loss(stack.Forward(leaf, checkpoint)).backward();
    gradients.push_back(leaf.grad());
  }
  for (const at::Tensor& p : stack.Parameters()) gradients.push_back(p.grad().clone());
  return gradients;
}

void ExpectEqual(const std::vector<at::Tensor>& actual, const std::vector<at::Tensor>& expected) {
  ASSERT_EQ(actual.size(), expected.size());
  for (size_t i = 0; i < actual.size(); ++i) {
    ASSERT_TRUE(actual[i].defined()) << i;
    EXPECT_TRUE(torch::allclose(actual[i], expected[i], /*rtol=*/0, /*atol=*/1e-12)) << i;
  }
}

TEST(GradientCheckpoint, GradientsEqualThoseWithoutCheckpointing) {
  Stack stack(3, torch::kDouble);
  const at::Tensor input = RandomInput(torch::kDouble, 1);
  ExpectEqual(Gradients(stack, {input}, true), Gradients(stack, {input}, false));
}

TEST(GradientCheckpoint, AccumulatesOverMicroBatchesAsWithoutCheckpointing) {
  Stack stack(3, torch::kDouble);
  const std::vector<at::Tensor> inputs = {RandomInput(torch::kDouble, 1), RandomInput(torch::kDouble, 2)};
  const auto single = Gradients(stack, {inputs[0]}, true);
  const auto accumulated = Gradients(stack, inputs, true);
  ExpectEqual(accumulated, Gradients(stack, inputs, false));
  // The second micro-batch added to the first one's parameter gradients.
  EXPECT_FALSE(torch::allclose(accumulated.back(), single.back()));
}

TEST(GradientCheckpoint, RecomputesEachBlockOnceInBackward) {
  Stack stack(3, torch::kDouble);
  const at::Tensor input = RandomInput(torch::kDouble, 1);
  const at::Tensor output = stack.Forward(input, true);
  EXPECT_EQ(stack.calls, 3);
  Loss(output).backward();
  EXPECT_EQ(stack.calls, 6);

  stack.calls = 0;
  Loss(stack.Forward(input, false)).backward();
  EXPECT_EQ(stack.calls, 3);
}

TEST(GradientCheckpoint, CallsTheBlockOnceWithGradModeOff) {
  Stack stack(1, torch::kDouble);
  const at::Tensor input = RandomInput(torch::kDouble, 1);
  torch::NoGradGuard no_grad;
  const at::Tensor output = stack.Forward(input, true);
  EXPECT_EQ(stack.calls, 1);
  EXPECT_FALSE(output.requires_grad());
  EXPECT_TRUE(torch::equal(output, stack.blocks[0]->forward(input)));
}

TEST(GradientCheckpoint, CallsTheBlockOnceWhenTheInputNeedsNoGradient) {
  Stack stack(1, torch::kDouble);
  const at::Tensor input = RandomInput(torch::kDouble, 1).detach();
  const at::Tensor output = stack.Forward(input, true);
  EXPECT_TRUE(torch::equal(output, stack.blocks[0]->forward(input)));
  output.sum().backward();
  EXPECT_EQ(stack.calls, 1);
  for (const at::Tensor& p : stack.Parameters()) EXPECT_TRUE(p.grad().defined());
}

TEST(GradientCheckpoint, KeepsOnlyTheInputForBackward) {
  torch::manual_seed(3);
  torch::nn::Linear up(8, 256), down(256, 8);
  using WeakTensorImpl = c10::weak_intrusive_ptr<at::TensorImpl, at::UndefinedTensorImpl>;
  std::optional<WeakTensorImpl> activation;  // the block's hidden activation, not kept alive by this
  const auto block = [&](const at::Tensor& x) {
    const at::Tensor hidden = torch::tanh(up(x));
    activation = WeakTensorImpl(hidden.getIntrusivePtr());
    return down(hidden);
  };
  const at::Tensor input = torch::randn({16, 8}).requires_grad_(true);

  const at::Tensor plain = block(input);
  EXPECT_FALSE(activation->expired());  // tanh and the second matmul save it for backward

  const at::Tensor checkpointed = CheckpointedForward(block, input);
  EXPECT_TRUE(activation->expired());
  // Its only edge leads to the input: the parameters are reached by the recomputation's backward.
  ASSERT_NE(checkpointed.grad_fn(), nullptr);
  EXPECT_NE(checkpointed.grad_fn()->name().find("CheckpointFunction"), std::string::npos);
  ASSERT_EQ(checkpointed.grad_fn()->num_outputs(), 1u);
  EXPECT_EQ(checkpointed.grad_fn()->next_edge(0).function, torch::autograd::impl::grad_accumulator(input));
}

TEST(GradientCheckpoint, ParameterAccumulatorHooksFireAfterAccumulation) {
  Stack stack(2, torch::kDouble);
  const std::vector<at::Tensor> parameters = stack.Parameters();
  std::vector<int> fired(parameters.size(), 0);
  std::vector<std::shared_ptr<torch::autograd::Node>> accumulators;
  for (size_t i = 0; i < parameters.size(); ++i) {
    accumulators.push_back(torch::autograd::impl::grad_accumulator(parameters[i]));
    accumulators.back()->add_post_hook(std::make_unique<torch::autograd::utils::LambdaPostHook>(
        [&fired, &parameters, i](const torch::autograd::variable_list& outputs, const torch::autograd::variable_list&) {
          if (parameters[i].grad().defined()) ++fired[i];
          return outputs;
        }));
  }
  Loss(stack.Forward(RandomInput(torch::kDouble, 1), true)).backward();
  EXPECT_EQ(fired, std::vector<int>(parameters.size(), 1));
}

TEST(GradientCheckpoint, OutputAliasingTheInputIsACopy) {
  const auto block = [](const at::Tensor& x) { return x.view({-1}); };
  const at::Tensor input = torch::randn({3, 4}, torch::kDouble).requires_grad_(true);
  const at::Tensor output = CheckpointedForward(block, input);
  EXPECT_FALSE(output.is_alias_of(input));
  output.mul_(2);  // an in-place change of a custom function's view output would throw
  output.sum().backward();
  EXPECT_TRUE(torch::equal(input.grad(), torch::full({3, 4}, 2.0, torch::kDouble)));
}

TEST(GradientCheckpoint, AcceptsABlockWhoseOutputNeedsNoGradient) {
  const auto block = [](const at::Tensor& x) { return torch::ones_like(x); };
  const at::Tensor input = torch::randn({3, 4}, torch::kDouble).requires_grad_(true);
  CheckpointedForward(block, input).sum().backward();
  EXPECT_FALSE(input.grad().defined());
}

TEST(GradientCheckpoint, RefusesGradientsForChosenInputs) {
  Stack stack(1, torch::kDouble);
  const at::Tensor input = RandomInput(torch::kDouble, 1);
  const at::Tensor loss = Loss(stack.Forward(input, true));
  EXPECT_THROW(torch::autograd::grad({loss}, {input}), c10::Error);
}

// This thread's autocast state with CPU autocast to bfloat16 switched on.
AutocastState CpuBfloatAutocast() {
  AutocastState state = AutocastState::Current();
  state.cpu_enabled = true;
  state.cpu_dtype = torch::kBFloat16;
  return state;
}

TEST(GradientCheckpoint, RecomputesUnderTheForwardAutocastState) {
  Stack stack(2, torch::kFloat);
  const at::Tensor input = RandomInput(torch::kFloat, 1);
  const auto gradients = [&](bool autocast, bool checkpoint) {
    stack.ZeroGrad();
    const at::Tensor leaf = input.detach().requires_grad_(true);
    at::Tensor output;
    {
      std::optional<AutocastStateGuard> scope;
      if (autocast) scope.emplace(CpuBfloatAutocast());
      output = stack.Forward(leaf, checkpoint);
    }
    Loss(output).backward();  // outside autocast, as a training step does
    std::vector<at::Tensor> result = {leaf.grad()};
    for (const at::Tensor& p : stack.Parameters()) result.push_back(p.grad().clone());
    return result;
  };
  const auto checkpointed = gradients(true, true);
  const auto plain = gradients(true, false);
  ASSERT_EQ(checkpointed.size(), plain.size());
  for (size_t i = 0; i < plain.size(); ++i) EXPECT_TRUE(torch::equal(checkpointed[i], plain[i])) << i;
  // bfloat16 matmuls change the gradients, so a float32 recomputation would not match.
  EXPECT_FALSE(torch::allclose(gradients(false, false)[0], plain[0], /*rtol=*/0, /*atol=*/1e-5));
}

}  // namespace
}  // namespace dpo
