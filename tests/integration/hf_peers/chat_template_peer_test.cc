// dpo-cluster's built-in chat templates against transformers' tokenizer.apply_chat_template with
// the real chat_template of published tokenizers (DPO_TOKENIZER_FIXTURES), on generated
// conversations, called the way TRL's DPO trainer calls it: the prompt with
// add_generation_prompt=True, prompt + completion without (hf_chat_template.py).
//
// dpo-cluster renders what dpo-train renders: SequenceBuilder with data.chat_template=auto,
// the prompt (RenderPrompt, PromptFromMessages) and the completion (RenderCompletion,
// CompletionFromMessage) separately. Texts and ids must equal transformers' up to the
// differences each family declares below; each declared difference is checked to be exactly
// that: after it, texts and ids are equal, and the raw conversation renders differently from
// transformers exactly when the difference touches it.
//
// Gemma 3 and Llama 2 cannot be used at all: their SentencePiece-style tokenizers are refused
// when loaded (and Llama 2's tokenizer has no chat template in transformers either).
#include <gtest/gtest.h>

#include <fstream>
#include <iostream>
#include <optional>

#include <nlohmann/json.hpp>

#include "core/common/error.h"
#include "core/common/file_io.h"
#include "core/data/chat_template.h"
#include "core/data/sequence_builder.h"
#include "core/tokenizer/bpe_tokenizer.h"
#include "tests/integration/hf_peers/conversations.h"
#include "tests/support/python_peer.h"
#include "tests/support/test_support.h"

namespace dpo {
namespace {

using nlohmann::json;
using testing::Conversation;

constexpr int kConversations = 60;
constexpr uint64_t kSeed = 20240611;

// A tokenizer folder and how transformers' rendering of its template differs from dpo-cluster's.
struct Family {
  std::string folder;
  ChatTemplateKind kind;  // what data.chat_template=auto resolves its chat_template to
  // The template writes `content | trim` for every message; dpo-cluster keeps content as given.
  bool trims_contents = false;
  // The template writes the completion's content with leading newlines removed
  // (content.lstrip('\n')); dpo-cluster keeps them.
  bool strips_completion_newlines = false;
  // The template writes this between the generation prompt and the completion's content.
  std::string before_completion;
  // The template writes this after the completion's end-of-turn token; dpo-cluster ends the
  // completion with that token.
  std::string after_completion;
};

void PrintTo(const Family& family, std::ostream* out) { *out << family.folder; }

// The conversation as transformers' template effectively reads it.
Conversation AsTheTemplateReadsIt(const Family& family, Conversation conversation) {
  if (family.trims_contents) {
    for (ChatMessage& message : conversation.prompt) message.content = testing::Trim(message.content);
    conversation.completion.content = testing::Trim(conversation.completion.content);
  }
  if (family.strips_completion_newlines) {
    std::string& content = conversation.completion.content;
    content.erase(0, content.find_first_not_of('\n') == std::string::npos ? content.size()
                                                                           : content.find_first_not_of('\n'));
  }
  return conversation;
}

bool SameContents(const Conversation& a, const Conversation& b) {
  if (a.completion.content != b.completion.content || a.prompt.size() != b.prompt.size()) return false;
  for (size_t i = 0; i < a.prompt.size(); ++i) {
    if (a.prompt[i].content != b.prompt[i].content) return false;
  }
  return true;
}

// Renders every conversation with transformers: one object per conversation (see
// hf_chat_template.py).
std::vector<json> RenderWithTransformers(const std::string& tokenizer_dir, const std::vector<Conversation>& conversations) {
  testing::TempDir io;
  {
    std::ofstream out(io.File("conversations.jsonl"));
    for (const Conversation& conversation : conversations) out << testing::ConversationJson(conversation).dump() << "\n";
  }
  const auto peer = testing::RunPython(std::string(DPO_HF_PEERS_DIR) + "/hf_chat_template.py",
                                       {tokenizer_dir, io.File("conversations.jsonl"), io.File("rendered.jsonl")});
  EXPECT_EQ(peer.exit_code, 0) << testing::OutputTail(peer.output);
  std::vector<json> rendered;
  std::ifstream in(io.File("rendered.jsonl"));
  for (std::string line; std::getline(in, line);) rendered.push_back(json::parse(line));
  return rendered;
}

std::vector<TokenId> Concatenated(std::initializer_list<std::vector<TokenId>> parts) {
  std::vector<TokenId> ids;
  for (const auto& part : parts) ids.insert(ids.end(), part.begin(), part.end());
  return ids;
}

class ChatTemplatePeer : public ::testing::TestWithParam<Family> {};

TEST_P(ChatTemplatePeer, RendersWhatTransformersRendersUpToTheDeclaredDifferences) {
  const Family& family = GetParam();
  std::string dir;
  ASSERT_NO_FATAL_FAILURE(testing::TokenizerFixture(family.folder, &dir));
  const auto tokenizer = BpeTokenizer::Load(dir);
  const std::optional<std::string> chat_template = TokenizerChatTemplate(*tokenizer);
  ASSERT_TRUE(chat_template.has_value()) << dir;
  // transformers would fill a date into a template that reads one (Llama 3.1's published
  // template writes "Today Date: ..."); dpo-cluster has no such preamble. These templates read
  // none, so no date needs fixing on either side.
  for (const char* date_reader : {"strftime_now", "date_string"}) {
    ASSERT_EQ(chat_template->find(date_reader), std::string::npos) << family.folder << " reads a date";
  }
  const SequenceBuilder builder(*tokenizer, DataOptions{});  // data.chat_template: auto, as dpo-train
  const ChatFormat& format = builder.chat_format();
  ASSERT_EQ(format.kind, family.kind) << ChatTemplateKindName(format.kind);

  const std::vector<Conversation> conversations = testing::GenerateConversations(kConversations, kSeed);
  const std::vector<json> rendered = RenderWithTransformers(dir, conversations);
  ASSERT_EQ(rendered.size(), conversations.size());
  const std::vector<TokenId> before_ids = tokenizer->Encode(family.before_completion);
  const std::vector<TokenId> after_ids = tokenizer->Encode(family.after_completion);

  int identical = 0, differing = 0;
  for (size_t i = 0; i < conversations.size(); ++i) {
    const json& hf = rendered[i];
    ASSERT_FALSE(hf.contains("error")) << "conversation " << i << ": " << hf.dump();
    const std::string hf_prompt = hf.at("prompt_text"), hf_full = hf.at("full_text");
    SCOPED_TRACE("conversation " + std::to_string(i) + ": " + testing::ConversationJson(conversations[i]).dump() +
                 "\ntransformers, prompt + completion: " + json(hf_full).dump());

    // Equal texts and ids once the declared differences are applied.
    const Conversation read = AsTheTemplateReadsIt(family, conversations[i]);
    const std::string prompt = format.RenderPrompt(read.prompt);
    EXPECT_EQ(prompt, hf_prompt);
    EXPECT_EQ(prompt + family.before_completion + format.RenderCompletion(read.completion) + family.after_completion,
              hf_full);
    const std::vector<TokenId> prompt_ids = builder.PromptFromMessages(read.prompt);
    EXPECT_EQ(prompt_ids, hf.at("prompt_ids").get<std::vector<TokenId>>());
    EXPECT_EQ(Concatenated({prompt_ids, before_ids, builder.CompletionFromMessage(read.completion), after_ids}),
              hf.at("full_ids").get<std::vector<TokenId>>());

    // The raw conversation renders like transformers exactly when no content-dependent
    // difference touches it.
    const Conversation& raw = conversations[i];
    const bool raw_equal = format.RenderPrompt(raw.prompt) == hf_prompt &&
                           format.RenderPrompt(raw.prompt) + family.before_completion +
                                   format.RenderCompletion(raw.completion) + family.after_completion ==
                               hf_full;
    const bool untouched = SameContents(read, raw);
    EXPECT_EQ(raw_equal, untouched);
    ++(untouched ? identical : differing);
  }
  std::cout << family.folder << ": " << conversations.size() << " conversations, " << identical
            << " rendered like transformers as given, " << differing << " after the declared content difference\n";
  EXPECT_GT(identical, 0);
  // The generated conversations exercise every declared content difference.
  if (family.trims_contents || family.strips_completion_newlines) {
    EXPECT_GT(differing, 0);
  }
}

const std::string kLlama3GenerationPrompt = "<|start_header_id|>assistant<|end_header_id|>\n\n";

INSTANTIATE_TEST_SUITE_P(
    Tokenizers, ChatTemplatePeer,
    ::testing::Values(
        // Llama 3: the template trims contents, and opens an assistant turn after every
        // conversation (it has no add_generation_prompt condition).
        Family{"llama3", ChatTemplateKind::kLlama3, true, false, "", kLlama3GenerationPrompt},
        // Llama 3.1 (this tokenizer's template has no dated system preamble): trims contents.
        Family{"llama3_1", ChatTemplateKind::kLlama3, true, false, "", ""},
        // Qwen3 (ChatML): the last assistant turn opens with an empty think block and loses its
        // leading newlines, and every turn ends with "<|im_end|>\n".
        Family{"qwen3", ChatTemplateKind::kChatMl, false, true, "<think>\n\n</think>\n\n", "\n"}),
    [](const ::testing::TestParamInfo<Family>& info) { return info.param.folder; });

// Gemma 3 (its template folds the system message into the first user turn and names the
// assistant "model") and Llama 2 (no chat template) come with SentencePiece-style tokenizers,
// which dpo-cluster refuses to load, naming the feature.
TEST(ChatTemplatePeerRefusals, SentencePieceTokenizersAreRefusedWhenLoaded) {
  for (const std::string folder : {"gemma3", "llama2"}) {
    std::string dir;
    ASSERT_NO_FATAL_FAILURE(testing::TokenizerFixture(folder, &dir));
    try {
      BpeTokenizer::Load(dir);
      ADD_FAILURE() << folder << ": the tokenizer loaded; its chat template now needs a peer comparison";
    } catch (const Error& error) {
      EXPECT_EQ(error.kind(), ErrorKind::kInvalidInput) << error.what();
      EXPECT_NE(std::string(error.what()).find("model.byte_fallback: true (SentencePiece-style BPE) is not supported"),
                std::string::npos)
          << folder << ": " << error.what();
    }
  }
}

TEST(ChatTemplatePeerRefusals, Llama2HasNoChatTemplateInTransformersEither) {
  std::string dir;
  ASSERT_NO_FATAL_FAILURE(testing::TokenizerFixture("llama2", &dir));
  const std::vector<json> rendered = RenderWithTransformers(dir, testing::GenerateConversations(1, kSeed));
  ASSERT_EQ(rendered.size(), 1u);
  EXPECT_NE(rendered[0].value("error", "").find("chat_template is not set"), std::string::npos) << rendered[0].dump();
}

}  // namespace
}  // namespace dpo
