// dpo-bench-step: throughput of a full DPO training step (reference forward, policy forward and
// backward, AdamW) next to a GEMM measured in the same run, on the CPU or one CUDA GPU.
//
//   dpo-bench-step [--threads N] [--steps S]                         CPU: ~1M and ~10M GPT-2 shapes, fp32
//   dpo-bench-step --device cuda [--shape gpt2-124m|llama-1b] [--precision bf16|fp32|both]
//                  [--pairs P] [--steps S] [--spec-tflops 989] [--json FILE]
//                  [--chunk-tokens C] [--profile FILE]
//   --prompt-tokens P --completion-tokens C   override the shape's sequence (T = P + C), e.g.
//                  --shape gpt2-124m --prompt-tokens 128 --completion-tokens 384 on the CPU
//
// FLOPs are model FLOPs of the whole step (core/model/model_flops.h): policy forward + backward,
// the reference forward when it runs in the step (online; not when precomputed), the output
// projection at scored positions only, causal attention. MFU is reported against the measured
// GEMM (bf16 or fp32 like the step, 8192^3 on CUDA) and, on CUDA, against the spec's dense bf16
// peak (H200: 989 TFLOP/s); the policy-only figure is printed beside it. fp32 runs say whether
// TF32 is on. Peak memory is the CUDA caching allocator's peak of allocated bytes in the timed steps.
// --chunk-tokens sets the output projection's chunk (LogProbOptions::chunk_tokens); --profile
// appends, for each run, where two more steps spend their GPU time (step_profile.h).
#include <torch/cuda.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "bench/step/step_profile.h"
#include "core/common/clock.h"
#include "core/common/tensor_memory.h"
#include "core/loss/dpo_loss.h"
#include "core/model/causal_lm.h"
#include "core/model/model_flops.h"
#include "core/optim/fused_adamw.h"
#include "trainer/loop/preference_step.h"
#include "trainer/reference/precomputed_reference_scorer.h"
#include "trainer/reference/reference_scorer.h"

namespace {


struct Options {
  torch::Device device = torch::kCPU;
  std::string shape = "cpu";
  std::string precision = "fp32";  // bf16, fp32 or both
  int threads = 1;
  int64_t steps = 10;
  int64_t pairs = 0;  // 0: the shape's default
  double spec_tflops = 989;
  std::string json_path;
  int64_t prompt_tokens = 0;      // > 0: overrides the shape's
  int64_t completion_tokens = 0;  // > 0: overrides the shape's
  dpo::LogProbOptions log_probs;
  std::string profile_path;
};

struct Shape {
  std::string name;
  dpo::ModelConfig config;
  int64_t pairs, prompt_tokens, completion_tokens;
};

dpo::ModelConfig Gpt2Shape(int64_t hidden, int64_t layers, int64_t heads, int64_t vocab, int64_t positions) {
  dpo::ModelConfig config = dpo::ModelConfig::Defaults("gpt2");
  config.hidden_size = hidden;
  config.num_layers = layers;
  config.num_heads = heads;
  config.vocab_size = vocab;
  config.max_positions = positions;
  config.bos_token_id = config.eos_token_id = vocab - 1;
  return config;
}

// Llama 3.2 1B: 16 layers, width 2048, 32 query heads on 8 kv heads, SwiGLU 8192, vocab 128256,
// tied embeddings (1.24B parameters).
dpo::ModelConfig Llama1bShape(int64_t positions) {
  dpo::ModelConfig config = dpo::ModelConfig::Defaults("llama");
  config.hidden_size = 2048;
  config.num_layers = 16;
  config.num_heads = 32;
  config.num_kv_heads = 8;
  config.intermediate_size = 8192;
  config.vocab_size = 128256;
  config.max_positions = positions;
  config.rope_theta = 500000;
  config.tie_word_embeddings = true;
  config.bos_token_id = 128000;
  config.eos_token_id = 128001;
  return config;
}

std::vector<Shape> ShapesFor(const Options& options) {
  if (options.shape == "cpu") {
    return {{"~1M", Gpt2Shape(128, 4, 4, 259, 128), 8, 32, 96}, {"~10M", Gpt2Shape(384, 6, 6, 259, 128), 8, 32, 96}};
  }
  if (options.shape == "gpt2-124m") return {{"gpt2-124m", Gpt2Shape(768, 12, 12, 50257, 1024), 8, 256, 768}};
  if (options.shape == "llama-1b") return {{"llama-1b", Llama1bShape(2048), 4, 512, 1536}};
  std::fprintf(stderr, "dpo-bench-step: unknown --shape %s (cpu, gpt2-124m, llama-1b)\n", options.shape.c_str());
  std::exit(2);
}

// Waits for queued GPU work so that wall-clock times cover it.
void Synchronize(const Options& options) {
  if (options.device.is_cuda()) torch::cuda::synchronize(options.device.index());
}

// Best-of-5 GEMM throughput in `dtype`: 8192^3 and 16384x8192x8192 on CUDA, 1024^3 and
// 2048x1024x1024 on the CPU.
double MatmulPeakFlops(const Options& options, torch::Dtype dtype) {
  const int64_t k = options.device.is_cuda() ? 8192 : 1024;
  const auto tensor_options = torch::TensorOptions().device(options.device).dtype(dtype);
  double best = 0;
  for (const int64_t m : {k, 2 * k}) {
    const auto a = torch::randn({m, k}, tensor_options);
    const auto b = torch::randn({k, k}, tensor_options);
    auto c = torch::mm(a, b);  // warm-up
    Synchronize(options);
    for (int repeat = 0; repeat < 5; ++repeat) {
      const auto start = dpo::Clock::now();
      c = torch::mm(a, b);
      Synchronize(options);
      const double seconds = dpo::SecondsSince(start);
      best = std::max(best, 2.0 * static_cast<double>(m * k * k) / seconds);
    }
  }
  return best;
}

std::vector<dpo::TokenizedPair> SyntheticPairs(const Shape& shape) {
  auto generator = at::make_generator<at::CPUGeneratorImpl>(1234);
  auto ids = [&](int64_t n) {
    const auto values = torch::randint(0, shape.config.vocab_size - 2, {n}, generator, torch::kLong);
    return std::vector<int64_t>(values.data_ptr<int64_t>(), values.data_ptr<int64_t>() + n);
  };
  std::vector<dpo::TokenizedPair> pairs;
  for (int64_t i = 0; i < shape.pairs; ++i) {
    auto prompt = ids(shape.prompt_tokens);
    prompt[0] = shape.config.bos_token_id;
    pairs.push_back({prompt, ids(shape.completion_tokens), ids(shape.completion_tokens), i + 1});
  }
  return pairs;
}

struct Run {
  std::string shape, precision, reference;
  int64_t parameters = 0, pairs = 0, tokens_per_step = 0;
  double step_seconds = 0, forward_seconds = 0, optimizer_seconds = 0, tokens_per_second = 0, step_flops = 0, policy_flops = 0, peak_memory_gib = 0;
  double gemm_flops = 0, spec_flops = 0;
  bool tf32 = false;
};

// Median step time of `options.steps` steps after two warm-ups, for one precision and one
// reference mode, on models already on the device (a fresh optimizer each time).
Run TimeSteps(const Shape& shape, dpo::CausalLm& policy, dpo::ReferenceScorer& reference, bool bf16, bool precompute,
              const Options& options) {
  const dpo::DpoLoss loss(dpo::LossOptions{});
  const dpo::TokenId pad_id = shape.config.vocab_size - 2;
  const auto pairs = SyntheticPairs(shape);
  std::optional<dpo::PrecomputedReferenceScorer> table;
  if (precompute) table.emplace(reference, pairs, shape.pairs, pad_id, bf16);
  dpo::PreferenceStep step(policy, table ? static_cast<dpo::ReferenceScorer*>(&*table) : &reference, loss, pad_id,
                           options.log_probs, bf16);
  dpo::FusedAdamW optimizer(policy.module().parameters(), torch::optim::AdamWOptions(1e-5));
  std::vector<int64_t> indices(static_cast<size_t>(shape.pairs));
  for (int64_t i = 0; i < shape.pairs; ++i) indices[static_cast<size_t>(i)] = i;
  const auto normalizer = dpo::PreferenceStep::NormalizerFor(pairs, indices);

  std::vector<double> seconds;
  for (int64_t s = 0; s < options.steps + 2; ++s) {
    if (s == 2) dpo::ResetTensorMemoryPeak(options.device);
    Synchronize(options);
    const auto start = dpo::Clock::now();
    dpo::StepTotals totals;
    step.Run(pairs, indices, normalizer, /*backward=*/true, totals);
    optimizer.step();
    optimizer.zero_grad();
    Synchronize(options);
    if (s >= 2) seconds.push_back(dpo::SecondsSince(start));
  }
  std::sort(seconds.begin(), seconds.end());

  // Where the time goes: the forward passes alone (policy, and reference when online; no autograd
  // graph) and the optimizer alone (on the last step's gradients); backward is the rest.
  auto median_of = [&](const std::function<void()>& work) {
    std::vector<double> times;
    for (int64_t s = 0; s < std::max<int64_t>(3, options.steps / 2); ++s) {
      Synchronize(options);
      const auto start = dpo::Clock::now();
      work();
      Synchronize(options);
      times.push_back(dpo::SecondsSince(start));
    }
    std::sort(times.begin(), times.end());
    return times[times.size() / 2];
  };
  const double forward_seconds = median_of([&] {
    const torch::NoGradGuard no_grad;
    dpo::StepTotals totals;
    step.Run(pairs, indices, normalizer, /*backward=*/false, totals);
  });
  {
    dpo::StepTotals totals;
    step.Run(pairs, indices, normalizer, /*backward=*/true, totals);
  }
  const double optimizer_seconds = median_of([&] { optimizer.step(); });
  optimizer.zero_grad();
  if (!options.profile_path.empty()) {
    const std::string title = shape.name + " " + (bf16 ? "bf16" : "fp32") + " reference " +
                              (precompute ? "precomputed" : "online") + ", " + std::to_string(shape.pairs) + " pairs";
    dpo::bench::ProfileStep(
        title,
        [&] {
          dpo::StepTotals totals;
          step.Run(pairs, indices, normalizer, /*backward=*/true, totals);
          optimizer.step();
          optimizer.zero_grad();
        },
        /*repeats=*/2, /*top=*/30, options.profile_path);
  }

  const int64_t sequences = 2 * shape.pairs, tokens = shape.prompt_tokens + shape.completion_tokens;
  const dpo::StepFlops flops = dpo::DpoStepFlops(shape.config, sequences, tokens, shape.completion_tokens, !precompute);
  Run run;
  run.shape = shape.name;
  run.precision = bf16 ? "bf16" : "fp32";
  run.reference = precompute ? "precomputed" : "online";
  run.parameters = shape.config.NumParameters();
  run.pairs = shape.pairs;
  run.tokens_per_step = sequences * tokens;
  run.step_seconds = seconds[seconds.size() / 2];
  run.forward_seconds = forward_seconds;
  run.optimizer_seconds = optimizer_seconds;
  run.tokens_per_second = static_cast<double>(run.tokens_per_step) / run.step_seconds;
  run.step_flops = flops.Total();
  run.policy_flops = flops.policy;
  run.peak_memory_gib = static_cast<double>(dpo::MeasureTensorMemory(options.device).peak_bytes) / (1024.0 * 1024.0 * 1024.0);
  run.tf32 = options.device.is_cuda() && at::globalContext().allowTF32CuBLAS();
  return run;
}

std::string JsonOf(const Run& run, const Options& options) {
  char buffer[1024];
  const double achieved = run.step_flops / run.step_seconds;
  std::snprintf(buffer, sizeof(buffer),
                "{\"shape\": \"%s\", \"precision\": \"%s\", \"tf32\": %s, \"reference\": \"%s\", \"parameters\": %lld, "
                "\"pairs\": %lld, \"tokens_per_step\": %lld, \"step_seconds\": %.6f, \"forward_seconds\": %.6f, "
                "\"optimizer_seconds\": %.6f, \"tokens_per_second\": %.1f, "
                "\"step_tflop\": %.4f, \"policy_tflop\": %.4f, \"achieved_tflops\": %.4f, \"gemm_tflops\": %.4f, "
                "\"mfu_vs_gemm\": %.4f, \"mfu_vs_spec\": %.4f, \"policy_mfu_vs_spec\": %.4f, \"peak_memory_gib\": %.3f, "
                "\"chunk_tokens\": %lld}",
                run.shape.c_str(), run.precision.c_str(), run.tf32 ? "true" : "false", run.reference.c_str(),
                static_cast<long long>(run.parameters), static_cast<long long>(run.pairs),
                static_cast<long long>(run.tokens_per_step), run.step_seconds, run.forward_seconds, run.optimizer_seconds,
                run.tokens_per_second,
                run.step_flops / 1e12, run.policy_flops / 1e12, achieved / 1e12, run.gemm_flops / 1e12,
                achieved / run.gemm_flops, options.device.is_cuda() ? achieved / run.spec_flops : 0.0,
                options.device.is_cuda() ? run.policy_flops / run.step_seconds / run.spec_flops : 0.0,
                run.peak_memory_gib, static_cast<long long>(options.log_probs.chunk_tokens));
  return buffer;
}

// "12.3 TFLOP/s", or GFLOP/s below one TFLOP/s (CPUs).
std::string Rate(double flops_per_second) {
  char text[32];
  if (flops_per_second >= 1e12) std::snprintf(text, sizeof(text), "%.1f TFLOP/s", flops_per_second / 1e12);
  else std::snprintf(text, sizeof(text), "%.1f GFLOP/s", flops_per_second / 1e9);
  return text;
}

void Print(const Run& run, const Options& options) {
  const double achieved = run.step_flops / run.step_seconds;
  std::printf("%-10s %s%s reference %-11s %6.3fB params  step %8.2f ms  %9.0f tokens/s  %14s  MFU %.3f of "
              "the measured GEMM",
              run.shape.c_str(), run.precision.c_str(), run.precision == "fp32" ? (run.tf32 ? " (TF32 on)" : " (TF32 off)") : "",
              run.reference.c_str(), static_cast<double>(run.parameters) / 1e9, run.step_seconds * 1e3,
              run.tokens_per_second, Rate(achieved).c_str(), achieved / run.gemm_flops);
  if (options.device.is_cuda()) {
    std::printf(", %.3f of the %.0f TFLOP/s spec (policy only %.3f), peak memory %.1f GiB", achieved / run.spec_flops,
                run.spec_flops / 1e12, run.policy_flops / run.step_seconds / run.spec_flops, run.peak_memory_gib);
  }
  std::printf("\n           of the step: forward passes %.1f ms, optimizer %.1f ms, backward and the rest %.1f ms\n",
              run.forward_seconds * 1e3, run.optimizer_seconds * 1e3,
              (run.step_seconds - run.forward_seconds - run.optimizer_seconds) * 1e3);
  std::fflush(stdout);
}

Options ParseOptions(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    const auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "dpo-bench-step: %s needs a value\n", flag.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (flag == "--threads") options.threads = std::stoi(value());
    else if (flag == "--steps") options.steps = std::stoll(value());
    else if (flag == "--device") options.device = torch::Device(value());
    else if (flag == "--shape") options.shape = value();
    else if (flag == "--precision") options.precision = value();
    else if (flag == "--pairs") options.pairs = std::stoll(value());
    else if (flag == "--spec-tflops") options.spec_tflops = std::stod(value());
    else if (flag == "--json") options.json_path = value();
    else if (flag == "--chunk-tokens") options.log_probs.chunk_tokens = std::stoll(value());
    else if (flag == "--profile") options.profile_path = value();
    else if (flag == "--prompt-tokens") options.prompt_tokens = std::stoll(value());
    else if (flag == "--completion-tokens") options.completion_tokens = std::stoll(value());
    else {
      std::fprintf(stderr, "dpo-bench-step: unknown argument %s\n", flag.c_str());
      std::exit(2);
    }
  }
  if (options.precision != "bf16" && options.precision != "fp32" && options.precision != "both") {
    std::fprintf(stderr, "dpo-bench-step: --precision must be bf16, fp32 or both\n");
    std::exit(2);
  }
  if (options.device.is_cuda() && options.shape == "cpu") options.shape = "gpt2-124m";
  if (options.device.is_cuda() && !options.device.has_index()) options.device = torch::Device(torch::kCUDA, 0);
  if (options.device.is_cpu() && options.precision != "fp32") {
    std::fprintf(stderr, "dpo-bench-step: bf16 is measured on CUDA only\n");
    std::exit(2);
  }
  return options;
}

}  // namespace

int main(int argc, char** argv) {
  const Options options = ParseOptions(argc, argv);
  torch::set_num_threads(options.threads);
  torch::manual_seed(0);
  std::vector<bool> precisions;
  if (options.precision != "fp32") precisions.push_back(true);
  if (options.precision != "bf16") precisions.push_back(false);
  std::printf("device %s, threads %d (set OPENBLAS_NUM_THREADS=%d too), LibTorch %s\n", options.device.str().c_str(),
              options.threads, options.threads, TORCH_VERSION);
  double gemm_bf16 = 0, gemm_fp32 = 0;
  for (const bool bf16 : precisions) {
    (bf16 ? gemm_bf16 : gemm_fp32) = MatmulPeakFlops(options, bf16 ? torch::kBFloat16 : torch::kFloat);
    std::printf("%s GEMM (best of 5): %s%s\n", bf16 ? "bf16" : "fp32", Rate(bf16 ? gemm_bf16 : gemm_fp32).c_str(),
                !bf16 && options.device.is_cuda() ? (at::globalContext().allowTF32CuBLAS() ? " (TF32 on)" : " (TF32 off)") : "");
  }

  std::string json = "{\"device\": \"" + options.device.str() + "\", \"libtorch\": \"" TORCH_VERSION "\", \"gemm_bf16_tflops\": " +
                     std::to_string(gemm_bf16 / 1e12) + ", \"gemm_fp32_tflops\": " + std::to_string(gemm_fp32 / 1e12) +
                     ", \"spec_bf16_tflops\": " + std::to_string(options.spec_tflops) + ", \"runs\": [";
  bool first = true;
  for (Shape shape : ShapesFor(options)) {
    if (options.pairs > 0) shape.pairs = options.pairs;
    if (options.prompt_tokens > 0) shape.prompt_tokens = options.prompt_tokens;
    if (options.completion_tokens > 0) shape.completion_tokens = options.completion_tokens;
    shape.config.max_positions = std::max(shape.config.max_positions, shape.prompt_tokens + shape.completion_tokens);
    const auto policy = dpo::CreateCausalLm(shape.config, 1);
    const auto reference_model = dpo::CreateCausalLm(shape.config, 1);
    policy->module().to(options.device);
    reference_model->module().to(options.device);
    dpo::LocalReferenceScorer reference(reference_model, "bench", options.log_probs);
    std::printf("%s: %.2fB parameters, %lld pairs, T = %lld (%lld prompt + %lld completion)\n", shape.name.c_str(),
                static_cast<double>(shape.config.NumParameters()) / 1e9, static_cast<long long>(shape.pairs),
                static_cast<long long>(shape.prompt_tokens + shape.completion_tokens),
                static_cast<long long>(shape.prompt_tokens), static_cast<long long>(shape.completion_tokens));
    for (const bool bf16 : precisions) {
      for (const bool precompute : {false, true}) {
        Run run = TimeSteps(shape, *policy, reference, bf16, precompute, options);
        run.gemm_flops = bf16 ? gemm_bf16 : gemm_fp32;
        run.spec_flops = options.spec_tflops * 1e12;
        Print(run, options);
        json += std::string(first ? "" : ", ") + JsonOf(run, options);
        first = false;
      }
    }
  }
  if (!options.json_path.empty()) {
    std::FILE* file = std::fopen(options.json_path.c_str(), "w");
    if (file == nullptr) {
      std::fprintf(stderr, "dpo-bench-step: cannot write %s\n", options.json_path.c_str());
      return 2;
    }
    std::fprintf(file, "%s]}\n", json.c_str());
    std::fclose(file);
  }
  return 0;
}
