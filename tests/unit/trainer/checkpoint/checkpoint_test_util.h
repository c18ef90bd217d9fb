// Shared helpers for the checkpoint tests: a tiny GPT-2 with an AdamW optimizer that has taken
// real steps, a filled TrainerState, byte flipping and directory listings.
#pragma once

#include <torch/optim/adamw.h>
#include <torch/types.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/model/causal_lm.h"
#include "core/optim/fused_adamw.h"
#include "core/tokenizer/tokenizer.h"
#include "tests/support/test_support.h"
#include "trainer/checkpoint/trainer_state.h"

namespace dpo::testing {

// A model, its AdamW optimizer and the byte tokenizer, as the training loop holds them.
struct TinySetup {
  std::shared_ptr<CausalLm> model;
  std::unique_ptr<FusedAdamW> optimizer;
  std::shared_ptr<const Tokenizer> tokenizer;
};

inline TinySetup MakeTinySetup(uint64_t seed) {
  TinySetup setup;
  setup.model = CreateCausalLm(TinyGpt2Config(), seed);
  setup.optimizer = std::make_unique<FusedAdamW>(
      setup.model->module().parameters(), torch::optim::AdamWOptions(1e-2).weight_decay(0.1));
  setup.tokenizer = CreateTokenizer("byte");
  return setup;
}

// One AdamW update on a fixed batch derived from `batch_seed` (same batch -> same gradients).
inline void TrainOneStep(TinySetup& setup, int64_t batch_seed) {
  const at::Tensor ids =
      torch::arange(2 * 8, torch::kInt64).reshape({2, 8}).mul(batch_seed * 7 + 3).remainder(250);
  setup.optimizer->zero_grad();
  const at::Tensor loss = setup.model->Logits(ids).log_softmax(-1).select(-1, 5).mean().neg();
  loss.backward();
  setup.optimizer->step();
}

// A state with every field set to a distinct non-default value.
inline TrainerState MakeState(int64_t step) {
  TrainerState state;
  state.step = step;
  state.sampler.epoch = 2;
  state.sampler.step_in_epoch = step % 5;
  state.config_hash = "cfg-" + std::to_string(step);
  state.reference_fingerprint = "ref-fingerprint";
  state.world_size = 4;
  state.tokens_seen = 1000 * step + 17;
  state.pairs_seen = 8 * step;
  state.skipped_steps = 3;
  state.consecutive_skipped_steps = 1;
  state.torch_rng_state = CaptureTorchRngState();
  state.extra = {{"note", "test"}, {"values", {1, 2, 3}}};
  return state;
}

// Flips every bit of the byte at `fraction` of the file's length.
inline void FlipByte(const std::string& path, double fraction = 0.5) {
  std::fstream file(path, std::ios::in | std::ios::out | std::ios::binary);
  ASSERT_TRUE(file) << path;
  file.seekg(0, std::ios::end);
  const auto size = static_cast<int64_t>(file.tellg());
  ASSERT_GT(size, 0) << path;
  const int64_t offset = static_cast<int64_t>(static_cast<double>(size - 1) * fraction);
  file.seekg(offset);
  char byte = 0;
  file.read(&byte, 1);
  byte = static_cast<char>(~byte);
  file.seekp(offset);
  file.write(&byte, 1);
  ASSERT_TRUE(file.good()) << path;
}

// Sorted names of the entries directly in `dir`.
inline std::vector<std::string> ListNames(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

// Same dtype, shape and bytes.
inline bool TensorsBitEqual(const at::Tensor& a, const at::Tensor& b) {
  if (a.scalar_type() != b.scalar_type() || a.sizes() != b.sizes()) return false;
  const at::Tensor left = a.cpu().contiguous();
  const at::Tensor right = b.cpu().contiguous();
  return std::memcmp(left.data_ptr(), right.data_ptr(), left.nbytes()) == 0;
}

// True when every HF tensor of `a` equals the one of `b` bit for bit (same names, shapes).
inline bool WeightsBitEqual(CausalLm& a, CausalLm& b) {
  const auto left = a.HfStateDict();
  const auto right = b.HfStateDict();
  if (left.size() != right.size()) return false;
  for (size_t i = 0; i < left.size(); ++i) {
    if (left[i].name != right[i].name || !TensorsBitEqual(left[i].tensor, right[i].tensor)) return false;
  }
  return true;
}

}  // namespace dpo::testing
