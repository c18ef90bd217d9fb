// Validation and config names of the data options.
#include "core/data/data_options.h"

#include <string>

#include "core/common/error.h"

namespace dpo {

std::vector<std::string> DataOptions::Validate() const {
  std::vector<std::string> problems;
  // A sequence needs one prompt token (the first completion token is predicted from it) and
  // one completion token.
  if (max_length < 2) {
    problems.push_back("data.max_length=" + std::to_string(max_length) + " must be >= 2");
  }
  if (max_prompt_length < 1) {
    problems.push_back("data.max_prompt_length=" + std::to_string(max_prompt_length) +
                       " must be >= 1");
  }
  if (max_prompt_length >= max_length) {
    problems.push_back("data.max_prompt_length=" + std::to_string(max_prompt_length) +
                       " must be < data.max_length=" + std::to_string(max_length));
  }
  if (max_line_bytes < 1) {
    problems.push_back("data.max_line_bytes=" + std::to_string(max_line_bytes) + " must be >= 1");
  }
  if (max_reported_problems < 1) {
    problems.push_back("data.max_reported_problems=" + std::to_string(max_reported_problems) +
                       " must be >= 1");
  }
  return problems;
}

const char* TruncationModeName(TruncationMode mode) {
  switch (mode) {
    case TruncationMode::kKeepStart: return "keep_start";
    case TruncationMode::kKeepEnd: return "keep_end";
  }
  return "unknown";
}

TruncationMode ParseTruncationMode(std::string_view name) {
  if (name == "keep_start") return TruncationMode::kKeepStart;
  if (name == "keep_end") return TruncationMode::kKeepEnd;
  throw InvalidInput("data.truncation_mode=\"" + std::string(name) +
                     "\" must be one of: keep_start, keep_end");
}

const char* BadRowPolicyName(BadRowPolicy policy) {
  switch (policy) {
    case BadRowPolicy::kError: return "error";
    case BadRowPolicy::kSkip: return "skip";
  }
  return "unknown";
}

BadRowPolicy ParseBadRowPolicy(std::string_view name) {
  if (name == "error") return BadRowPolicy::kError;
  if (name == "skip") return BadRowPolicy::kSkip;
  throw InvalidInput("data.on_bad_row=\"" + std::string(name) + "\" must be one of: error, skip");
}

const char* ChatTemplateKindName(ChatTemplateKind kind) {
  switch (kind) {
    case ChatTemplateKind::kAuto: return "auto";
    case ChatTemplateKind::kChatMl: return "chatml";
    case ChatTemplateKind::kLlama3: return "llama3";
    case ChatTemplateKind::kPlain: return "plain";
  }
  return "unknown";
}

ChatTemplateKind ParseChatTemplateKind(std::string_view name) {
  for (const ChatTemplateKind kind : {ChatTemplateKind::kAuto, ChatTemplateKind::kChatMl,
                                      ChatTemplateKind::kLlama3, ChatTemplateKind::kPlain}) {
    if (name == ChatTemplateKindName(kind)) return kind;
  }
  throw InvalidInput("data.chat_template=\"" + std::string(name) +
                     "\" must be one of: auto, chatml, llama3, plain");
}

}  // namespace dpo
