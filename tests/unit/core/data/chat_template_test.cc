// The built-in chat templates: config names, the text each family renders, recognition of a
// tokenizer_config.json chat_template, and the check that a template's tokens exist.
#include "core/data/chat_template.h"

#include <gtest/gtest.h>

#include <vector>

#include "core/tokenizer/byte_tokenizer.h"
#include "tests/unit/core/data/chat_test_util.h"
#include "tests/unit/core/data/data_test_util.h"

namespace dpo {
namespace {

const std::vector<ChatMessage> kMultiTurn = {{"system", "Be brief."},
                                             {"user", "Hi"},
                                             {"assistant", "Hello."},
                                             {"user", "2+2?"}};

TEST(ChatTemplateTest, ConfigNamesRoundTripAndUnknownNameIsAnError) {
  for (const ChatTemplateKind kind : {ChatTemplateKind::kAuto, ChatTemplateKind::kChatMl,
                                      ChatTemplateKind::kLlama3, ChatTemplateKind::kPlain}) {
    EXPECT_EQ(ParseChatTemplateKind(ChatTemplateKindName(kind)), kind);
  }
  EXPECT_STREQ(ChatTemplateKindName(ChatTemplateKind::kChatMl), "chatml");
  EXPECT_EQ(DataOptions{}.chat_template, ChatTemplateKind::kAuto);
  testing::ExpectInvalidInput([] { ParseChatTemplateKind("qwen"); },
                              "data.chat_template=\"qwen\" must be one of: auto, chatml, llama3, plain");
}

TEST(ChatTemplateTest, ChatMlRendersSystemAndEveryTurn) {
  const ChatFormat format = MakeChatFormat(ChatTemplateKind::kChatMl);
  EXPECT_EQ(format.RenderPrompt(kMultiTurn),
            "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
            "<|im_start|>assistant\nHello.<|im_end|>\n<|im_start|>user\n2+2?<|im_end|>\n"
            "<|im_start|>assistant\n");
  EXPECT_EQ(format.RenderCompletion({"assistant", "4"}), "4<|im_end|>");
  EXPECT_FALSE(format.add_tokenizer_bos);
  EXPECT_FALSE(format.append_eos);
}

TEST(ChatTemplateTest, Llama3StartsWithItsBosText) {
  const ChatFormat format = MakeChatFormat(ChatTemplateKind::kLlama3);
  EXPECT_EQ(format.RenderPrompt(kMultiTurn),
            "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>"
            "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\nHello.<|eot_id|>"
            "<|start_header_id|>user<|end_header_id|>\n\n2+2?<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\n");
  EXPECT_EQ(format.RenderCompletion({"assistant", "4"}), "4<|eot_id|>");
  EXPECT_FALSE(format.add_tokenizer_bos);
  EXPECT_FALSE(format.append_eos);
}

TEST(ChatTemplateTest, PlainUsesRoleNamesAndLeavesBosAndEosToTheTokenizer) {
  const ChatFormat format = MakeChatFormat(ChatTemplateKind::kPlain);
  EXPECT_EQ(format.RenderPrompt(kMultiTurn),
            "System: Be brief.\nUser: Hi\nAssistant: Hello.\nUser: 2+2?\nAssistant:");
  EXPECT_EQ(format.RenderCompletion({"assistant", "4"}), " 4");
  EXPECT_TRUE(format.add_tokenizer_bos);
  EXPECT_TRUE(format.append_eos);
}

// Content is written as given, whitespace included: Llama 3's published template trims it and
// Qwen3's strips leading newlines from the last assistant turn, which the transformers peer test
// (tests/integration/hf_peers) declares as differences.
TEST(ChatTemplateTest, TemplatedFamiliesKeepContentAsGiven) {
  const std::vector<ChatMessage> padded = {{"system", "  sys "}, {"user", "\nhi\n"}};
  EXPECT_EQ(MakeChatFormat(ChatTemplateKind::kLlama3).RenderPrompt(padded),
            "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n  sys <|eot_id|>"
            "<|start_header_id|>user<|end_header_id|>\n\n\nhi\n<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\n");
  EXPECT_EQ(MakeChatFormat(ChatTemplateKind::kLlama3).RenderCompletion({"assistant", " 4\n"}), " 4\n<|eot_id|>");
  EXPECT_EQ(MakeChatFormat(ChatTemplateKind::kChatMl).RenderPrompt(padded),
            "<|im_start|>system\n  sys <|im_end|>\n<|im_start|>user\n\nhi\n<|im_end|>\n<|im_start|>assistant\n");
  EXPECT_EQ(MakeChatFormat(ChatTemplateKind::kChatMl).RenderCompletion({"assistant", "\n\n4"}), "\n\n4<|im_end|>");
}

struct DetectCase {
  std::string name;
  std::string chat_template;
  ChatTemplateKind expected;
};

class DetectChatTemplateTest : public ::testing::TestWithParam<DetectCase> {};

TEST_P(DetectChatTemplateTest, RecognisesFamilyByMarkerTokens) {
  EXPECT_EQ(DetectChatTemplate(GetParam().chat_template), GetParam().expected);
}

INSTANTIATE_TEST_SUITE_P(
    Templates, DetectChatTemplateTest,
    ::testing::Values(DetectCase{"Qwen", testing::kQwenTemplate, ChatTemplateKind::kChatMl},
                      DetectCase{"Llama3", testing::kLlama3Template, ChatTemplateKind::kLlama3},
                      DetectCase{"Mistral", testing::kMistralTemplate, ChatTemplateKind::kPlain},
                      DetectCase{"Empty", "", ChatTemplateKind::kPlain},
                      // One marker alone is not the family.
                      DetectCase{"ImStartOnly", "{{ '<|im_start|>' }}", ChatTemplateKind::kPlain},
                      DetectCase{"HeaderOnly", "{{ '<|start_header_id|>' }}", ChatTemplateKind::kPlain}),
    [](const ::testing::TestParamInfo<DetectCase>& info) { return info.param.name; });

TEST(ChatTemplateTest, ReadsChatTemplateFromTokenizerConfig) {
  const testing::ChatTokenizer qwen(testing::QwenConfig());
  EXPECT_EQ(TokenizerChatTemplate(*qwen.tokenizer), testing::kQwenTemplate);

  nlohmann::json listed = testing::NoTemplateConfig();
  listed["chat_template"] = {{{"name", "tool_use"}, {"template", "tools"}},
                             {{"name", "default"}, {"template", testing::kLlama3Template}}};
  const testing::ChatTokenizer named(listed);
  EXPECT_EQ(TokenizerChatTemplate(*named.tokenizer), testing::kLlama3Template);

  const testing::ChatTokenizer none(testing::NoTemplateConfig());
  EXPECT_EQ(TokenizerChatTemplate(*none.tokenizer), std::nullopt);
  EXPECT_EQ(TokenizerChatTemplate(ByteTokenizer()), std::nullopt);
}

TEST(ChatTemplateTest, AutoSelectsEachFamilyFromTheTokenizer) {
  const testing::ChatTokenizer qwen(testing::QwenConfig());
  const testing::ChatTokenizer llama(testing::Llama3Config());
  const testing::ChatTokenizer none(testing::NoTemplateConfig());
  EXPECT_EQ(ResolveChatFormat(ChatTemplateKind::kAuto, *qwen.tokenizer).kind, ChatTemplateKind::kChatMl);
  EXPECT_EQ(ResolveChatFormat(ChatTemplateKind::kAuto, *llama.tokenizer).kind, ChatTemplateKind::kLlama3);
  EXPECT_EQ(ResolveChatFormat(ChatTemplateKind::kAuto, *none.tokenizer).kind, ChatTemplateKind::kPlain);
  EXPECT_EQ(ResolveChatFormat(ChatTemplateKind::kAuto, ByteTokenizer()).kind, ChatTemplateKind::kPlain);
  // A forced family wins over the tokenizer's own template.
  EXPECT_EQ(ResolveChatFormat(ChatTemplateKind::kPlain, *qwen.tokenizer).kind, ChatTemplateKind::kPlain);
  EXPECT_EQ(ResolveChatFormat(ChatTemplateKind::kLlama3, *qwen.tokenizer).kind, ChatTemplateKind::kLlama3);
}

TEST(ChatTemplateTest, TemplateWhoseTokensTheTokenizerLacksIsAnError) {
  testing::ExpectInvalidInput(
      [] { ResolveChatFormat(ChatTemplateKind::kChatMl, ByteTokenizer()); },
      "data.chat_template=chatml: the tokenizer \"byte\" has no token \"<|im_start|>\" (it encodes to 12 ids); "
      "use a tokenizer with the template's special tokens or data.chat_template=plain");
  // Auto names the family it recognised.
  nlohmann::json spec = testing::ChatTokenizerJson();
  spec["added_tokens"] = nlohmann::json::array({testing::AddedTokenJson(testing::kEndOfTextId, "<|endoftext|>")});
  testing::TempDir dir;
  testing::WriteTokenizerFiles(dir.path(), spec,
                               {{"eos_token", "<|endoftext|>"}, {"chat_template", testing::kQwenTemplate}});
  const auto tokenizer = BpeTokenizer::Load(dir.path());
  testing::ExpectInvalidInput(
      [&] { ResolveChatFormat(ChatTemplateKind::kAuto, *tokenizer); },
      "data.chat_template=auto (chatml, from tokenizer_config.json): the tokenizer \"" + tokenizer->Name() +
          "\" has no token \"<|im_start|>\" (it encodes to 12 ids); use a tokenizer with the template's special "
          "tokens or data.chat_template=plain");
}

}  // namespace
}  // namespace dpo
