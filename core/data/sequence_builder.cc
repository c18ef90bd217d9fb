// Tokenise, add BOS/EOS, truncate and check prompts and completions.
#include "core/data/sequence_builder.h"

#include <algorithm>
#include <utility>

#include "core/common/error.h"
#include "core/common/problems.h"

namespace dpo {

SequenceBuilder::SequenceBuilder(const Tokenizer& tokenizer, const DataOptions& options)
    : tokenizer_(tokenizer), options_(options) {
  std::vector<std::string> problems;
  if (options_.max_length < 1) {
    problems.push_back("data.max_length=" + std::to_string(options_.max_length) + " must be >= 1");
  }
  if (options_.max_prompt_length < 1) {
    problems.push_back("data.max_prompt_length=" + std::to_string(options_.max_prompt_length) + " must be >= 1");
  }
  if (!problems.empty()) throw InvalidInput(JoinProblems(problems));
  chat_format_ = ResolveChatFormat(options_.chat_template, tokenizer_);
}

std::vector<TokenId> SequenceBuilder::PromptFromText(std::string_view text) const {
  std::vector<TokenId> ids;
  if (const auto bos = tokenizer_.BosId()) ids.push_back(*bos);
  const std::vector<TokenId> encoded = tokenizer_.Encode(text);
  ids.insert(ids.end(), encoded.begin(), encoded.end());
  return ids;
}

std::vector<TokenId> SequenceBuilder::PromptFromIds(std::vector<TokenId> ids) const {
  const auto bos = tokenizer_.BosId();
  if (bos && (ids.empty() || ids.front() != *bos)) ids.insert(ids.begin(), *bos);
  return ids;
}

std::vector<TokenId> SequenceBuilder::CompletionFromText(std::string_view text) const {
  std::vector<TokenId> ids = tokenizer_.Encode(text);
  ids.push_back(tokenizer_.EosId());
  return ids;
}

std::vector<TokenId> SequenceBuilder::CompletionFromIds(std::vector<TokenId> ids) const {
  if (ids.empty() || ids.back() != tokenizer_.EosId()) ids.push_back(tokenizer_.EosId());
  return ids;
}

std::vector<TokenId> SequenceBuilder::PromptFromMessages(const std::vector<ChatMessage>& messages) const {
  const std::string text = chat_format_.RenderPrompt(messages);
  if (chat_format_.add_tokenizer_bos) return PromptFromText(text);
  return tokenizer_.Encode(text);  // a template that wants a BOS writes it (Llama-3)
}

std::vector<TokenId> SequenceBuilder::CompletionFromMessage(const ChatMessage& message) const {
  const std::string text = chat_format_.RenderCompletion(message);
  if (chat_format_.append_eos) return CompletionFromText(text);
  return tokenizer_.Encode(text);  // ends with the end-of-turn token: no EOS after it
}

std::vector<TokenId> SequenceBuilder::TruncatePrompt(std::vector<TokenId> prompt_ids) const {
  const auto limit = static_cast<std::size_t>(options_.max_prompt_length);
  if (prompt_ids.size() <= limit) return prompt_ids;
  if (options_.truncation_mode == TruncationMode::kKeepStart) {
    prompt_ids.resize(limit);  // a leading BOS is among the first tokens
    return prompt_ids;
  }
  const auto bos = tokenizer_.BosId();
  const bool keep_bos = bos && prompt_ids.front() == *bos;
  std::vector<TokenId> kept;
  kept.reserve(limit);
  if (keep_bos) kept.push_back(*bos);
  const std::size_t tail = limit - kept.size();
  kept.insert(kept.end(), prompt_ids.end() - static_cast<std::ptrdiff_t>(tail), prompt_ids.end());
  return kept;
}

std::string SequenceBuilder::PromptProblem(const std::vector<TokenId>& prompt_ids) const {
  if (!prompt_ids.empty()) return "";
  return tokenizer_.BosId() ? "empty" : "empty and the tokenizer has no BOS token";
}

std::string SequenceBuilder::EmptyAfterTruncationReason() const {
  return "empty after truncation to max_length=" + std::to_string(options_.max_length);
}

SequenceOutcome SequenceBuilder::BuildSequence(std::vector<TokenId> prompt_ids,
                                               std::vector<TokenId> completion_ids) const {
  SequenceOutcome outcome;
  if (std::string problem = PromptProblem(prompt_ids); !problem.empty()) {
    outcome.status = BuildStatus::kInvalid;
    outcome.field = "prompt";
    outcome.reason = std::move(problem);
    return outcome;
  }
  if (completion_ids.empty()) {
    outcome.status = BuildStatus::kInvalid;
    outcome.field = "completion";
    outcome.reason = "empty";
    return outcome;
  }
  prompt_ids = TruncatePrompt(std::move(prompt_ids));
  const int64_t budget = options_.max_length - static_cast<int64_t>(prompt_ids.size());
  if (budget <= 0) {
    outcome.status = BuildStatus::kEmptyAfterTruncation;
    outcome.field = "completion";
    outcome.reason = EmptyAfterTruncationReason();
    return outcome;
  }
  if (static_cast<int64_t>(completion_ids.size()) > budget) completion_ids.resize(budget);
  outcome.sequence.prompt_ids = std::move(prompt_ids);
  outcome.sequence.completion_ids = std::move(completion_ids);
  return outcome;
}

PairOutcome SequenceBuilder::BuildPair(std::vector<TokenId> prompt_ids,
                                       std::vector<TokenId> chosen_ids,
                                       std::vector<TokenId> rejected_ids,
                                       int64_t source_line) const {
  PairOutcome outcome;
  auto fail = [&outcome](BuildStatus status, std::string field, std::string reason) {
    outcome.status = status;
    outcome.field = std::move(field);
    outcome.reason = std::move(reason);
    return outcome;
  };
  if (std::string problem = PromptProblem(prompt_ids); !problem.empty()) {
    return fail(BuildStatus::kInvalid, "prompt", std::move(problem));
  }
  if (chosen_ids.empty()) return fail(BuildStatus::kInvalid, "chosen", "empty");
  if (rejected_ids.empty()) return fail(BuildStatus::kInvalid, "rejected", "empty");
  const bool equal_before_truncation = chosen_ids == rejected_ids;
  outcome.before_truncation = {static_cast<int64_t>(prompt_ids.size()), static_cast<int64_t>(chosen_ids.size()),
                               static_cast<int64_t>(rejected_ids.size())};

  prompt_ids = TruncatePrompt(std::move(prompt_ids));
  const int64_t budget = options_.max_length - static_cast<int64_t>(prompt_ids.size());
  // Both completions share the budget, so both are empty or neither is.
  if (budget <= 0) {
    return fail(BuildStatus::kEmptyAfterTruncation, "chosen", EmptyAfterTruncationReason());
  }
  if (static_cast<int64_t>(chosen_ids.size()) > budget) chosen_ids.resize(budget);
  if (static_cast<int64_t>(rejected_ids.size()) > budget) rejected_ids.resize(budget);
  if (chosen_ids == rejected_ids) {
    return fail(BuildStatus::kChosenEqualsRejected, "",
                equal_before_truncation
                    ? "chosen equals rejected"
                    : "chosen equals rejected after truncation to max_length=" +
                          std::to_string(options_.max_length));
  }
  outcome.pair.prompt_ids = std::move(prompt_ids);
  outcome.pair.chosen_ids = std::move(chosen_ids);
  outcome.pair.rejected_ids = std::move(rejected_ids);
  outcome.pair.source_line = source_line;
  return outcome;
}

SequenceOutcome SequenceBuilder::SequenceFromText(std::string_view prompt,
                                                  std::string_view completion) const {
  return BuildSequence(PromptFromText(prompt), CompletionFromText(completion));
}

const char* BuildStatusName(BuildStatus status) {
  switch (status) {
    case BuildStatus::kOk: return "ok";
    case BuildStatus::kInvalid: return "invalid_row";
    case BuildStatus::kEmptyAfterTruncation: return "empty_after_truncation";
    case BuildStatus::kChosenEqualsRejected: return "chosen_equals_rejected";
  }
  return "unknown";
}

}  // namespace dpo
