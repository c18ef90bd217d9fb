// Built-in chat templates for conversational preference rows: ChatML (Qwen), Llama-3 and a plain
// "User: ...\nAssistant: ..." template, chosen from tokenizer_config.json's chat_template or forced
// by data.chat_template. They render text; SequenceBuilder tokenises it (special-token strings in
// the text become their ids because tokenizers match added tokens before splitting).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/data/data_options.h"  // ChatTemplateKind
#include "core/tokenizer/tokenizer.h"

namespace dpo {

struct ChatMessage {
  std::string role;  // "system", "user" or "assistant" (the row reader checks)
  std::string content;
};

// How one template family renders a conversation. Rendering of messages m1..mn:
//   bos_text + turn(m1) + ... + turn(mn) + generation_prompt          (the prompt)
//   completion_prefix + content + end_of_turn [+ tokenizer EOS id]    (one assistant completion)
// where turn(m) = header(m.role) + m.content + end_of_turn + separator.
// Templated families (ChatML, Llama-3) end a completion with their end-of-turn token and add no
// EOS: the end-of-turn token is where a chat model stops (it is Qwen2-Instruct's and
// Llama-3-Instruct's EOS anyway). Their text starts with whatever the template itself writes
// (Llama-3's <|begin_of_text|> is its BOS), so the tokenizer's BOS is never added in front.
// The plain template has no markers: like string rows, the tokenizer's BOS (if any) starts the
// prompt and its EOS ends the completion.
// No default system message is inserted (Qwen2's and Llama-3.1's own templates add one), and
// content is used as given (Llama-3's own template trims it).
struct ChatFormat {
  ChatTemplateKind kind = ChatTemplateKind::kPlain;
  std::string bos_text;           // "<|begin_of_text|>" for Llama-3, else empty
  std::string end_of_turn;        // "<|im_end|>", "<|eot_id|>"; empty for plain
  std::string separator;          // after end_of_turn between turns: "\n" (ChatML, plain)
  std::string generation_prompt;  // opens the assistant turn the completion answers
  std::string completion_prefix;  // before the completion's content: " " for plain
  bool add_tokenizer_bos = false;  // plain only
  bool append_eos = false;         // plain only

  std::string Header(const std::string& role) const;
  // The prompt text: every message as a whole turn, then the generation prompt.
  std::string RenderPrompt(const std::vector<ChatMessage>& messages) const;
  // The completion text of one assistant message (without the EOS id of `append_eos`).
  std::string RenderCompletion(const ChatMessage& message) const;
  // The special-token strings the template relies on (each must be one id of the tokenizer).
  std::vector<std::string> MarkerTokens() const;
};

ChatFormat MakeChatFormat(ChatTemplateKind kind);  // kAuto is not allowed (resolve first)

// The family a Jinja chat_template string belongs to, from its marker tokens: <|im_start|> and
// <|im_end|> -> kChatMl; <|start_header_id|> and <|eot_id|> -> kLlama3; anything else -> kPlain.
ChatTemplateKind DetectChatTemplate(std::string_view chat_template);

// The chat_template of an HF tokenizer's tokenizer_config.json: its string, or for the list form
// ([{"name","template"}]) the entry named "default", else the first. nullopt when the tokenizer
// has no such file or key (the byte tokenizer never has one).
std::optional<std::string> TokenizerChatTemplate(const Tokenizer& tokenizer);

// The format data rows are rendered with: `requested`, or for kAuto the family of the tokenizer's
// chat_template (plain when it has none or it is not recognised). Throws Error(kInvalidInput)
// when a template's marker token is not a single id of the tokenizer, e.g.
// `data.chat_template=chatml: the tokenizer "byte" has no token "<|im_start|>" (it encodes to 12
// ids); use a tokenizer with the template's special tokens or data.chat_template=plain`.
ChatFormat ResolveChatFormat(ChatTemplateKind requested, const Tokenizer& tokenizer);

}  // namespace dpo
