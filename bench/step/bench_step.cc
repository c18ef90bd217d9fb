// dpo-bench-step: throughput of a full DPO training step (reference forward, policy forward and
// backward, AdamW) at ~1M and ~10M parameters, next to this machine's fp32 matmul peak measured
// in the same run with the same threads.
//
// Model FLOPs per policy token (fwd + bwd, PaLM's accounting): 6 N + 12 L d T, where N counts the
// parameters used in matmuls (12 L d^2 in the blocks plus the V d output projection), L layers,
// width d, sequence length T. Only non-padding tokens count; the reference forward's FLOPs are
// not counted (it is part of the step's time).
//   dpo-bench-step [--threads N] [--steps S]                    (CPU: ~1M and ~10M, fp32)
//   dpo-bench-step --device cuda [--bf16] [--shape gpt2-124m] [--seq 1024] [--pairs 4] [--steps S]
//                  [--json FILE]                                 (one GPU: GPT-2 124M, seq 1024)
// On CUDA the peak is a bf16 (or fp32) 8192^3 matmul measured the same way; with --json the
// figures are also written as one JSON object.
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

struct Options {
  torch::Device device = torch::kCPU;
  bool bf16 = false;
  int64_t steps = 10;
  int64_t pairs = 8, prompt_tokens = 32, completion_tokens = 96;
};

// Waits for queued GPU work so that wall-clock times cover it.
void Synchronize(const Options& options) {
  if (options.device.is_cuda()) torch::cuda::synchronize(options.device.index());
}

// Best-of-5 GEMM throughput: on the CPU fp32 at 1024^3 and 2048x1024x1024; on CUDA at 8192^3 in
// the step's compute dtype.
double MatmulPeakGflops(const Options& options) {
  const bool cuda = options.device.is_cuda();
  const int64_t k = cuda ? 8192 : 1024;
  const auto tensor_options = torch::TensorOptions().device(options.device).dtype(options.bf16 ? torch::kBFloat16 : torch::kFloat);
  double best = 0;
  for (const int64_t m : {k, 2 * k}) {
    const auto a = torch::randn({m, k}, tensor_options);
    const auto b = torch::randn({k, k}, tensor_options);
    auto c = torch::mm(a, b);  // warm-up
    Synchronize(options);
    for (int repeat = 0; repeat < 5; ++repeat) {
      const auto start = Clock::now();
      c = torch::mm(a, b);
      Synchronize(options);
      const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
      best = std::max(best, 2.0 * static_cast<double>(m * k * k) / seconds / 1e9);
    }
  }
  return best;
}

struct Shape {
  const char* name;
  int64_t hidden_size, num_layers, num_heads, vocab_size;
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

struct Result {
  double step_seconds, tokens_per_second, gflops, fraction_of_peak;
  int64_t parameters;
};

Result RunShape(const Shape& shape, const Options& options, double peak_gflops, bool precompute) {
  const int64_t kPairs = options.pairs, kPrompt = options.prompt_tokens, kCompletion = options.completion_tokens;
  dpo::ModelConfig config;
  config.max_positions = kPrompt + kCompletion;
  config.hidden_size = shape.hidden_size;
  config.num_layers = shape.num_layers;
  config.num_heads = shape.num_heads;
  config.vocab_size = shape.vocab_size;
  config.bos_token_id = config.eos_token_id = shape.vocab_size - 1;
  auto policy = dpo::CreateCausalLm(config, 1);
  auto reference_model = dpo::CreateCausalLm(config, 1);
  policy->module().to(options.device);
  reference_model->module().to(options.device);
  dpo::LocalReferenceScorer reference(reference_model, "bench", {});
  const dpo::DpoLoss loss(dpo::LossOptions{});
  dpo::PreferenceStep step(*policy, &reference, loss, 258, {}, options.bf16);
  torch::optim::AdamW optimizer(policy->module().parameters(), torch::optim::AdamWOptions(1e-5));

  const auto pairs = SyntheticPairs(kPairs, kPrompt, kCompletion);
  std::vector<int64_t> indices(kPairs);
  for (int64_t i = 0; i < kPairs; ++i) indices[static_cast<size_t>(i)] = i;
  const auto normalizer = dpo::PreferenceStep::NormalizerFor(pairs, indices);
  std::optional<dpo::PrecomputedReference> table;
  if (precompute) table = dpo::PreferenceStep::Precompute(reference, pairs, kPairs, 258);

  std::vector<double> seconds;
  for (int64_t s = 0; s < options.steps + 2; ++s) {  // two warm-up steps
    Synchronize(options);
    const auto start = Clock::now();
    dpo::StepTotals totals;
    step.Run(pairs, indices, normalizer, table ? &*table : nullptr, /*backward=*/true, totals);
    optimizer.step();
    optimizer.zero_grad();
    Synchronize(options);
    if (s >= 2) seconds.push_back(std::chrono::duration<double>(Clock::now() - start).count());
  }
  const double step_seconds = Median(seconds);
  const int64_t tokens = 2 * kPairs * (kPrompt + kCompletion);
  const double d = static_cast<double>(config.hidden_size), layers = static_cast<double>(config.num_layers);
  const double matmul_parameters = 12.0 * layers * d * d + static_cast<double>(config.vocab_size) * d;
  const double flops_per_token = 6.0 * matmul_parameters + 12.0 * layers * d * static_cast<double>(kPrompt + kCompletion);
  const double gflops = flops_per_token * static_cast<double>(tokens) / step_seconds / 1e9;
  std::printf("%-10s %10lld params  reference %-11s  step %8.2f ms (median of %lld)  %9.0f tokens/s  %8.1f GFLOP/s  "
              "%.2f of peak\n",
              shape.name, static_cast<long long>(config.NumParameters()), precompute ? "precomputed" : "online",
              step_seconds * 1e3, static_cast<long long>(options.steps), static_cast<double>(tokens) / step_seconds,
              gflops, gflops / peak_gflops);
  return {step_seconds, static_cast<double>(tokens) / step_seconds, gflops, gflops / peak_gflops,
          static_cast<int64_t>(config.NumParameters())};
}

}  // namespace

int main(int argc, char** argv) {
  int threads = 1;
  Options options;
  std::string shape_name = "cpu";
  std::string json_path;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    const auto value = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (flag == "--threads") threads = std::stoi(value());
    else if (flag == "--steps") options.steps = std::stoll(value());
    else if (flag == "--device") options.device = torch::Device(value());
    else if (flag == "--bf16") options.bf16 = true;
    else if (flag == "--shape") shape_name = value();
    else if (flag == "--seq") options.completion_tokens = std::stoll(value()) - options.prompt_tokens;
    else if (flag == "--pairs") options.pairs = std::stoll(value());
    else if (flag == "--json") json_path = value();
    else {
      std::fprintf(stderr, "dpo-bench-step: unknown argument %s\n", flag.c_str());
      return 2;
    }
  }
  if (options.device.is_cuda() && shape_name == "cpu") {
    shape_name = "gpt2-124m";
    options.prompt_tokens = 256;
    options.completion_tokens = 768;
    options.pairs = 4;
  }
  torch::set_num_threads(threads);
  torch::manual_seed(0);
  std::printf("device %s, %s, threads %d (set OPENBLAS_NUM_THREADS=%d too); batch %lld pairs, T = %lld (%lld prompt + %lld "
              "completion)\n",
              options.device.str().c_str(), options.bf16 ? "bf16 autocast" : "fp32", threads, threads,
              static_cast<long long>(options.pairs), static_cast<long long>(options.prompt_tokens + options.completion_tokens),
              static_cast<long long>(options.prompt_tokens), static_cast<long long>(options.completion_tokens));
  const double peak = MatmulPeakGflops(options);
  std::printf("%s matmul peak (best of 5): %.1f GFLOP/s\n", options.bf16 ? "bf16" : "fp32", peak);
  std::vector<Shape> shapes = {Shape{"~1M", 128, 4, 4, 259}, Shape{"~10M", 384, 6, 6, 259}};
  if (shape_name == "gpt2-124m") shapes = {Shape{"gpt2-124m", 768, 12, 12, 50257}};
  std::string json = "{\"device\": \"" + options.device.str() + "\", \"bf16\": " + (options.bf16 ? "true" : "false") +
                     ", \"matmul_peak_gflops\": " + std::to_string(peak) + ", \"runs\": [";
  bool first = true;
  for (const Shape& shape : shapes) {
    for (const bool precompute : {false, true}) {
      const Result result = RunShape(shape, options, peak, precompute);
      json += std::string(first ? "" : ", ") + "{\"shape\": \"" + shape.name + "\", \"parameters\": " +
              std::to_string(result.parameters) + ", \"reference\": \"" + (precompute ? "precomputed" : "online") +
              "\", \"step_seconds\": " + std::to_string(result.step_seconds) + ", \"tokens_per_second\": " +
              std::to_string(result.tokens_per_second) + ", \"model_gflops\": " + std::to_string(result.gflops) +
              ", \"mfu_vs_measured_peak\": " + std::to_string(result.fraction_of_peak) + "}";
      first = false;
    }
  }
  if (!json_path.empty()) {
    std::FILE* file = std::fopen(json_path.c_str(), "w");
    if (file == nullptr) {
      std::fprintf(stderr, "dpo-bench-step: cannot write %s\n", json_path.c_str());
      return 2;
    }
    std::fprintf(file, "%s]}\n", json.c_str());
    std::fclose(file);
  }
  return 0;
}
