// The built-in chat template families, their detection and their check against a tokenizer.
#include "core/data/chat_template.h"

#include <nlohmann/json.hpp>

#include "core/common/error.h"
#include "core/tokenizer/bpe_tokenizer.h"

namespace dpo {
namespace {

bool Contains(std::string_view text, std::string_view needle) {
  return text.find(needle) != std::string_view::npos;
}

std::string Capitalized(std::string text) {
  if (!text.empty() && text[0] >= 'a' && text[0] <= 'z') text[0] = static_cast<char>(text[0] - 'a' + 'A');
  return text;
}

}  // namespace

std::string ChatFormat::Header(const std::string& role) const {
  switch (kind) {
    case ChatTemplateKind::kChatMl: return "<|im_start|>" + role + "\n";
    case ChatTemplateKind::kLlama3: return "<|start_header_id|>" + role + "<|end_header_id|>\n\n";
    default: return Capitalized(role) + ": ";
  }
}

std::string ChatFormat::RenderPrompt(const std::vector<ChatMessage>& messages) const {
  std::string text = bos_text;
  for (const ChatMessage& message : messages) {
    text += Header(message.role) + message.content + end_of_turn + separator;
  }
  return text + generation_prompt;
}

std::string ChatFormat::RenderCompletion(const ChatMessage& message) const {
  return completion_prefix + message.content + end_of_turn;
}

std::vector<std::string> ChatFormat::MarkerTokens() const {
  switch (kind) {
    case ChatTemplateKind::kChatMl: return {"<|im_start|>", "<|im_end|>"};
    case ChatTemplateKind::kLlama3:
      return {"<|begin_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"};
    default: return {};
  }
}

ChatFormat MakeChatFormat(ChatTemplateKind kind) {
  ChatFormat format;
  format.kind = kind;
  switch (kind) {
    case ChatTemplateKind::kChatMl:
      format.end_of_turn = "<|im_end|>";
      format.separator = "\n";
      format.generation_prompt = "<|im_start|>assistant\n";
      break;
    case ChatTemplateKind::kLlama3:
      format.bos_text = "<|begin_of_text|>";
      format.end_of_turn = "<|eot_id|>";
      format.generation_prompt = "<|start_header_id|>assistant<|end_header_id|>\n\n";
      break;
    case ChatTemplateKind::kPlain:
      // "User: hi\nAssistant:" + " Hello!" + EOS, as the string rows of README's example.
      format.separator = "\n";
      format.generation_prompt = "Assistant:";
      format.completion_prefix = " ";
      format.add_tokenizer_bos = true;
      format.append_eos = true;
      break;
    case ChatTemplateKind::kAuto:
      throw Error(ErrorKind::kInternal, "MakeChatFormat: resolve data.chat_template=auto first");
  }
  return format;
}

ChatTemplateKind DetectChatTemplate(std::string_view chat_template) {
  if (Contains(chat_template, "<|im_start|>") && Contains(chat_template, "<|im_end|>")) {
    return ChatTemplateKind::kChatMl;
  }
  if (Contains(chat_template, "<|start_header_id|>") && Contains(chat_template, "<|eot_id|>")) {
    return ChatTemplateKind::kLlama3;
  }
  return ChatTemplateKind::kPlain;
}

std::optional<std::string> TokenizerChatTemplate(const Tokenizer& tokenizer) {
  const auto* bpe = dynamic_cast<const BpeTokenizer*>(&tokenizer);
  if (bpe == nullptr) return std::nullopt;
  for (const auto& [name, contents] : bpe->source_files()) {
    if (name != kHfTokenizerConfigFileName) continue;
    // The loader has already parsed this file; a failure here cannot name anything new.
    const nlohmann::json config = nlohmann::json::parse(contents, nullptr, false);
    if (!config.is_object()) return std::nullopt;
    const auto it = config.find("chat_template");
    if (it == config.end()) return std::nullopt;
    if (it->is_string()) return it->get<std::string>();
    if (!it->is_array()) return std::nullopt;
    const nlohmann::json* chosen = nullptr;
    for (const nlohmann::json& entry : *it) {
      if (!entry.is_object() || !entry.contains("template") || !entry["template"].is_string()) continue;
      if (chosen == nullptr || entry.value("name", "") == "default") chosen = &entry;
      if (entry.value("name", "") == "default") break;
    }
    if (chosen != nullptr) return (*chosen)["template"].get<std::string>();
    return std::nullopt;
  }
  return std::nullopt;
}

ChatFormat ResolveChatFormat(ChatTemplateKind requested, const Tokenizer& tokenizer) {
  ChatTemplateKind kind = requested;
  std::string setting = std::string("data.chat_template=") + ChatTemplateKindName(requested);
  if (kind == ChatTemplateKind::kAuto) {
    const std::optional<std::string> chat_template = TokenizerChatTemplate(tokenizer);
    kind = chat_template ? DetectChatTemplate(*chat_template) : ChatTemplateKind::kPlain;
    setting += std::string(" (") + ChatTemplateKindName(kind) + ", from tokenizer_config.json)";
  }
  ChatFormat format = MakeChatFormat(kind);
  for (const std::string& marker : format.MarkerTokens()) {
    const std::size_t ids = tokenizer.Encode(marker).size();
    if (ids == 1) continue;
    throw InvalidInput(setting + ": the tokenizer \"" + tokenizer.Name() + "\" has no token \"" + marker +
                       "\" (it encodes to " + std::to_string(ids) +
                       " ids); use a tokenizer with the template's special tokens or data.chat_template=plain");
  }
  return format;
}

}  // namespace dpo
