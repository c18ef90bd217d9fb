// Conversational rows through ParsePreferenceData: the ids each template produces (no double BOS,
// end-of-turn once, no merge across the prompt/completion boundary, special tokens as ids), system
// and multi-turn prompts, the implicit prompt and its errors, and string rows left unchanged.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "core/data/preference_reader.h"
#include "core/tokenizer/byte_tokenizer.h"
#include "tests/unit/core/data/chat_test_util.h"
#include "tests/unit/core/data/data_test_util.h"

namespace dpo {
namespace {

using Ids = std::vector<TokenId>;
using testing::ChatTokenizer;
const std::string kPath = "data/chat.jsonl";

PreferenceDataset Parse(const std::string& contents, const Tokenizer& tokenizer, DataOptions options = {}) {
  return ParsePreferenceData(contents, kPath, tokenizer, options);
}

TokenizedPair OnePair(const std::string& row, const Tokenizer& tokenizer, DataOptions options = {}) {
  const PreferenceDataset dataset = Parse(row, tokenizer, options);
  EXPECT_EQ(dataset.pairs.size(), 1u);
  return dataset.pairs.empty() ? TokenizedPair{} : dataset.pairs[0];
}

Ids Concat(Ids a, const Ids& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

Ids Bytes(const std::string& text) { return Ids(text.begin(), text.end()); }

int64_t CountOf(const Ids& ids, TokenId id) { return std::count(ids.begin(), ids.end(), id); }

const std::string kSystemRow =
    R"({"prompt":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hi"}],)"
    R"("chosen":[{"role":"assistant","content":"Hello"}],"rejected":[{"role":"assistant","content":"Go"}]})";

TEST(ConversationRowTest, ChatMlSpecialTokensBecomeIdsWithoutBosAndEndOfTurnOnce) {
  const ChatTokenizer qwen(testing::QwenConfig());
  const TokenizedPair pair = OnePair(kSystemRow, *qwen.tokenizer);
  using namespace testing;
  // Hand-built: markers are single ids; the text between them is bytes (no merge applies).
  EXPECT_EQ(pair.prompt_ids,
            Concat(Concat(Concat(Concat(Concat(Concat(Ids{kImStartId}, Bytes("system\nBe brief.")),
                                               Ids{kImEndId}),
                                        Concat(Bytes("\n"), Ids{kImStartId})),
                                 Concat(Bytes("user"), Ids{kNewlineH, 'i', kImEndId})),
                          Concat(Bytes("\n"), Ids{kImStartId})),
                   Bytes("assistant\n")));
  EXPECT_EQ(pair.chosen_ids, Concat(Bytes("Hello"), Ids{kImEndId}));
  EXPECT_EQ(pair.rejected_ids, Concat(Bytes("Go"), Ids{kImEndId}));
  // <|im_end|> is also the tokenizer's EOS: it ends the completion once, not twice.
  EXPECT_EQ(qwen.tokenizer->EosId(), kImEndId);
  EXPECT_EQ(CountOf(pair.chosen_ids, kImEndId), 1);
}

TEST(ConversationRowTest, Llama3BeginOfTextIsTheOnlyBos) {
  const ChatTokenizer llama(testing::Llama3Config());
  ASSERT_EQ(llama.tokenizer->BosId(), testing::kBeginOfTextId);
  const TokenizedPair pair = OnePair(kSystemRow, *llama.tokenizer);
  using namespace testing;
  EXPECT_EQ(pair.prompt_ids.front(), kBeginOfTextId);
  EXPECT_EQ(CountOf(pair.prompt_ids, kBeginOfTextId), 1);
  EXPECT_EQ(pair.prompt_ids,
            Concat(Concat(Concat(Concat(Ids{kBeginOfTextId, kStartHeaderId}, Bytes("system")),
                                 Concat(Ids{kEndHeaderId}, Bytes("\n\nBe brief."))),
                          Concat(Concat(Ids{kEotId, kStartHeaderId}, Bytes("user")),
                                 Concat(Ids{kEndHeaderId}, Concat(Bytes("\n"), Ids{kNewlineH, 'i', kEotId})))),
                   Concat(Concat(Ids{kStartHeaderId}, Bytes("assistant")), Concat(Ids{kEndHeaderId}, Bytes("\n\n")))));
  EXPECT_EQ(pair.chosen_ids, Concat(Bytes("Hello"), Ids{kEotId}));
}

TEST(ConversationRowTest, EndOfTurnEndsTheCompletionEvenWhenEosDiffers) {
  // A Llama-3 base tokenizer: EOS is <|end_of_text|>, the template's end of turn <|eot_id|>.
  nlohmann::json config = testing::Llama3Config("<|end_of_text|>");
  const ChatTokenizer base(config);
  const TokenizedPair pair = OnePair(kSystemRow, *base.tokenizer);
  EXPECT_EQ(pair.chosen_ids, Concat(Bytes("Hello"), Ids{testing::kEotId}));
  EXPECT_EQ(CountOf(pair.chosen_ids, testing::kEndOfTextLlamaId), 0);
  EXPECT_EQ(CountOf(pair.chosen_ids, testing::kEotId), 1);
}

// Prompt "...assistant\n" + completion "Hi...": tokenised together "\nH" would merge into one id.
TEST(ConversationRowTest, NoMergeAcrossPromptAndCompletion) {
  const std::string row =
      R"({"prompt":[{"role":"user","content":"Q"}],"chosen":[{"role":"assistant","content":"Hi"}],)"
      R"("rejected":[{"role":"assistant","content":"No"}]})";
  for (const nlohmann::json& config : {testing::QwenConfig(), testing::NoTemplateConfig()}) {
    const ChatTokenizer chat(config);
    const Tokenizer& tokenizer = *chat.tokenizer;
    const TokenizedPair pair = OnePair(row, tokenizer);
    const bool chatml = config.contains("chat_template");
    const std::string prompt_text =
        chatml ? "<|im_start|>user\nQ<|im_end|>\n<|im_start|>assistant\n" : "User: Q\nAssistant:";
    const std::string completion_text = chatml ? "Hi<|im_end|>" : " Hi";
    Ids prompt = tokenizer.Encode(prompt_text);
    Ids completion = tokenizer.Encode(completion_text);
    if (!chatml) {
      prompt.insert(prompt.begin(), *tokenizer.BosId());
      completion.push_back(tokenizer.EosId());
    }
    EXPECT_EQ(pair.prompt_ids, prompt) << config.dump();
    EXPECT_EQ(pair.chosen_ids, completion) << config.dump();
    // The test means something: tokenised together, one more merge forms at the boundary.
    const Ids joint = tokenizer.Encode(prompt_text + completion_text);
    EXPECT_EQ(CountOf(joint, chatml ? testing::kNewlineH : testing::kColonSpace) -
                  CountOf(Concat(pair.prompt_ids, pair.chosen_ids), chatml ? testing::kNewlineH : testing::kColonSpace),
              1);
  }
}

TEST(ConversationRowTest, PlainTemplateMatchesTheEquivalentStringRowWithTheByteTokenizer) {
  const ByteTokenizer byte;
  const TokenizedPair conversational = OnePair(
      R"({"prompt":[{"role":"system","content":"Be kind."},{"role":"user","content":"hi"}],)"
      R"("chosen":[{"role":"assistant","content":"Hello!"}],"rejected":[{"role":"assistant","content":"Go away."}]})",
      byte);
  const TokenizedPair text = OnePair(
      R"({"prompt":"System: Be kind.\nUser: hi\nAssistant:","chosen":" Hello!","rejected":" Go away."})", byte);
  EXPECT_EQ(conversational.prompt_ids, text.prompt_ids);
  EXPECT_EQ(conversational.chosen_ids, text.chosen_ids);
  EXPECT_EQ(conversational.rejected_ids, text.rejected_ids);
  EXPECT_EQ(conversational.prompt_ids.front(), ByteTokenizer::kBosId);
  EXPECT_EQ(CountOf(conversational.prompt_ids, ByteTokenizer::kBosId), 1);
  EXPECT_EQ(conversational.chosen_ids.back(), ByteTokenizer::kEosId);
  EXPECT_EQ(CountOf(conversational.chosen_ids, ByteTokenizer::kEosId), 1);
}

TEST(ConversationRowTest, StringRowsAreUnchangedWhateverTheTemplate) {
  const std::string row = R"({"prompt":"<|im_start|>Q","chosen":"Hi","rejected":"No"})";
  const ChatTokenizer qwen(testing::QwenConfig());
  for (const ChatTemplateKind kind : {ChatTemplateKind::kAuto, ChatTemplateKind::kChatMl, ChatTemplateKind::kPlain}) {
    DataOptions options;
    options.chat_template = kind;
    const TokenizedPair pair = OnePair(row, *qwen.tokenizer, options);
    EXPECT_EQ(pair.prompt_ids, Concat(Ids{testing::kImStartId}, Bytes("Q")));  // no BOS: Qwen has none
    EXPECT_EQ(pair.chosen_ids, Concat(Bytes("Hi"), Ids{testing::kImEndId}));    // text + EOS
  }
  const ByteTokenizer byte;
  const TokenizedPair pair = OnePair(R"({"prompt":"p","chosen":"c","rejected":"r"})", byte);
  EXPECT_EQ(pair.prompt_ids, (Ids{ByteTokenizer::kBosId, 'p'}));
  EXPECT_EQ(pair.chosen_ids, (Ids{'c', ByteTokenizer::kEosId}));
}

TEST(ConversationRowTest, MultiTurnPromptKeepsEveryTurnInOrder) {
  const ChatTokenizer qwen(testing::QwenConfig());
  const std::string row =
      R"({"prompt":[{"role":"user","content":"A"},{"role":"assistant","content":"B"},{"role":"user","content":"C"}],)"
      R"("chosen":[{"role":"assistant","content":"D"}],"rejected":[{"role":"assistant","content":"E"}]})";
  const TokenizedPair pair = OnePair(row, *qwen.tokenizer);
  EXPECT_EQ(qwen.tokenizer->Decode(pair.prompt_ids),
            "<|im_start|>user\nA<|im_end|>\n<|im_start|>assistant\nB<|im_end|>\n<|im_start|>user\nC<|im_end|>\n"
            "<|im_start|>assistant\n");
  EXPECT_EQ(CountOf(pair.prompt_ids, testing::kImStartId), 4);
  EXPECT_EQ(CountOf(pair.prompt_ids, testing::kImEndId), 3);
}

TEST(ConversationRowTest, ImplicitPromptIsTheSharedLeadingMessages) {
  const ChatTokenizer qwen(testing::QwenConfig());
  const std::string implicit =
      R"({"chosen":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hi"},)"
      R"({"role":"assistant","content":"Hello"}],)"
      R"("rejected":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hi"},)"
      R"({"role":"assistant","content":"Go"}]})";
  const TokenizedPair from_implicit = OnePair(implicit, *qwen.tokenizer);
  const TokenizedPair from_explicit = OnePair(kSystemRow, *qwen.tokenizer);
  EXPECT_EQ(from_implicit.prompt_ids, from_explicit.prompt_ids);
  EXPECT_EQ(from_implicit.chosen_ids, from_explicit.chosen_ids);
  EXPECT_EQ(from_implicit.rejected_ids, from_explicit.rejected_ids);
}

TEST(ConversationRowTest, IdenticalImplicitConversationsAreDroppedAsEqual) {
  const std::string same = R"([{"role":"user","content":"Q"},{"role":"assistant","content":"A"}])";
  DataOptions options;
  const PreferenceDataset dataset =
      Parse(R"({"chosen":)" + same + R"(,"rejected":)" + same + "}", ByteTokenizer(), options);
  EXPECT_TRUE(dataset.pairs.empty());
  EXPECT_EQ(dataset.dropped_by_reason.at("chosen_equals_rejected"), 1);
}

TEST(ConversationRowTest, KeepEndTruncationKeepsTheLlama3BosFirst) {
  const ChatTokenizer llama(testing::Llama3Config());
  DataOptions options;
  options.max_prompt_length = 5;
  options.max_length = 8;
  const TokenizedPair pair = OnePair(kSystemRow, *llama.tokenizer, options);
  using namespace testing;
  // BOS + the last 4 tokens: "t" of "assistant", <|end_header_id|>, "\n\n".
  EXPECT_EQ(pair.prompt_ids, (Ids{kBeginOfTextId, 't', kEndHeaderId, '\n', '\n'}));
  EXPECT_EQ(pair.chosen_ids, Bytes("Hel"));
}

struct BadConversationCase {
  std::string name;
  std::string row;
  std::string problem;
};

class BadConversationTest : public ::testing::TestWithParam<BadConversationCase> {};

// The bad row is line 2, after a good row: the message names the line.
TEST_P(BadConversationTest, ErrorNamesLineAndProblem) {
  const BadConversationCase& c = GetParam();
  testing::ExpectInvalidInput(
      [&] { Parse(kSystemRow + "\n" + c.row + "\n", ByteTokenizer()); },
      kPath + ": 1 problem in 1 invalid row (data.on_bad_row=error)\n  " + kPath + ":2: " + c.problem);
}

const std::string kUser = R"({"role":"user","content":"Q"})";
const std::string kOther = R"({"role":"user","content":"R"})";
const std::string kAnswer = R"({"role":"assistant","content":"A"})";
const std::string kAnswer2 = R"({"role":"assistant","content":"B"})";

INSTANTIATE_TEST_SUITE_P(
    Rows, BadConversationTest,
    ::testing::Values(
        BadConversationCase{"ImplicitSharesNothing",
                            R"({"chosen":[)" + kUser + "," + kAnswer + R"(],"rejected":[)" + kOther + "," + kAnswer2 + "]}",
                            R"(fields "chosen" and "rejected": share no leading messages (without "prompt", the )"
                            R"(messages both conversations start with are the prompt))"},
        BadConversationCase{"ImplicitOnlyCompletions", R"({"chosen":[)" + kAnswer + R"(],"rejected":[)" + kAnswer2 + "]}",
                            R"(fields "chosen" and "rejected": share no leading messages (without "prompt", the )"
                            R"(messages both conversations start with are the prompt))"},
        BadConversationCase{"ImplicitDiffersBeforeLastTurn",
                            R"({"chosen":[)" + kUser + "," + kAnswer + "," + kUser + "," + kAnswer + R"(],)" +
                                R"("rejected":[)" + kUser + "," + kAnswer2 + "," + kUser + "," + kAnswer + "]}",
                            R"(fields "chosen" and "rejected": differ at message 1, before the last assistant turn )"
                            R"((without "prompt", only the final assistant message may differ))"},
        BadConversationCase{"ImplicitDifferentLengths",
                            R"({"chosen":[)" + kUser + "," + kAnswer + "," + kUser + "," + kAnswer + R"(],)" +
                                R"("rejected":[)" + kUser + "," + kAnswer + "]}",
                            R"(fields "chosen" and "rejected": differ at message 2, before the last assistant turn )"
                            R"((without "prompt", only the final assistant message may differ))"},
        BadConversationCase{"ImplicitLastNotAssistant",
                            R"({"chosen":[)" + kUser + "," + kAnswer + R"(],"rejected":[)" + kUser + "," + kOther + "]}",
                            R"(field "rejected": the last message must be from "assistant", found "user")"},
        BadConversationCase{"ImplicitPromptEndsWithAssistant",
                            R"({"chosen":[)" + kUser + "," + kAnswer + "," + kAnswer + R"(],"rejected":[)" + kUser +
                                "," + kAnswer + "," + kAnswer2 + "]}",
                            R"(fields "chosen" and "rejected": the prompt must end with a "user" or "system" )"
                            R"(message, found "assistant")"},
        BadConversationCase{"ExplicitTwoCompletionMessages",
                            R"({"prompt":[)" + kUser + R"(],"chosen":[)" + kAnswer + "," + kAnswer2 +
                                R"(],"rejected":[)" + kAnswer + "]}",
                            R"(field "chosen": expected one assistant message, found 2 messages)"},
        BadConversationCase{"ExplicitCompletionFromUser",
                            R"({"prompt":[)" + kUser + R"(],"chosen":[)" + kAnswer + R"(],"rejected":[)" + kUser + "]}",
                            R"(field "rejected": the last message must be from "assistant", found "user")"},
        BadConversationCase{"ExplicitPromptEndsWithAssistant",
                            R"({"prompt":[)" + kUser + "," + kAnswer + R"(],"chosen":[)" + kAnswer + R"(],"rejected":[)" +
                                kAnswer2 + "]}",
                            R"(field "prompt": the prompt must end with a "user" or "system" message, found "assistant")"},
        BadConversationCase{"UnsupportedRole",
                            R"({"prompt":[{"role":"tool","content":"x"}],"chosen":[)" + kAnswer + R"(],"rejected":[)" +
                                kAnswer2 + "]}",
                            R"(field "prompt": message 0: "role": "tool" is not supported (system, user, assistant))"},
        BadConversationCase{"ContentNotString",
                            R"({"prompt":[)" + kUser + R"(],"chosen":[{"role":"assistant","content":[1]}],"rejected":[)" +
                                kAnswer2 + "]}",
                            R"(field "chosen": message 0: "content": expected a string, found array)"},
        BadConversationCase{"MessageNotObject",
                            R"({"prompt":[)" + kUser + R"(],"chosen":["A"],"rejected":[)" + kAnswer2 + "]}",
                            R"(field "chosen": message 0: expected an object with "role" and "content", found string)"},
        BadConversationCase{"EmptyCompletionContent",
                            R"({"prompt":[)" + kUser + R"(],"chosen":[{"role":"assistant","content":""}],"rejected":[)" +
                                kAnswer2 + "]}",
                            R"(field "chosen": message 0: "content": empty)"},
        BadConversationCase{"EmptyCompletionList",
                            R"({"prompt":[)" + kUser + R"(],"chosen":[],"rejected":[)" + kAnswer2 + "]}",
                            R"(field "chosen": empty)"},
        BadConversationCase{"CompletionStringInConversationalRow",
                            R"({"prompt":[)" + kUser + R"(],"chosen":"A","rejected":[)" + kAnswer2 + "]}",
                            R"(field "chosen": expected an array of messages (the row is conversational), found string)"},
        BadConversationCase{"InvalidUtf8InContent",
                            "{\"prompt\":[{\"role\":\"user\",\"content\":\"ab\xFF\"}],\"chosen\":[" + kAnswer +
                                "],\"rejected\":[" + kAnswer2 + "]}",
                            R"(field "prompt": message 0: "content": invalid UTF-8 at byte 2)"}),
    [](const ::testing::TestParamInfo<BadConversationCase>& info) { return info.param.name; });

TEST(ConversationRowTest, SkipModeRecordsTheImplicitPromptErrorWithItsLine) {
  DataOptions options;
  options.on_bad_row = BadRowPolicy::kSkip;
  const PreferenceDataset dataset =
      Parse(kSystemRow + "\n\n" + R"({"chosen":[)" + kAnswer + R"(],"rejected":[)" + kAnswer2 + "]}\n",
            ByteTokenizer(), options);
  ASSERT_EQ(dataset.pairs.size(), 1u);
  ASSERT_EQ(dataset.rejected.size(), 1u);
  EXPECT_EQ(dataset.rejected[0].line, 3);
  EXPECT_EQ(dataset.rejected[0].reason,
            R"(fields "chosen" and "rejected": share no leading messages (without "prompt", the messages both )"
            R"(conversations start with are the prompt))");
}

TEST(ConversationRowTest, FixtureFileLoadsBothConversationalForms) {
  const PreferenceDataset dataset =
      LoadPreferenceData(std::string(DPO_FIXTURES_DIR) + "/data/chat_pairs.jsonl", ByteTokenizer(), DataOptions{});
  ASSERT_EQ(dataset.pairs.size(), 3u);
  // Lines 1 (explicit) and 2 (implicit) are the same pair; line 3 is a plain string row.
  EXPECT_EQ(dataset.pairs[0].prompt_ids, dataset.pairs[1].prompt_ids);
  EXPECT_EQ(dataset.pairs[0].chosen_ids, dataset.pairs[1].chosen_ids);
  EXPECT_EQ(dataset.pairs[0].rejected_ids, dataset.pairs[1].rejected_ids);
  EXPECT_EQ(dataset.pairs[0].prompt_ids, dataset.pairs[2].prompt_ids);
  EXPECT_EQ(dataset.pairs[0].chosen_ids, dataset.pairs[2].chosen_ids);
}

}  // namespace
}  // namespace dpo
