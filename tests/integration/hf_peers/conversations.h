// Generated chat conversations for comparing chat-template renderings with transformers: the
// shapes preference data has (with and without a system message, one to four user turns,
// earlier assistant turns) and contents that stress templates and tokenizers (non-Latin
// scripts, emoji, combining accents, code, several lines, whitespace at either end, empty and
// whitespace-only contents).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/data/chat_template.h"

namespace dpo::testing {

struct Conversation {
  // [system] user (assistant user)*: what the completion answers; ends with a user turn.
  std::vector<ChatMessage> prompt;
  ChatMessage completion;  // role "assistant"
};

// `count` conversations, the same for the same seed. The first ten are fixed edge cases (a
// single user turn; empty, whitespace-only and padded contents in every position; non-Latin
// scripts), the rest random (a content is whitespace-padded or empty one time in ten).
std::vector<Conversation> GenerateConversations(int count, uint64_t seed);

// {"prompt": [{"role", "content"}, ...], "completion": {"role", "content"}}: the input lines of
// hf_chat_template.py.
nlohmann::json ConversationJson(const Conversation& conversation);

// `text` without leading and trailing ASCII whitespace (" \t\n\r\v\f"): Jinja's `trim` for the
// generated contents, whose only whitespace is ASCII.
std::string Trim(const std::string& text);

}  // namespace dpo::testing
