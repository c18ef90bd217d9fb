// Tiny HF BPE tokenizers with the ChatML and Llama-3 special tokens, for the conversational-row
// tests. ids: 0..255 bytes, 256 "\nH", 257 ": " (merges that only form across the prompt /
// completion boundary when both are tokenised together: the pre-tokenizer does not split), then
// the special tokens below.
#pragma once

#include <memory>
#include <string>

#include "core/tokenizer/bpe_tokenizer.h"
#include "tests/support/test_support.h"
#include "tests/unit/core/tokenizer/tiny_bpe.h"

namespace dpo::testing {

inline constexpr TokenId kNewlineH = 256, kColonSpace = 257;
inline constexpr TokenId kEndOfTextId = 258, kImStartId = 259, kImEndId = 260, kBeginOfTextId = 261,
                         kEndOfTextLlamaId = 262, kStartHeaderId = 263, kEndHeaderId = 264, kEotId = 265;

// Shortened versions of the real templates: what matters is their marker tokens.
inline const std::string kQwenTemplate =
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + "
    "'<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";
inline const std::string kLlama3Template =
    "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = "
    "'<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'+ message['content'] | trim + "
    "'<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}";
inline const std::string kMistralTemplate =
    "{{ bos_token }}{% for message in messages %}{% if message['role'] == 'user' %}{{ '[INST] ' + "
    "message['content'] + ' [/INST]' }}{% else %}{{ message['content'] + eos_token}}{% endif %}{% endfor %}";

inline nlohmann::json ChatTokenizerJson() {
  TinyBpeSpec spec;
  spec.merges = {{"\n", "H"}, {":", " "}};
  spec.pre_tokenizer = ByteLevelStep(/*use_regex=*/false);
  spec.added_tokens = {AddedTokenJson(kEndOfTextId, "<|endoftext|>"),
                       AddedTokenJson(kImStartId, "<|im_start|>"),
                       AddedTokenJson(kImEndId, "<|im_end|>"),
                       AddedTokenJson(kBeginOfTextId, "<|begin_of_text|>"),
                       AddedTokenJson(kEndOfTextLlamaId, "<|end_of_text|>"),
                       AddedTokenJson(kStartHeaderId, "<|start_header_id|>"),
                       AddedTokenJson(kEndHeaderId, "<|end_header_id|>"),
                       AddedTokenJson(kEotId, "<|eot_id|>")};
  return TinyBpeJson(spec);
}

// Qwen2-Instruct-like: no BOS, EOS <|im_end|>.
inline nlohmann::json QwenConfig() {
  return {{"bos_token", nullptr}, {"eos_token", "<|im_end|>"}, {"pad_token", "<|endoftext|>"},
          {"chat_template", kQwenTemplate}};
}
// Llama-3-Instruct-like: BOS <|begin_of_text|>, EOS <|eot_id|>.
inline nlohmann::json Llama3Config(const std::string& eos = "<|eot_id|>") {
  return {{"bos_token", "<|begin_of_text|>"}, {"eos_token", eos}, {"chat_template", kLlama3Template}};
}
// GPT-2-like: one token as BOS and EOS, no template.
inline nlohmann::json NoTemplateConfig() {
  return {{"bos_token", "<|endoftext|>"}, {"eos_token", "<|endoftext|>"}};
}

// Owns the directory of the tokenizer files as long as the tokenizer is used.
struct ChatTokenizer {
  explicit ChatTokenizer(const nlohmann::json& config) {
    WriteTokenizerFiles(dir.path(), ChatTokenizerJson(), config);
    tokenizer = BpeTokenizer::Load(dir.path());
  }
  TempDir dir;
  std::shared_ptr<const BpeTokenizer> tokenizer;
};

}  // namespace dpo::testing
