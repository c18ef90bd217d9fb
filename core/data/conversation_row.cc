// Validation of message lists and the implicit-prompt split of conversational rows.
#include "core/data/conversation_row.h"

#include <algorithm>
#include <utility>

namespace dpo {
namespace {

using nlohmann::json;

constexpr const char* kFields[] = {"prompt", "chosen", "rejected"};
const std::string kBothFields = "fields \"chosen\" and \"rejected\": ";

std::string FieldPrefix(const std::string& name) { return "field \"" + name + "\": "; }

std::string MessagePrefix(const std::string& field, std::size_t index) {
  return FieldPrefix(field) + "message " + std::to_string(index) + ": ";
}

// The messages of `name`, or nullopt after recording every problem in them.
std::optional<std::vector<ChatMessage>> Messages(const json& row, const std::string& name, bool check_utf8,
                                                 bool* found_invalid_utf8, std::vector<std::string>* problems) {
  const auto it = row.find(name);
  if (it == row.end()) {
    problems->push_back(FieldPrefix(name) + "missing");
    return std::nullopt;
  }
  if (!it->is_array()) {
    problems->push_back(FieldPrefix(name) + "expected an array of messages (the row is conversational), found " +
                        it->type_name());
    return std::nullopt;
  }
  std::vector<ChatMessage> messages;
  bool ok = true;
  for (std::size_t i = 0; i < it->size(); ++i) {
    const json& element = (*it)[i];
    const std::string prefix = MessagePrefix(name, i);
    if (!element.is_object()) {
      problems->push_back(prefix + "expected an object with \"role\" and \"content\", found " + element.type_name());
      ok = false;
      continue;
    }
    ChatMessage message;
    for (const char* key : {"role", "content"}) {
      const auto value = element.find(key);
      const std::string key_prefix = prefix + "\"" + key + "\": ";
      if (value == element.end()) {
        problems->push_back(key_prefix + "missing");
        ok = false;
      } else if (!value->is_string()) {
        problems->push_back(key_prefix + "expected a string, found " + value->type_name());
        ok = false;
      } else if (check_utf8 && value->get_ref<const std::string&>().find(kInvalidUtf8Sentinel) != std::string::npos) {
        *found_invalid_utf8 = true;
        problems->push_back(key_prefix + "invalid UTF-8 at byte " +
                            std::to_string(value->get_ref<const std::string&>().find(kInvalidUtf8Sentinel)));
        ok = false;
      } else {
        (std::string(key) == "role" ? message.role : message.content) = value->get<std::string>();
      }
    }
    if (!message.role.empty() && message.role != "system" && message.role != "user" && message.role != "assistant") {
      problems->push_back(prefix + "\"role\": " + json(message.role).dump() +
                          " is not supported (system, user, assistant)");
      ok = false;
    }
    messages.push_back(std::move(message));
  }
  if (!ok) return std::nullopt;
  return messages;
}

bool SameMessage(const ChatMessage& a, const ChatMessage& b) { return a.role == b.role && a.content == b.content; }

// A prompt answered by the completion must not end with an assistant turn.
bool PromptEndsWell(const std::vector<ChatMessage>& prompt, const std::string& prefix,
                    std::vector<std::string>* problems) {
  if (prompt.empty() || prompt.back().role != "assistant") return true;
  problems->push_back(prefix + "the prompt must end with a \"user\" or \"system\" message, found \"assistant\"");
  return false;
}

// The completion message of `name`: its last message, which must be a non-empty assistant turn.
bool CompletionEndsWell(const std::vector<ChatMessage>& messages, const std::string& name,
                        std::vector<std::string>* problems) {
  const ChatMessage& last = messages.back();
  if (last.role != "assistant") {
    problems->push_back(FieldPrefix(name) + "the last message must be from \"assistant\", found \"" + last.role +
                        "\"");
    return false;
  }
  if (last.content.empty()) {
    problems->push_back(MessagePrefix(name, messages.size() - 1) + "\"content\": empty");
    return false;
  }
  return true;
}

}  // namespace

bool IsConversationalRow(const json& row) {
  for (const char* name : kFields) {
    if (const auto it = row.find(name); it != row.end()) return it->is_array();
  }
  return false;
}

std::optional<ConversationRow> ReadConversationRow(const json& row, bool check_utf8, bool* found_invalid_utf8,
                                                   std::vector<std::string>* problems) {
  const std::size_t problems_before = problems->size();
  const bool explicit_prompt = row.contains("prompt");
  std::optional<std::vector<ChatMessage>> prompt;
  if (explicit_prompt) prompt = Messages(row, "prompt", check_utf8, found_invalid_utf8, problems);
  auto chosen = Messages(row, "chosen", check_utf8, found_invalid_utf8, problems);
  auto rejected = Messages(row, "rejected", check_utf8, found_invalid_utf8, problems);
  for (const auto& [name, messages] : {std::pair{"chosen", &chosen}, std::pair{"rejected", &rejected}}) {
    if (*messages && (*messages)->empty()) {
      problems->push_back(FieldPrefix(name) + "empty");
      messages->reset();
    }
  }
  if (problems->size() != problems_before || !chosen || !rejected || (explicit_prompt && !prompt)) {
    return std::nullopt;
  }

  ConversationRow result;
  if (explicit_prompt) {
    bool ok = PromptEndsWell(*prompt, FieldPrefix("prompt"), problems);
    for (const auto& [name, messages] : {std::pair{"chosen", &*chosen}, std::pair{"rejected", &*rejected}}) {
      if (messages->size() != 1) {
        problems->push_back(FieldPrefix(name) + "expected one assistant message, found " +
                            std::to_string(messages->size()) + " messages");
        ok = false;
      } else {
        ok = CompletionEndsWell(*messages, name, problems) && ok;
      }
    }
    if (!ok) return std::nullopt;
    result.prompt = std::move(*prompt);
  } else {
    // The shared leading messages are the prompt; each conversation keeps at least its last one.
    const std::size_t common = std::min(chosen->size(), rejected->size());
    std::size_t equal = 0;
    while (equal < common && SameMessage((*chosen)[equal], (*rejected)[equal])) ++equal;
    // Identical conversations keep their last message as completions (then dropped as equal).
    const std::size_t shared = std::min(equal, common - 1);
    if (shared == 0) {
      problems->push_back(kBothFields +
                          "share no leading messages (without \"prompt\", the messages both conversations "
                          "start with are the prompt)");
      return std::nullopt;
    }
    if (chosen->size() != shared + 1 || rejected->size() != shared + 1) {
      problems->push_back(kBothFields + "differ at message " + std::to_string(equal) +
                          ", before the last assistant turn (without \"prompt\", only the final assistant "
                          "message may differ)");
      return std::nullopt;
    }
    bool ok = CompletionEndsWell(*chosen, "chosen", problems);
    ok = CompletionEndsWell(*rejected, "rejected", problems) && ok;
    result.prompt.assign(chosen->begin(), chosen->begin() + static_cast<std::ptrdiff_t>(shared));
    ok = PromptEndsWell(result.prompt, kBothFields, problems) && ok;
    if (!ok) return std::nullopt;
  }
  result.chosen = std::move(chosen->back());
  result.rejected = std::move(rejected->back());
  return result;
}

}  // namespace dpo
