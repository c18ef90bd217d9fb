// Tokenisation and truncation of prompts and completions: the ONE implementation shared by the
// trainer, the reference server's precompute and reward scoring, so all of them see the same ids.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/data/chat_template.h"
#include "core/data/data_options.h"
#include "core/tokenizer/tokenizer.h"

namespace dpo {

// One prompt + completion, ready to collate. Invariants: prompt_ids.size() >= 1 (the first
// completion token is predicted from the last prompt token), completion_ids.size() >= 1, and
// prompt + completion <= max_length.
struct TokenizedSequence {
  std::vector<TokenId> prompt_ids;
  std::vector<TokenId> completion_ids;
};

// A preference pair sharing one prompt; same invariants for prompt + chosen and prompt + rejected.
struct TokenizedPair {
  std::vector<TokenId> prompt_ids;
  std::vector<TokenId> chosen_ids;
  std::vector<TokenId> rejected_ids;
  int64_t source_line = 0;  // 1-based line in the data file; 0 when not read from a file
};

enum class BuildStatus {
  kOk,
  kInvalid,               // the input breaks a rule (an empty prompt without BOS): a bad row
  kEmptyAfterTruncation,  // the prompt fills max_length: no room for a completion token
  kChosenEqualsRejected,  // nothing to prefer: chosen and rejected ids are equal after truncation
};

// `field` names the part the reason is about ("prompt", "completion", "chosen", "rejected"; empty
// for chosen-equals-rejected); callers that read "<field>_ids" rows add the suffix themselves.
struct SequenceOutcome {
  BuildStatus status = BuildStatus::kOk;
  TokenizedSequence sequence;  // meaningful only when status == kOk
  std::string field;
  std::string reason;  // e.g. "empty after truncation to max_length=512"; empty when kOk
};

// Token counts of a pair's parts before truncation (prompt with its BOS, completions with their
// EOS): what `dpo-data render` compares with the kept ids to say what was cut.
struct PartLengths {
  int64_t prompt = 0;
  int64_t chosen = 0;
  int64_t rejected = 0;
};

struct PairOutcome {
  BuildStatus status = BuildStatus::kOk;
  TokenizedPair pair;  // meaningful only when status == kOk
  std::string field;
  std::string reason;
  PartLengths before_truncation;  // set once the parts are valid (kOk and the drop statuses)
};

// Rules (docs/architecture.md, "One DPO step"):
//  - prompt and completion are tokenised separately, then concatenated (no merge across them);
//  - prompt = [BOS if the tokenizer has one] + ids, never a double BOS;
//  - completion = ids + [EOS], EOS not doubled for pre-tokenised ids already ending with it;
//  - a prompt longer than max_prompt_length keeps its first (keep_start) or last (keep_end)
//    tokens; a leading BOS stays first in both modes;
//  - the completion is then cut to max_length - prompt length, keeping its start;
//  - conversational rows are rendered with chat_format() (chat_template.h): the prompt ends with
//    the generation prompt, the completion with the end-of-turn token (templated families: no
//    tokenizer BOS or EOS added) or with EOS (plain).
// Thread safety: const methods only; safe to share across threads. Keeps a reference to the
// tokenizer, which must outlive the builder.
class SequenceBuilder {
 public:
  // Throws Error(kInvalidInput) when max_length < 1 or max_prompt_length < 1, or when the chat
  // template cannot be used with the tokenizer (ResolveChatFormat). Unlike
  // DataOptions::Validate it accepts max_prompt_length >= max_length (a scorer may want the whole
  // window); then a prompt that fills max_length leaves the completion empty (kEmptyAfterTruncation).
  SequenceBuilder(const Tokenizer& tokenizer, const DataOptions& options);

  // Step 1: ids of each part, untruncated. `text` must be valid UTF-8; pre-tokenised ids must
  // lie in [0, VocabSize()) (the reader checks both).
  std::vector<TokenId> PromptFromText(std::string_view text) const;
  std::vector<TokenId> PromptFromIds(std::vector<TokenId> ids) const;
  std::vector<TokenId> CompletionFromText(std::string_view text) const;
  std::vector<TokenId> CompletionFromIds(std::vector<TokenId> ids) const;
  // Conversational rows: the messages before the completion, and the one assistant message.
  std::vector<TokenId> PromptFromMessages(const std::vector<ChatMessage>& messages) const;
  std::vector<TokenId> CompletionFromMessage(const ChatMessage& message) const;

  // Step 2: truncation and the checks, on the ids of step 1.
  SequenceOutcome BuildSequence(std::vector<TokenId> prompt_ids,
                                std::vector<TokenId> completion_ids) const;
  PairOutcome BuildPair(std::vector<TokenId> prompt_ids, std::vector<TokenId> chosen_ids,
                        std::vector<TokenId> rejected_ids, int64_t source_line) const;

  // Both steps for text (reward scoring, precompute of single sequences).
  SequenceOutcome SequenceFromText(std::string_view prompt, std::string_view completion) const;

  // The prompt truncation alone (exposed for tests and tools).
  std::vector<TokenId> TruncatePrompt(std::vector<TokenId> prompt_ids) const;

  const DataOptions& options() const { return options_; }
  const Tokenizer& tokenizer() const { return tokenizer_; }
  const ChatFormat& chat_format() const { return chat_format_; }

 private:
  // Checks a prompt that is about to be truncated; empty string when it is usable.
  std::string PromptProblem(const std::vector<TokenId>& prompt_ids) const;
  std::string EmptyAfterTruncationReason() const;

  const Tokenizer& tokenizer_;
  DataOptions options_;
  ChatFormat chat_format_;
};

// Lower-case name of a status: "ok", "invalid_row", "empty_after_truncation",
// "chosen_equals_rejected" (the keys of PreferenceDataset::dropped_by_reason).
const char* BuildStatusName(BuildStatus status);

}  // namespace dpo
