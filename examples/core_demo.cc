// dpo-core-demo: a few DPO steps with dpo_core alone (data, model, log-probs, loss, metrics),
// on the bundled tiny data set. It shows the step-0 invariant (loss = ln 2 while the policy
// equals the reference) and the implicit reward margin growing as the policy learns.
//   dpo-core-demo [DATA.jsonl] [STEPS]
#include <torch/torch.h>

#include <cmath>
#include <cstdio>
#include <iostream>

#include "core/common/error.h"
#include "core/data/batch.h"
#include "core/data/pair_sampler.h"
#include "core/data/preference_reader.h"
#include "core/loss/dpo_loss.h"
#include "core/loss/pair_metrics.h"
#include "core/loss/sequence_log_probs.h"
#include "core/model/causal_lm.h"
#include "core/tokenizer/tokenizer.h"

namespace {

int Run(const std::string& data_path, int64_t steps) {
  torch::manual_seed(0);
  const auto tokenizer = dpo::CreateTokenizer("byte");
  dpo::DataOptions data_options;
  data_options.max_length = 128;
  data_options.max_prompt_length = 64;
  const auto dataset = dpo::LoadPreferenceData(data_path, *tokenizer, data_options);
  std::printf("data: %zu pairs kept of %lld rows\n", dataset.pairs.size(), static_cast<long long>(dataset.rows_read));

  dpo::ModelConfig config;
  config.n_positions = 128;
  config.n_embd = 64;
  config.n_layer = 2;
  config.n_head = 4;
  auto policy = dpo::CreateCausalLm(config, /*seed=*/1);
  auto reference = dpo::CreateCausalLm(config, /*seed=*/1);  // the same start: log-ratios are 0
  reference->module().eval();

  dpo::LossOptions loss_options;
  loss_options.beta = 0.1;
  const dpo::DpoLoss loss(loss_options);
  torch::optim::AdamW optimizer(policy->module().parameters(), torch::optim::AdamWOptions(1e-3).weight_decay(0.0));
  dpo::PairSampler sampler(static_cast<int64_t>(dataset.pairs.size()), /*global_batch_size=*/8, /*seed=*/0,
                           /*rank=*/0, /*world_size=*/1);

  for (int64_t step = 0; step < steps; ++step, sampler.Advance()) {
    std::vector<const dpo::TokenizedPair*> pairs;
    for (int64_t index : sampler.RankShard()) pairs.push_back(&dataset.pairs[index]);
    const auto batch = dpo::CollatePairs(pairs, tokenizer->PadId());
    const int64_t b = static_cast<int64_t>(pairs.size());

    dpo::SequenceLogProbs reference_log_probs;
    {
      torch::NoGradGuard no_grad;
      reference_log_probs = dpo::ComputeSequenceLogProbs(*reference, batch.input_ids, batch.completion_mask);
    }
    const auto policy_log_probs = dpo::ComputeSequenceLogProbs(*policy, batch.input_ids, batch.completion_mask);
    const dpo::PairLogProbs inputs{
        policy_log_probs.sum_log_probs.slice(0, 0, b),    policy_log_probs.sum_log_probs.slice(0, b),
        reference_log_probs.sum_log_probs.slice(0, 0, b), reference_log_probs.sum_log_probs.slice(0, b),
        policy_log_probs.token_counts.slice(0, 0, b),     policy_log_probs.token_counts.slice(0, b)};
    const auto value = loss.Compute(inputs, dpo::DpoLoss::BatchNormalizer(inputs));
    optimizer.zero_grad();
    value.backward();
    optimizer.step();

    const auto metrics = dpo::ComputePairMetricSums(loss_options.beta, inputs, policy_log_probs.sum_mean_logits.slice(0, 0, b),
                                                    policy_log_probs.sum_mean_logits.slice(0, b))
                             .Means();
    std::printf("step %3lld  loss %.6f  rewards/margins %+.4f  rewards/accuracies %.3f\n",
                static_cast<long long>(step), value.item<double>(), metrics.at("rewards/margins"),
                metrics.at("rewards/accuracies"));
    if (step == 0 && std::abs(value.item<double>() - std::log(2.0)) > 1e-6) {
      std::fprintf(stderr, "step 0 loss should be ln 2 = %.6f\n", std::log(2.0));
      return 1;
    }
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string data_path = argc > 1 ? argv[1] : "examples/data/tiny_preferences.jsonl";
  const int64_t steps = argc > 2 ? std::stoll(argv[2]) : 30;
  try {
    return Run(data_path, steps);
  } catch (const dpo::Error& e) {
    std::cerr << "error: " << e.what() << "\n";
    return e.exit_code();
  }
}
