// dpo-bench-step: throughput of a full DPO training step (reference forward, policy forward and
// backward, AdamW) at ~1M and ~10M parameters, next to this machine's fp32 matmul peak measured
// in the same run with the same threads.
//
// Model FLOPs per policy token (fwd + bwd, PaLM's accounting): 6 N + 12 L d T, where N counts the
// parameters used in matmuls (12 L d^2 in the blocks plus the V d output projection), L layers,
// width d, sequence length T. Only non-padding tokens count; the reference forward's FLOPs are
// not counted (it is part of the step's time).
//   dpo-bench-step [--threads N] [--steps S]
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "core/loss/dpo_loss.h"
#include "core/model/causal_lm.h"
#include "trainer/loop/preference_step.h"
#include "trainer/reference/reference_scorer.h"

namespace {

using Clock = std::chrono::steady_clock;

double Median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

// Best-of-5 fp32 GEMM throughput at 1024^3 and 2048x1024x1024.
double MatmulPeakGflops() {
  double best = 0;
  for (const int64_t m : {1024, 2048}) {
    const auto a = torch::randn({m, 1024});
    const auto b = torch::randn({1024, 1024});
    auto c = torch::mm(a, b);  // warm-up
    for (int repeat = 0; repeat < 5; ++repeat) {
      const auto start = Clock::now();
      c = torch::mm(a, b);
      const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
      best = std::max(best, 2.0 * m * 1024 * 1024 / seconds / 1e9);
    }
  }
  return best;
}

struct Shape {
  const char* name;
  int64_t n_embd, n_layer, n_head;
};

std::vector<dpo::TokenizedPair> SyntheticPairs(int64_t count, int64_t prompt_tokens, int64_t completion_tokens) {
  auto generator = at::make_generator<at::CPUGeneratorImpl>(1234);
  auto ids = [&](int64_t n) {
    const auto values = torch::randint(0, 256, {n}, generator, torch::kLong);
    return std::vector<int64_t>(values.data_ptr<int64_t>(), values.data_ptr<int64_t>() + n);
  };
  std::vector<dpo::TokenizedPair> pairs;
  for (int64_t i = 0; i < count; ++i) {
    auto prompt = ids(prompt_tokens);
    prompt[0] = 256;  // BOS
    pairs.push_back({prompt, ids(completion_tokens), ids(completion_tokens), i + 1});
  }
  return pairs;
}

void RunShape(const Shape& shape, int64_t steps, double peak_gflops, bool precompute) {
  constexpr int64_t kPairs = 8, kPrompt = 32, kCompletion = 96;
  dpo::ModelConfig config;
  config.n_positions = kPrompt + kCompletion;
  config.n_embd = shape.n_embd;
  config.n_layer = shape.n_layer;
  config.n_head = shape.n_head;
  auto policy = dpo::CreateCausalLm(config, 1);
  auto reference_model = dpo::CreateCausalLm(config, 1);
  dpo::LocalReferenceScorer reference(reference_model, "bench", {});
  const dpo::DpoLoss loss(dpo::LossOptions{});
  dpo::PreferenceStep step(*policy, &reference, loss, 258, {});
  torch::optim::AdamW optimizer(policy->module().parameters(), torch::optim::AdamWOptions(1e-5));

  const auto pairs = SyntheticPairs(kPairs, kPrompt, kCompletion);
  std::vector<int64_t> indices(kPairs);
  for (int64_t i = 0; i < kPairs; ++i) indices[static_cast<size_t>(i)] = i;
  const auto normalizer = dpo::PreferenceStep::NormalizerFor(pairs, indices);
  std::optional<dpo::PrecomputedReference> table;
  if (precompute) table = dpo::PreferenceStep::Precompute(reference, pairs, kPairs, 258);

  std::vector<double> seconds;
  for (int64_t s = 0; s < steps + 2; ++s) {  // two warm-up steps
    const auto start = Clock::now();
    dpo::StepTotals totals;
    step.Run(pairs, indices, normalizer, table ? &*table : nullptr, /*backward=*/true, totals);
    optimizer.step();
    optimizer.zero_grad();
    if (s >= 2) seconds.push_back(std::chrono::duration<double>(Clock::now() - start).count());
  }
  const double step_seconds = Median(seconds);
  const int64_t tokens = 2 * kPairs * (kPrompt + kCompletion);
  const double d = static_cast<double>(config.n_embd), layers = static_cast<double>(config.n_layer);
  const double matmul_parameters = 12.0 * layers * d * d + static_cast<double>(config.vocab_size) * d;
  const double flops_per_token = 6.0 * matmul_parameters + 12.0 * layers * d * static_cast<double>(kPrompt + kCompletion);
  const double gflops = flops_per_token * static_cast<double>(tokens) / step_seconds / 1e9;
  std::printf("%-6s %9lld params  reference %-11s  step %8.2f ms (median of %lld)  %9.0f tokens/s  %6.1f GFLOP/s  "
              "%.2f of peak\n",
              shape.name, static_cast<long long>(config.NumParameters()), precompute ? "precomputed" : "online",
              step_seconds * 1e3, static_cast<long long>(steps), static_cast<double>(tokens) / step_seconds, gflops,
              gflops / peak_gflops);
}

}  // namespace

int main(int argc, char** argv) {
  int threads = 1;
  int64_t steps = 10;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--threads") == 0) threads = std::stoi(argv[i + 1]);
    if (std::strcmp(argv[i], "--steps") == 0) steps = std::stoll(argv[i + 1]);
  }
  torch::set_num_threads(threads);
  torch::manual_seed(0);
  std::printf("threads %d (set OPENBLAS_NUM_THREADS=%d too); batch 8 pairs, T = 128 (32 prompt + 96 completion)\n",
              threads, threads);
  const double peak = MatmulPeakGflops();
  std::printf("fp32 matmul peak (best of 5): %.1f GFLOP/s\n", peak);
  for (const Shape& shape : {Shape{"~1M", 128, 4, 4}, Shape{"~10M", 384, 6, 6}}) {
    for (const bool precompute : {false, true}) RunShape(shape, steps, peak, precompute);
  }
  return 0;
}
