// Options of the preference data pipeline (the `data` section of the job config): sequence
// limits, truncation side and what to do with rows that fail validation.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace dpo {

// Which end of an over-long prompt survives truncation. A leading BOS always stays first.
enum class TruncationMode {
  kKeepStart,  // "keep_start": keep the first max_prompt_length tokens
  kKeepEnd,    // "keep_end": keep the last tokens (the end of a prompt is closest to the answer)
};

// What the reader does with a row that fails validation.
enum class BadRowPolicy {
  kError,  // "error": collect every problem of the file, then fail with all of them
  kSkip,   // "skip": drop the row, count it and list it in the rejects file
};

// How conversational rows are rendered (data.chat_template; the formats are in chat_template.h).
enum class ChatTemplateKind {
  kAuto,    // "auto": the family of the tokenizer's chat_template, else plain
  kChatMl,  // "chatml": <|im_start|>role\ncontent<|im_end|>\n (Qwen, SmolLM2-Instruct)
  kLlama3,  // "llama3": <|begin_of_text|><|start_header_id|>role<|end_header_id|>\n\ncontent<|eot_id|>
  kPlain,   // "plain": "User: content\n", generation prompt "Assistant:"
};

struct DataOptions {
  // Upper bound on prompt + completion tokens of one sequence. Default: 1024 (TRL's).
  int64_t max_length = 1024;
  // Upper bound on prompt tokens (BOS included); must leave room for a completion token.
  // Default: 512.
  int64_t max_prompt_length = 512;
  // Default: kKeepEnd.
  TruncationMode truncation_mode = TruncationMode::kKeepEnd;
  // Default: kError.
  BadRowPolicy on_bad_row = BadRowPolicy::kError;
  // How many problems the error of `on_bad_row: error` lists (the count is always complete).
  // Default: 20.
  int64_t max_reported_problems = 20;
  // How conversational rows (messages instead of strings) are rendered; see chat_template.h.
  // Default: kAuto.
  ChatTemplateKind chat_template = ChatTemplateKind::kAuto;
  // A longer line is a bad row (never parsed), so one runaway line cannot exhaust memory.
  // Default: 16 MiB.
  int64_t max_line_bytes = 16 << 20;

  // Every problem at once, each naming the key, its value and the limit, e.g.
  // `data.max_prompt_length=2000 must be < data.max_length=1024`. Empty when valid.
  std::vector<std::string> Validate() const;
};

// Config names of the enums. Parse* throw Error(kInvalidInput) naming the key, the value and
// the accepted names, e.g. `data.truncation_mode="left" must be one of: keep_start, keep_end`.
const char* TruncationModeName(TruncationMode mode);
TruncationMode ParseTruncationMode(std::string_view name);
const char* BadRowPolicyName(BadRowPolicy policy);
BadRowPolicy ParseBadRowPolicy(std::string_view name);
const char* ChatTemplateKindName(ChatTemplateKind kind);
ChatTemplateKind ParseChatTemplateKind(std::string_view name);  // "auto", "chatml", "llama3", "plain"

}  // namespace dpo
