// Conversational preference rows: "prompt", "chosen" and "rejected" as lists of
// {"role", "content"} messages, or TRL's implicit-prompt form (no "prompt": "chosen" and
// "rejected" are whole conversations whose shared leading messages are the prompt).
#pragma once

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/data/chat_template.h"

namespace dpo {

// Stands for each invalid UTF-8 byte of a line before JSON parsing (preference_row.cc): U+FDD0,
// a noncharacter that real text does not contain.
inline constexpr std::string_view kInvalidUtf8Sentinel = "\xEF\xB7\x90";

struct ConversationRow {
  std::vector<ChatMessage> prompt;  // may be empty (explicit "prompt": [])
  ChatMessage chosen;               // role "assistant"
  ChatMessage rejected;             // role "assistant"
};

// Whether the row is conversational: the first present of "prompt", "chosen", "rejected" is an
// array (TRL's rule). Other rows keep the string form and its messages.
bool IsConversationalRow(const nlohmann::json& row);

// Reads a conversational row (an object). On failure appends every problem found, e.g.
//   field "prompt": message 1: "role": "tool" is not supported (system, user, assistant)
//   field "chosen": expected one assistant message, found 2 messages
//   fields "chosen" and "rejected": share no leading messages (...)
//   fields "chosen" and "rejected": differ at message 1, before the last assistant turn (...)
// and returns nullopt. `check_utf8`: the line had invalid bytes (kInvalidUtf8Sentinel marks them);
// `*found_invalid_utf8` is set when a message content holds one.
std::optional<ConversationRow> ReadConversationRow(const nlohmann::json& row, bool check_utf8,
                                                   bool* found_invalid_utf8,
                                                   std::vector<std::string>* problems);

}  // namespace dpo
