// Benchmarks 2 and 3: the time of one DPO training step (8 pairs, T = 128, the ~1M-parameter
// model) with its reference log-probs from a precomputed table, from dpo-reference-server (warm
// cache, prefetch on, as the trainer drives it), and computed online in the step. The three run
// in interleaved rounds through PreferenceStep, on one policy and optimizer.
#include <torch/torch.h>

#include <cstdio>
#include <stdexcept>

#include "bench/reference/bench_support.h"
#include "core/loss/dpo_loss.h"
#include "core/model/causal_lm.h"
#include "core/optim/fused_adamw.h"
#include "core/tokenizer/tokenizer.h"
#include "trainer/loop/preference_step.h"
#include "trainer/reference/precomputed_reference_scorer.h"
#include "trainer/reference/reference_scorer.h"
#include "trainer/reference/remote/remote_reference_scorer.h"

namespace dpo::bench {
namespace {

constexpr int64_t kPairs = 8;    // pairs per micro-batch (one step)
constexpr int64_t kBatches = 8;  // distinct micro-batches, cycled: consecutive steps differ
constexpr int64_t kPrompt = 32, kCompletion = 96;
constexpr int kWarmupSteps = 2;

std::vector<TokenizedPair> SyntheticPairs(int64_t count, TokenId bos_id, uint64_t seed) {
  std::mt19937_64 random(seed);
  std::uniform_int_distribution<TokenId> byte(0, 255);
  auto ids = [&](int64_t n) {
    std::vector<TokenId> values(static_cast<size_t>(n));
    for (TokenId& value : values) value = byte(random);
    return values;
  };
  std::vector<TokenizedPair> pairs;
  for (int64_t i = 0; i < count; ++i) {
    std::vector<TokenId> prompt = ids(kPrompt);
    prompt[0] = bos_id;
    pairs.push_back({prompt, ids(kCompletion), ids(kCompletion), i + 1});
  }
  return pairs;
}

std::vector<int64_t> BatchIndices(int64_t batch) {
  std::vector<int64_t> indices;
  for (int64_t i = 0; i < kPairs; ++i) indices.push_back((batch % kBatches) * kPairs + i);
  return indices;
}

struct Configuration {
  const char* name;
  PreferenceStep step;
  bool prefetch;                      // announce this and the next micro-batch first (server mode)
  int64_t cursor = 0;                 // next micro-batch: each configuration keeps its own order
  std::vector<double> seconds;
};

double Median(std::vector<double> values) { return Percentile(std::move(values), 0.5); }

}  // namespace

int RunStepBench(const BenchOptions& options) {
  torch::set_num_threads(1);
  torch::manual_seed(0);
  const std::string model_dir = options.work_dir + "/model-step";
  const auto tokenizer = CreateTokenizer("byte");
  const TokenId pad_id = tokenizer->PadId();
  std::shared_ptr<CausalLm> reference_model = WriteBenchModel(model_dir, 1);
  std::shared_ptr<CausalLm> policy = CreateCausalLm(BenchModelConfig(), 2);
  auto server = StartServer(model_dir, options.work_dir + "/cache-step", options.work_dir + "/server-step.log");
  const auto channel = testing::PlainChannel(server->address());

  RemoteReferenceOptions remote_options;
  remote_options.address = server->address();
  remote_options.prefetch_window = 2;
  RemoteReferenceScorer remote(remote_options);
  LocalReferenceScorer local(reference_model, "bench", {});
  const DpoLoss loss(LossOptions{});
  FusedAdamW optimizer(policy->module().parameters(), torch::optim::AdamWOptions(1e-5));

  const std::vector<TokenizedPair> pairs =
      SyntheticPairs(kPairs * kBatches, BenchModelConfig().bos_token_id, /*seed=*/1234);
  PrecomputedReferenceScorer table(local, pairs, kPairs, pad_id, /*bf16_autocast=*/false);
  // Warm the server's cache (a first pass computes every sequence) and check it against local.
  double max_difference = 0;
  for (int64_t batch = 0; batch < kBatches; ++batch) {
    std::vector<const TokenizedPair*> selected;
    for (const int64_t index : BatchIndices(batch)) selected.push_back(&pairs[static_cast<size_t>(index)]);
    const SequenceBatch collated = CollatePairs(selected, pad_id);
    const at::Tensor difference = (remote.Score(collated) - local.Score(collated)).abs().max();
    max_difference = std::max(max_difference, difference.item<double>());
  }
  v1::ServerStats before;
  testing::CallStats(channel, &before);

  std::vector<Configuration> configurations;
  configurations.push_back({"local, precomputed table", PreferenceStep(*policy, &table, loss, pad_id, {}), false, 0, {}});
  configurations.push_back({"server, warm cache, prefetch", PreferenceStep(*policy, &remote, loss, pad_id, {}), true, 0, {}});
  configurations.push_back({"local, online reference", PreferenceStep(*policy, &local, loss, pad_id, {}), false, 0, {}});
  auto run_step = [&](Configuration& configuration, bool record) {
    const std::vector<int64_t> indices = BatchIndices(configuration.cursor++);
    const LossNormalizer normalizer = PreferenceStep::NormalizerFor(pairs, indices);
    const auto start = Clock::now();
    if (configuration.prefetch) {  // what Trainer::PrefetchReference announces with reference.prefetch = 2
      configuration.step.Prefetch(pairs, indices);
      configuration.step.Prefetch(pairs, BatchIndices(configuration.cursor));
    }
    StepTotals totals;
    configuration.step.Run(pairs, indices, normalizer, /*backward=*/true, totals);
    optimizer.step();
    optimizer.zero_grad();
    if (record) configuration.seconds.push_back(Seconds(Clock::now() - start));
  };
  for (auto& configuration : configurations) {
    for (int s = 0; s < kWarmupSteps; ++s) run_step(configuration, false);
  }
  for (int64_t round = 0; round < options.step_rounds; ++round) {
    for (auto& configuration : configurations) {
      for (int64_t s = 0; s < options.steps_per_round; ++s) run_step(configuration, true);
    }
  }
  v1::ServerStats after;
  testing::CallStats(channel, &after);

  std::printf("== training step: reference from a table, the server, or online ==\n");
  std::printf("model %lld params, %lld pairs per step, T = %lld (%lld prompt + %lld completion), 1 thread; "
              "%lld rounds x %lld steps per configuration, interleaved\n",
              static_cast<long long>(BenchModelConfig().NumParameters()), static_cast<long long>(kPairs),
              static_cast<long long>(kPrompt + kCompletion), static_cast<long long>(kPrompt),
              static_cast<long long>(kCompletion), static_cast<long long>(options.step_rounds),
              static_cast<long long>(options.steps_per_round));
  std::vector<double> medians;
  for (const auto& configuration : configurations) {
    const double median = Median(configuration.seconds);
    medians.push_back(median);
    std::printf("  %-30s step p50 %8.2f ms  p90 %8.2f ms  %7.1f pairs/s\n", configuration.name, 1e3 * median,
                1e3 * Percentile(configuration.seconds, 0.9), static_cast<double>(kPairs) / median);
  }
  std::printf("server vs precomputed table: %+.2f%% step time (goal <= 2%%)\n", 100.0 * (medians[1] / medians[0] - 1));
  std::printf("online vs precomputed table: precomputed is %.2fx faster (goal >= 1.25x)\n", medians[2] / medians[0]);
  std::printf("server during the timed steps: %llu sequences from the cache, %llu computed; "
              "max |server - local| log-prob %.2e\n",
              static_cast<unsigned long long>(after.cache().hits() - before.cache().hits()),
              static_cast<unsigned long long>(after.sequences_computed() - before.sequences_computed()),
              max_difference);
  return 0;
}

}  // namespace dpo::bench
