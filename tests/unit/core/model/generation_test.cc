// KV-cache decoding and generation: incremental logits equal the full forward, greedy follows the
// full-forward argmax, top-k/top-p limits reduce to greedy, sampling is deterministic per seed.
#include "core/model/generation.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <set>

#include "core/common/error.h"
#include "core/model/causal_lm.h"
#include "tests/support/test_support.h"

namespace dpo {
namespace {

using testing::TinyGpt2Config;

constexpr double kTolerance = 1e-5;
constexpr TokenId kEos = 257;

at::Tensor RandomIds(int64_t n, int64_t t, uint64_t seed) {
  auto generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  return torch::randint(0, 256, {n, t}, generator, torch::kLong);
}

// A model whose next-token distributions are far from uniform, so greedy decoding is not decided
// by float noise (HF's init gives near-uniform logits).
std::shared_ptr<CausalLm> PeakedModel() {
  ModelConfig config = TinyGpt2Config();
  config.initializer_range = 0.5;
  return CreateCausalLm(config, 21);
}

at::Tensor IncrementalLogits(CausalLm& model, const at::Tensor& new_ids, CausalLm::KvCache& cache) {
  return torch::matmul(model.HiddenStatesIncremental(new_ids, cache), model.OutputEmbedding().t());
}

double MaxDifference(const at::Tensor& a, const at::Tensor& b) { return (a - b).abs().max().item<double>(); }

TEST(KvCache, OneTokenAtATimeMatchesFullForward) {
  auto model = CreateCausalLm(TinyGpt2Config(), 3);
  torch::NoGradGuard no_grad;
  const auto ids = RandomIds(2, 24, 1);
  const auto full = model->Logits(ids);  // (2, 24, V)
  CausalLm::KvCache cache;
  std::vector<at::Tensor> steps{IncrementalLogits(*model, ids.slice(1, 0, 5), cache)};  // prefill 5
  for (int64_t t = 5; t < 24; ++t) steps.push_back(IncrementalLogits(*model, ids.slice(1, t, t + 1), cache));
  EXPECT_EQ(cache.length, 24);
  ASSERT_EQ(cache.keys.size(), 2u);
  EXPECT_EQ(cache.keys[1].sizes(), (std::vector<int64_t>{2, 4, 24, 8}));
  EXPECT_LT(MaxDifference(torch::cat(steps, 1), full), kTolerance);
}

TEST(KvCache, PrefillInTwoChunksMatchesFullForward) {
  auto model = CreateCausalLm(TinyGpt2Config(), 4);
  torch::NoGradGuard no_grad;
  const auto ids = RandomIds(3, 30, 2);
  const auto full = model->Logits(ids);
  for (const int64_t split : {1, 13, 29}) {
    CausalLm::KvCache cache;
    const auto first = IncrementalLogits(*model, ids.slice(1, 0, split), cache);
    const auto second = IncrementalLogits(*model, ids.slice(1, split), cache);
    EXPECT_LT(MaxDifference(first, full.slice(1, 0, split)), kTolerance) << "split " << split;
    EXPECT_LT(MaxDifference(second, full.slice(1, split)), kTolerance) << "split " << split;
  }
}

TEST(KvCache, SelectRowsFansOnePrefillOutToSeveralContinuations) {
  auto model = CreateCausalLm(TinyGpt2Config(), 5);
  torch::NoGradGuard no_grad;
  const auto prompt = RandomIds(1, 9, 3);
  CausalLm::KvCache cache;
  model->HiddenStatesIncremental(prompt, cache);
  cache.SelectRows(torch::zeros({2}, torch::kLong));
  const auto next = torch::tensor({65, 66}, torch::kLong).view({2, 1});
  const auto incremental = IncrementalLogits(*model, next, cache).squeeze(1);  // (2, V)
  const auto full = model->Logits(torch::cat({prompt.expand({2, 9}), next}, 1)).select(1, 9);
  EXPECT_LT(MaxDifference(incremental, full), kTolerance);
  EXPECT_GT(MaxDifference(incremental[0], incremental[1]), 1e-4);  // the rows really differ
}

TEST(KvCache, ErrorsNameTheLimitAndLeaveTheCacheUnchanged) {
  auto model = CreateCausalLm(TinyGpt2Config(), 6);  // n_positions = 64
  torch::NoGradGuard no_grad;
  CausalLm::KvCache cache;
  model->HiddenStatesIncremental(RandomIds(1, 60, 4), cache);
  try {
    model->HiddenStatesIncremental(RandomIds(1, 5, 5), cache);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidInput);
    EXPECT_STREQ(e.what(), "incremental forward: 60 cached + 5 new positions exceed the model's n_positions=64");
  }
  EXPECT_EQ(cache.length, 60);
  EXPECT_EQ(cache.keys[0].size(2), 60);
  try {
    model->HiddenStatesIncremental(RandomIds(2, 1, 6), cache);  // the cache holds one row
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(),
                 "incremental forward: KV cache does not match this model and batch: expected 2 layers of "
                 "[2, 4, 60, 8] (length 60), found 2 layers, first [1, 4, 60, 8]");
  }
  EXPECT_THROW(model->HiddenStatesIncremental(torch::zeros({1, 0}, torch::kLong), cache), Error);
  EXPECT_THROW(model->HiddenStatesIncremental(torch::zeros({1, 2}, torch::kInt), cache), Error);
}

std::vector<TokenId> PromptIds() { return {256, 'D', 'e', 's', 'c', 'r', 'i', 'b', 'e', ':'}; }

TEST(Generate, GreedyFollowsTheFullForwardArgmaxStepByStep) {
  auto model = PeakedModel();
  SamplingOptions options;
  options.temperature = 0.0;
  options.max_new_tokens = 20;
  const auto prompt = PromptIds();
  const auto generated = GenerateSamples(*model, prompt, kEos, options, 1).front();
  torch::NoGradGuard no_grad;
  auto next_argmax = [&](const std::vector<TokenId>& context) {
    return model->Logits(torch::tensor(context, torch::kLong).view({1, -1}))[0][-1].argmax().item<int64_t>();
  };
  std::vector<TokenId> context = prompt;
  for (const TokenId token : generated.ids) {
    EXPECT_EQ(token, next_argmax(context)) << "after " << context.size() << " tokens";
    context.push_back(token);
  }
  if (generated.finish_reason == FinishReason::kEos) {
    EXPECT_EQ(next_argmax(context), kEos);
  } else {
    EXPECT_EQ(generated.ids.size(), 20u);
  }
  EXPECT_FALSE(generated.ids.empty());
}

TEST(Generate, TopKOneAndTinyTopPEqualGreedy) {
  auto model = PeakedModel();
  SamplingOptions greedy;
  greedy.temperature = 0.0;
  greedy.max_new_tokens = 24;
  const auto expected = Generate(*model, PromptIds(), kEos, greedy);
  SamplingOptions top_k = greedy;
  top_k.temperature = 1.0;
  top_k.top_k = 1;
  SamplingOptions top_p = greedy;
  top_p.temperature = 1.5;
  top_p.top_p = 1e-9;
  for (const uint64_t seed : {1u, 2u, 3u}) {
    top_k.seed = top_p.seed = seed;
    EXPECT_EQ(Generate(*model, PromptIds(), kEos, top_k), expected) << "seed " << seed;
    EXPECT_EQ(Generate(*model, PromptIds(), kEos, top_p), expected) << "seed " << seed;
  }
}

TEST(Generate, SamplingIsDeterministicPerSeed) {
  auto model = CreateCausalLm(TinyGpt2Config(), 7);  // near-uniform logits: high entropy
  SamplingOptions options;
  options.max_new_tokens = 16;
  options.seed = 42;
  const auto first = Generate(*model, PromptIds(), kEos, options);
  EXPECT_EQ(Generate(*model, PromptIds(), kEos, options), first);
  options.seed = 43;
  EXPECT_NE(Generate(*model, PromptIds(), kEos, options), first);
  // Sampling does not touch the global generator.
  torch::manual_seed(5);
  const auto global_before = torch::rand({4});
  torch::manual_seed(5);
  Generate(*model, PromptIds(), kEos, options);
  EXPECT_TRUE(torch::equal(torch::rand({4}), global_before));
}

TEST(Generate, BatchedSamplesAreDeterministicAndDistinct) {
  auto model = CreateCausalLm(TinyGpt2Config(), 8);
  SamplingOptions options;
  options.max_new_tokens = 12;
  options.seed = 9;
  const auto samples = GenerateSamples(*model, PromptIds(), kEos, options, 4);
  ASSERT_EQ(samples.size(), 4u);
  std::set<std::vector<TokenId>> distinct;
  for (const auto& sample : samples) distinct.insert(sample.ids);
  EXPECT_EQ(distinct.size(), 4u);
  const auto again = GenerateSamples(*model, PromptIds(), kEos, options, 4);
  for (size_t i = 0; i < 4; ++i) EXPECT_EQ(again[i].ids, samples[i].ids);
  options.temperature = 0.0;
  const auto greedy = Generate(*model, PromptIds(), kEos, options);
  for (const auto& sample : GenerateSamples(*model, PromptIds(), kEos, options, 3)) EXPECT_EQ(sample.ids, greedy);
}

TEST(Generate, StopsAtEosAndExcludesIt) {
  auto model = PeakedModel();
  SamplingOptions options;
  options.temperature = 0.0;
  options.max_new_tokens = 8;
  const auto free_run = Generate(*model, PromptIds(), kEos, options);
  ASSERT_GE(free_run.size(), 3u);
  // Declaring the third greedy token the EOS id cuts the output just before its first use.
  const TokenId stop = free_run[2];
  const auto first_stop = std::find(free_run.begin(), free_run.end(), stop) - free_run.begin();
  const auto stopped = GenerateSamples(*model, PromptIds(), stop, options, 1).front();
  EXPECT_EQ(stopped.finish_reason, FinishReason::kEos);
  EXPECT_EQ(stopped.ids, std::vector<TokenId>(free_run.begin(), free_run.begin() + first_stop));
}

TEST(Generate, StopsWhenTheContextWindowIsFull) {
  auto model = CreateCausalLm(TinyGpt2Config(), 10);  // n_positions = 64
  SamplingOptions options;
  options.temperature = 0.0;
  options.max_new_tokens = 10;
  std::vector<TokenId> prompt(61, 'a');
  prompt.front() = 256;
  // An EOS id the model never picks here: the first id greedy decoding does not produce.
  const auto probe = Generate(*model, prompt, kEos, options);
  TokenId unused = 0;
  while (std::find(probe.begin(), probe.end(), unused) != probe.end()) ++unused;
  const auto result = GenerateSamples(*model, prompt, unused, options, 1).front();
  EXPECT_EQ(result.ids.size(), 3u);
  EXPECT_EQ(result.finish_reason, FinishReason::kContextFull);
  EXPECT_STREQ(FinishReasonName(result.finish_reason), "context_full");
}

TEST(Generate, RejectsInvalidOptionsAndPrompts) {
  auto model = CreateCausalLm(TinyGpt2Config(), 11);
  SamplingOptions options;
  options.temperature = -1.0;
  options.top_k = -2;
  options.top_p = 0.0;
  options.max_new_tokens = 0;
  try {
    Generate(*model, PromptIds(), kEos, options);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidInput);
    EXPECT_STREQ(e.what(),
                 "generation: max_new_tokens=0 must be >= 1; temperature=-1 must be >= 0 (0 = greedy); "
                 "top_k=-2 must be >= 0 (0 = no limit); top_p=0 must be in (0, 1]");
  }
  options = SamplingOptions{};
  options.top_p = 1.5;
  EXPECT_EQ(options.Validate(), std::vector<std::string>{"top_p=1.5 must be in (0, 1]"});
  EXPECT_TRUE(SamplingOptions{}.Validate().empty());
  try {
    Generate(*model, std::vector<TokenId>(64, 'a'), kEos, SamplingOptions{});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(),
                 "generation: prompt of 64 tokens leaves no room for a new token in the model's n_positions=64");
  }
  EXPECT_THROW(Generate(*model, {}, kEos, SamplingOptions{}), Error);
  EXPECT_THROW(Generate(*model, {256, 300}, kEos, SamplingOptions{}), Error);
  EXPECT_THROW(GenerateSamples(*model, PromptIds(), kEos, SamplingOptions{}, 0), Error);
}

TEST(Generate, RestoresTheTrainingMode) {
  auto model = CreateCausalLm(TinyGpt2Config(), 12);
  model->module().train();
  SamplingOptions options;
  options.max_new_tokens = 2;
  Generate(*model, PromptIds(), kEos, options);
  EXPECT_TRUE(model->module().is_training());
  model->module().eval();
  Generate(*model, PromptIds(), kEos, options);
  EXPECT_FALSE(model->module().is_training());
}

}  // namespace
}  // namespace dpo
