// Generation: prefill the prompt once, then one incremental forward per new token.
#include "core/model/generation.h"

#include <torch/torch.h>

#include <cmath>
#include <sstream>

#include "core/common/error.h"
#include "core/common/problems.h"
#include "core/model/causal_lm.h"
#include "core/model/eval_mode_guard.h"

namespace dpo {
namespace {

std::string FormatDouble(double value) {
  std::ostringstream text;
  text << value;
  return text.str();
}

// (M, V) float logits on the CPU -> (M,) int64 token ids.
at::Tensor SampleNext(const at::Tensor& logits, const SamplingOptions& options, at::Generator& generator) {
  if (options.temperature == 0.0) return logits.argmax(-1);
  const int64_t vocab = logits.size(1);
  // A stable descending sort keeps equal logits in id order, so top_k = 1 and a tiny top_p
  // pick the same token as argmax.
  const auto [sorted, order] = torch::sort(logits.to(torch::kDouble) / options.temperature,
                                           /*stable=*/true, /*dim=*/-1, /*descending=*/true);
  auto probabilities = torch::softmax(sorted, -1);  // (M, V), descending
  auto keep = torch::ones_like(probabilities, torch::kBool);
  if (options.top_k > 0 && options.top_k < vocab) keep.slice(1, options.top_k).fill_(false);
  if (options.top_p < 1.0) {
    // Keep a token while the mass before it is below top_p: the most likely token always stays.
    keep.logical_and_(probabilities.cumsum(-1) - probabilities < options.top_p);
  }
  probabilities = probabilities.masked_fill(keep.logical_not(), 0.0);
  const auto picked = torch::multinomial(probabilities, 1, /*replacement=*/false, generator);  // (M, 1)
  return order.gather(1, picked).squeeze(1);
}

void CheckRequest(const CausalLm& model, const std::vector<TokenId>& prompt_ids, TokenId eos_id,
                  const SamplingOptions& options, int64_t num_samples) {
  std::vector<std::string> problems = options.Validate();
  const ModelConfig& config = model.config();
  if (num_samples < 1) problems.push_back("num_samples=" + std::to_string(num_samples) + " must be >= 1");
  if (eos_id < 0 || eos_id >= config.vocab_size) {
    problems.push_back("eos_id=" + std::to_string(eos_id) + " is outside the vocabulary [0, " +
                       std::to_string(config.vocab_size) + ")");
  }
  if (prompt_ids.empty()) problems.push_back("prompt is empty (it holds at least BOS)");
  if (static_cast<int64_t>(prompt_ids.size()) >= config.max_positions) {
    problems.push_back(
        "prompt of " + std::to_string(prompt_ids.size()) +
        " tokens leaves no room for a new token in the model's " + config.FieldName("max_positions") + "=" + std::to_string(config.max_positions));
  }
  for (size_t i = 0; i < prompt_ids.size(); ++i) {
    if (prompt_ids[i] < 0 || prompt_ids[i] >= config.vocab_size) {
      problems.push_back("prompt id " + std::to_string(prompt_ids[i]) + " at index " + std::to_string(i) +
                         " is outside the vocabulary [0, " + std::to_string(config.vocab_size) + ")");
      break;
    }
  }
  if (!problems.empty()) throw InvalidInput("generation: " + JoinProblems(problems));
}

}  // namespace

std::vector<std::string> SamplingOptions::Validate() const {
  std::vector<std::string> problems;
  if (max_new_tokens < 1) problems.push_back("max_new_tokens=" + std::to_string(max_new_tokens) + " must be >= 1");
  if (!std::isfinite(temperature) || temperature < 0.0) {
    problems.push_back("temperature=" + FormatDouble(temperature) + " must be >= 0 (0 = greedy)");
  }
  if (top_k < 0) problems.push_back("top_k=" + std::to_string(top_k) + " must be >= 0 (0 = no limit)");
  if (!(top_p > 0.0 && top_p <= 1.0)) problems.push_back("top_p=" + FormatDouble(top_p) + " must be in (0, 1]");
  return problems;
}

const char* FinishReasonName(FinishReason reason) {
  switch (reason) {
    case FinishReason::kEos:
      return "eos";
    case FinishReason::kMaxNewTokens:
      return "max_new_tokens";
    case FinishReason::kContextFull:
      return "context_full";
  }
  return "unknown";
}

std::vector<GeneratedSequence> GenerateSamples(CausalLm& model, const std::vector<TokenId>& prompt_ids, TokenId eos_id,
                                               const SamplingOptions& options, int64_t num_samples) {
  CheckRequest(model, prompt_ids, eos_id, options, num_samples);
  torch::NoGradGuard no_grad;
  EvalModeGuard eval_mode(model.module());
  at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(options.seed);

  const auto embedding = model.OutputEmbedding();  // (V, H)
  const auto device = embedding.device();
  const auto prompt_length = static_cast<int64_t>(prompt_ids.size());
  const int64_t room = model.config().max_positions - prompt_length;
  const int64_t budget = std::min(options.max_new_tokens, room);

  CausalLm::KvCache cache;
  const auto prompt = torch::tensor(prompt_ids, torch::kLong).view({1, prompt_length}).to(device);
  // (1, P, H) -> the last position's state, shared by every sample: (M, H).
  auto last_hidden = model.HiddenStatesIncremental(prompt, cache).select(1, prompt_length - 1);
  last_hidden = last_hidden.expand({num_samples, last_hidden.size(1)});
  cache.SelectRows(torch::zeros({num_samples}, torch::kLong));

  std::vector<GeneratedSequence> results(static_cast<size_t>(num_samples));
  std::vector<int64_t> active(static_cast<size_t>(num_samples));  // batch row -> sample index
  for (int64_t i = 0; i < num_samples; ++i) active[static_cast<size_t>(i)] = i;

  for (int64_t step = 0; step < budget && !active.empty(); ++step) {
    const auto logits = torch::matmul(last_hidden, embedding.t()).to(torch::kCPU, torch::kFloat);  // (M, V)
    const auto next = SampleNext(logits, options, generator).contiguous();                         // (M,)
    const auto* next_ids = next.data_ptr<int64_t>();
    std::vector<int64_t> still_active, kept_rows, kept_ids;
    for (size_t row = 0; row < active.size(); ++row) {
      GeneratedSequence& result = results[static_cast<size_t>(active[row])];
      if (next_ids[row] == eos_id) {
        result.finish_reason = FinishReason::kEos;
        continue;
      }
      result.ids.push_back(next_ids[row]);
      still_active.push_back(active[row]);
      kept_rows.push_back(static_cast<int64_t>(row));
      kept_ids.push_back(next_ids[row]);
    }
    active = std::move(still_active);
    if (active.empty() || step + 1 == budget) break;  // the last token needs no forward
    if (kept_rows.size() < static_cast<size_t>(next.size(0))) cache.SelectRows(torch::tensor(kept_rows, torch::kLong));
    const auto new_ids = torch::tensor(kept_ids, torch::kLong).view({-1, 1}).to(device);
    last_hidden = model.HiddenStatesIncremental(new_ids, cache).select(1, 0);  // (M', H)
  }
  const FinishReason cut = budget == options.max_new_tokens ? FinishReason::kMaxNewTokens : FinishReason::kContextFull;
  for (int64_t index : active) results[static_cast<size_t>(index)].finish_reason = cut;
  return results;
}

std::vector<TokenId> Generate(CausalLm& model, const std::vector<TokenId>& prompt_ids, TokenId eos_id,
                              const SamplingOptions& options) {
  return std::move(GenerateSamples(model, prompt_ids, eos_id, options, 1).front().ids);
}

}  // namespace dpo
