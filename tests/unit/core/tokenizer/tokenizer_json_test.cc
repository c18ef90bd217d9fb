// Loading tokenizer.json: unsupported types and corrupt files fail with messages naming the
// file and the JSON path; BOS/EOS/PAD from tokenizer_config.json and special_tokens_map.json.
#include <gtest/gtest.h>

#include <functional>

#include "core/common/error.h"
#include "core/tokenizer/bpe_tokenizer.h"
#include "tests/support/test_support.h"
#include "tests/unit/core/tokenizer/tiny_bpe.h"

namespace dpo {
namespace {

using nlohmann::json;
using testing::TempDir;

const std::string kSupported = "(supported: byte-level BPE, as in GPT-2, Llama 3, Qwen2 and SmolLM)";

json BaseJson() {
  testing::TinyBpeSpec spec;
  spec.merges = {{"a", "b"}, {"ab", "c"}};
  spec.added_tokens = {testing::AddedTokenJson(259, "<|endoftext|>")};
  return testing::TinyBpeJson(spec);
}

// The message of the error loading `tokenizer` (written to a fresh directory) with `config`.
std::string LoadError(const TempDir& dir, const json& tokenizer, const json& config = nullptr) {
  testing::WriteTokenizerFiles(dir.path(), tokenizer, config);
  try {
    BpeTokenizer::Load(dir.path());
  } catch (const Error& error) {
    EXPECT_EQ(error.kind(), ErrorKind::kInvalidInput);
    return error.what();
  }
  ADD_FAILURE() << "expected an error";
  return "";
}

TEST(TokenizerJsonTest, UnsupportedTypesNameTheFileAndThePath) {
  const struct {
    const char* what;
    std::function<void(json&)> edit;
    std::string message;  // after "<dir>/tokenizer.json: "
  } cases[] = {
      {"WordPiece", [](json& j) { j["model"] = {{"type", "WordPiece"}, {"vocab", {{"a", 0}}}}; },
       "model.type: \"WordPiece\" tokenizers are not supported " + kSupported},
      {"Unigram", [](json& j) { j["model"] = {{"type", "Unigram"}, {"vocab", json::array()}}; },
       "model.type: \"Unigram\" tokenizers are not supported " + kSupported},
      {"SentencePiece-style BPE", [](json& j) { j["model"]["byte_fallback"] = true; },
       "model.byte_fallback: true (SentencePiece-style BPE) is not supported " + kSupported},
      {"Metaspace pre-tokenizer",
       [](json& j) { j["pre_tokenizer"] = {{"type", "Metaspace"}, {"replacement", "\xE2\x96\x81"}}; },
       "pre_tokenizer.type: \"Metaspace\" pre-tokenizers are not supported (supported: ByteLevel, Split, Digits "
       "and Sequence, for byte-level BPE)"},
      {"no ByteLevel step",
       [](json& j) { j["pre_tokenizer"] = {{"type", "Sequence"}, {"pretokenizers", {testing::SplitStep("\\s+")}}}; },
       "pre_tokenizer: no ByteLevel step " + kSupported},
      {"Split after ByteLevel",
       [](json& j) {
         j["pre_tokenizer"] = {{"type", "Sequence"},
                               {"pretokenizers", {testing::ByteLevelStep(false), testing::SplitStep("\\s+")}}};
       },
       "pre_tokenizer.pretokenizers[1]: \"Split\" after ByteLevel is not supported (ByteLevel must come last)"},
      {"Metaspace decoder", [](json& j) { j["decoder"] = {{"type", "Metaspace"}}; },
       "decoder.type: \"Metaspace\" decoders are not supported " + kSupported},
      {"Lowercase normalizer", [](json& j) { j["normalizer"] = {{"type", "Lowercase"}}; },
       "normalizer.type: \"Lowercase\" normalizers are not supported (supported: NFC, NFD, NFKC, NFKD)"},
      {"word suffix", [](json& j) { j["model"]["end_of_word_suffix"] = "</w>"; },
       "model.end_of_word_suffix: \"</w>\" is not supported " + kSupported},
      {"Removed behaviour",
       [](json& j) {
         j["pre_tokenizer"] = {{"type", "Sequence"}, {"pretokenizers", {testing::SplitStep("x"), testing::ByteLevelStep(false)}}};
         j["pre_tokenizer"]["pretokenizers"][0]["behavior"] = "Removed";
       },
       "pre_tokenizer.pretokenizers[0].behavior: \"Removed\" is not supported (supported: \"Isolated\")"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    TempDir dir;
    json tokenizer = BaseJson();
    c.edit(tokenizer);
    EXPECT_EQ(LoadError(dir, tokenizer), dir.path() + "/tokenizer.json: " + c.message);
  }
}

TEST(TokenizerJsonTest, CorruptFilesNameTheFileAndThePath) {
  const struct {
    const char* what;
    std::function<void(json&)> edit;
    std::string message;
  } cases[] = {
      {"merge of unknown token", [](json& j) { j["model"]["merges"][1] = "ab zz"; },
       "model.merges[1]: token \"zz\" is not in model.vocab"},
      {"merge result missing", [](json& j) { j["model"]["vocab"].erase("abc"); },
       "model.merges[1]: merged token \"abc\" is not in model.vocab"},
      {"malformed merge", [](json& j) { j["model"]["merges"][0] = "abc"; },
       "model.merges[0]: expected \"left right\" or [\"left\", \"right\"], got \"abc\""},
      {"malformed pair", [](json& j) { j["model"]["merges"][0] = json::array({"a"}); },
       "model.merges[0]: expected \"left right\" or [\"left\", \"right\"], got [\"a\"]"},
      {"byte missing", [](json& j) { j["model"]["vocab"].erase("\xC4\xA0"); },
       "model.vocab: no token for byte 0x20 (\"\xC4\xA0\"): not a byte-level BPE vocabulary " + kSupported},
      {"bad id", [](json& j) { j["model"]["vocab"]["abc"] = "x"; },
       "model.vocab[\"abc\"]: expected a token id (an integer in [0, 16777216)), got \"x\""},
      {"no vocab", [](json& j) { j["model"].erase("vocab"); }, "model.vocab: missing"},
      {"merges not a list", [](json& j) { j["model"]["merges"] = 3; }, "model.merges: expected an array, got a number"},
      {"bad regex",
       [](json& j) {
         j["pre_tokenizer"] = {{"type", "Sequence"}, {"pretokenizers", {testing::SplitStep("(ab"), testing::ByteLevelStep(false)}}};
       },
       "pre_tokenizer.pretokenizers[0].pattern.Regex: invalid regex at offset 3: missing closing parenthesis"},
      {"huge id", [](json& j) { j["model"]["vocab"]["abc"] = int64_t{1} << 40; },
       "model.vocab[\"abc\"]: expected a token id (an integer in [0, 16777216)), got 1099511627776"},
      {"added token id", [](json& j) { j["added_tokens"][0]["id"] = -1; },
       "added_tokens[0].id: expected a token id (an integer in [0, 16777216)), got -1"},
      {"added token content", [](json& j) { j["added_tokens"][0]["content"] = ""; }, "added_tokens[0].content: empty"},
      {"no model", [](json& j) { j.erase("model"); }, "model: missing"},
      {"no pre-tokenizer", [](json& j) { j["pre_tokenizer"] = nullptr; },
       "pre_tokenizer: missing: a byte-level BPE tokenizer needs a ByteLevel pre-tokenizer " + kSupported},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    TempDir dir;
    json tokenizer = BaseJson();
    c.edit(tokenizer);
    EXPECT_EQ(LoadError(dir, tokenizer), dir.path() + "/tokenizer.json: " + c.message);
  }
}

TEST(TokenizerJsonTest, InvalidJsonAndMissingFiles) {
  TempDir dir;
  WriteFileAtomically(dir.File("tokenizer.json"), "{\"model\": ");
  try {
    BpeTokenizer::Load(dir.path());
    FAIL() << "expected an error";
  } catch (const Error& error) {
    const std::string prefix = dir.path() + "/tokenizer.json: invalid JSON: [json.exception.parse_error.101] parse error at line 1, column 11";
    EXPECT_EQ(std::string(error.what()).substr(0, prefix.size()), prefix) << error.what();
  }
  WriteFileAtomically(dir.File("tokenizer.json"), "[1, 2]");
  try {
    BpeTokenizer::Load(dir.path());
    FAIL() << "expected an error";
  } catch (const Error& error) {
    EXPECT_EQ(std::string(error.what()), dir.path() + "/tokenizer.json: expected a JSON object at the top level, got an array");
  }
  TempDir empty;
  try {
    BpeTokenizer::Load(empty.path());
    FAIL() << "expected an error";
  } catch (const Error& error) {
    EXPECT_EQ(std::string(error.what()), empty.path() + "/tokenizer.json: no such file");
  }
}

TEST(TokenizerJsonTest, SpecialTokensFromTokenizerConfig) {
  json tokenizer = BaseJson();
  tokenizer["added_tokens"] = {testing::AddedTokenJson(259, "<s>"), testing::AddedTokenJson(260, "</s>"),
                               testing::AddedTokenJson(261, "<pad>")};
  const struct {
    const char* what;
    json config;
    std::optional<TokenId> bos;
    TokenId eos, pad;
  } cases[] = {
      {"strings", {{"bos_token", "<s>"}, {"eos_token", "</s>"}, {"pad_token", "<pad>"}}, 259, 260, 261},
      {"objects",
       {{"bos_token", {{"__type", "AddedToken"}, {"content", "<s>"}}}, {"eos_token", {{"content", "</s>"}}}},
       259, 260, 260},
      {"null bos, pad from eos", {{"bos_token", nullptr}, {"eos_token", "</s>"}}, std::nullopt, 260, 260},
      {"vocabulary token", {{"eos_token", "abc"}}, std::nullopt, 257, 257},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    TempDir dir;
    testing::WriteTokenizerFiles(dir.path(), tokenizer, c.config);
    const auto loaded = BpeTokenizer::Load(dir.path());
    EXPECT_EQ(loaded->BosId(), c.bos);
    EXPECT_EQ(loaded->EosId(), c.eos);
    EXPECT_EQ(loaded->PadId(), c.pad);
  }
}

TEST(TokenizerJsonTest, SpecialTokensMapAndGpt2Fallback) {
  TempDir with_map;
  testing::WriteTokenizerFiles(with_map.path(), BaseJson(), json{{"model_max_length", 1024}});
  const auto gpt2_like = BpeTokenizer::Load(with_map.path());
  // GPT-2's tokenizer_config.json names no tokens: its one special token is BOS, EOS and PAD.
  EXPECT_EQ(gpt2_like->EosId(), 259);
  EXPECT_EQ(gpt2_like->BosId(), std::optional<TokenId>(259));
  EXPECT_EQ(gpt2_like->PadId(), 259);

  WriteFileAtomically(with_map.File("special_tokens_map.json"), json{{"eos_token", "abc"}, {"bos_token", nullptr}}.dump());
  const auto mapped = BpeTokenizer::Load(with_map.path());
  EXPECT_EQ(mapped->EosId(), 257);
  EXPECT_EQ(mapped->BosId(), std::nullopt);
  EXPECT_NE(mapped->Name(), gpt2_like->Name());  // the special ids are part of the name
  EXPECT_EQ(mapped->source_files().size(), 3u);
}

TEST(TokenizerJsonTest, SpecialTokenErrors) {
  {
    TempDir dir;
    EXPECT_EQ(LoadError(dir, BaseJson(), {{"eos_token", "<nope>"}}),
              dir.path() + "/tokenizer_config.json: eos_token: \"<nope>\" is not a token of " + dir.path() +
                  "/tokenizer.json");
  }
  {
    TempDir dir;
    EXPECT_EQ(LoadError(dir, BaseJson(), {{"bos_token", 7}}),
              dir.path() + "/tokenizer_config.json: bos_token: expected a string, {\"content\": ...} or null, got a number");
  }
  {
    TempDir dir;
    json tokenizer = BaseJson();
    tokenizer["added_tokens"] = json::array();
    EXPECT_EQ(LoadError(dir, tokenizer),
              dir.path() + ": no EOS token: tokenizer_config.json sets no eos_token and " + dir.path() +
                  "/tokenizer.json has 0 special tokens (one would be taken as EOS)");
  }
  {
    TempDir dir;
    EXPECT_EQ(LoadError(dir, BaseJson(), "not an object"),
              dir.path() + "/tokenizer_config.json: expected a JSON object at the top level, got a string");
  }
}

}  // namespace
}  // namespace dpo
