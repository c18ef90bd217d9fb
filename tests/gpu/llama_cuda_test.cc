// The Llama-family model on a GPU: the fused attention kernel (LibTorch 2.x) gives the golden
// logits of the independent NumPy implementation in float32, bf16 autocast stays close to them,
// and gradient checkpointing under autocast gives the gradients of the plain backward.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "core/model/causal_lm.h"
#include "core/model/mixed_precision.h"
#include "core/model/pretrained.h"
#include "core/model/safetensors.h"
#include "tests/support/subprocess.h"

namespace dpo {
namespace {

const std::string kLlamaDir = testing::FixturePath("hf_golden/llama");

class LlamaCudaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA GPU";
    const SafetensorsContents golden = ReadSafetensors(kLlamaDir + "/golden.safetensors");
    for (const auto& tensor : golden.tensors) (tensor.name == "input_ids" ? ids_ : logits_) = tensor.tensor;
    ids_ = ids_.to(torch::kCUDA);
  }

  at::Tensor ids_, logits_;
};

TEST_F(LlamaCudaTest, GoldenLogitsInFloat32AndCloseInBfloat16) {
  auto model = LoadModelDirectory(kLlamaDir);
  model->module().to(torch::kCUDA);
  model->module().eval();
  torch::NoGradGuard no_grad;
  // TF32 matmuls would cost ~1e-3 relative: keep them off for the float32 comparison.
  at::globalContext().setAllowTF32CuBLAS(false);
  const double fp32_error = (model->Logits(ids_).cpu() - logits_).abs().max().item<double>();
  EXPECT_LT(fp32_error, 1e-3);
  BfloatAutocastGuard autocast(true);
  const at::Tensor bf16 = model->Logits(ids_).cpu();
  EXPECT_EQ(bf16.scalar_type(), torch::kFloat);
  const double bf16_error = (bf16 - logits_).abs().max().item<double>();
  EXPECT_LT(bf16_error, 0.1 * logits_.abs().max().item<double>());
}

TEST_F(LlamaCudaTest, CheckpointedGradientsUnderAutocastMatchThePlainBackward) {
  std::vector<std::shared_ptr<CausalLm>> models = {LoadModelDirectory(kLlamaDir), LoadModelDirectory(kLlamaDir)};
  models[1]->SetGradientCheckpointing(true);
  for (auto& model : models) {
    model->module().to(torch::kCUDA);
    model->module().train();
    at::Tensor loss;
    {
      BfloatAutocastGuard autocast(true);
      loss = model->Logits(ids_).logsumexp(-1).mean();
    }
    loss.backward();
  }
  const auto plain = models[0]->module().named_parameters(), checkpointed = models[1]->module().named_parameters();
  for (const auto& item : plain) {
    const at::Tensor expected = item.value().grad().cpu(), found = checkpointed[item.key()].grad().cpu();
    EXPECT_TRUE(torch::allclose(found, expected, 1e-3, 1e-5)) << item.key();
  }
}

}  // namespace
}  // namespace dpo
