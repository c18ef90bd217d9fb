// BpeTokenizer encoding and decoding on small tokenizer.json files: merges in both encodings,
// added/special tokens before splitting, the pre-tokenizer steps, NFC, ignore_merges, round
// trips, the cache bound and concurrent use.
#include "core/tokenizer/bpe_tokenizer.h"

#include <gtest/gtest.h>

#include <thread>

#include "core/common/error.h"
#include "tests/support/test_support.h"
#include "tests/unit/core/tokenizer/tiny_bpe.h"

namespace dpo {
namespace {

using testing::TempDir;
using testing::TinyBpeSpec;

// ids: 256 "he", 257 "ll", 258 "hell", 259 "hello", 260 " w", 261 "or", 262 " wor", 263 "ld",
// 264 " world"; added: 265 <|endoftext|>, 266 <|im_start|>, 267 "ab", 268 "abc".
TinyBpeSpec HelloWorldSpec() {
  TinyBpeSpec spec;
  spec.merges = {{"h", "e"}, {"l", "l"}, {"he", "ll"}, {"hell", "o"}, {" ", "w"},
                 {"o", "r"}, {" w", "or"}, {"l", "d"}, {" wor", "ld"}};
  spec.added_tokens = {testing::AddedTokenJson(265, "<|endoftext|>"), testing::AddedTokenJson(266, "<|im_start|>"),
                       testing::AddedTokenJson(267, "ab", false), testing::AddedTokenJson(268, "abc", false)};
  return spec;
}

std::shared_ptr<const BpeTokenizer> Load(const TempDir& dir, const TinyBpeSpec& spec,
                                         const nlohmann::json& config = {{"eos_token", "<|endoftext|>"}},
                                         BpeTokenizer::Options options = {}) {
  testing::WriteTokenizerFiles(dir.path(), testing::TinyBpeJson(spec), config);
  return BpeTokenizer::Load(dir.path(), options);
}

TEST(BpeTokenizerTest, AppliesMergesByRankLeftmostFirst) {
  TempDir dir;
  const auto tokenizer = Load(dir, HelloWorldSpec());
  const struct {
    std::string text;
    std::vector<TokenId> ids;
  } cases[] = {
      {"hello world", {259, 264}},
      {"hellllo", {258, 257, 'o'}},  // "l l" merges leftmost first: he|ll|ll|o, then hell|ll|o
      {"lll", {257, 'l'}},
      {"world", {'w', 261, 263}},  // no leading space: " w" never applies
      {"", {}},
      {"hello\n\nworld", {259, '\n', '\n', 'w', 261, 263}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.text);
    EXPECT_EQ(tokenizer->Encode(c.text), c.ids);
  }
  EXPECT_EQ(tokenizer->VocabSize(), 269);
}

TEST(BpeTokenizerTest, MergesAsStringsAndAsPairsGiveTheSameTokenizer) {
  TinyBpeSpec strings = HelloWorldSpec(), pairs = HelloWorldSpec();
  pairs.pair_merges = true;
  EXPECT_TRUE(testing::TinyBpeJson(pairs)["model"]["merges"][0].is_array());
  EXPECT_TRUE(testing::TinyBpeJson(strings)["model"]["merges"][0].is_string());
  TempDir a, b;
  const auto from_strings = Load(a, strings), from_pairs = Load(b, pairs);
  for (const std::string text : {"hello world", "hellllo worldld", "say hello, world!", " world world"}) {
    SCOPED_TRACE(text);
    EXPECT_EQ(from_strings->Encode(text), from_pairs->Encode(text));
    EXPECT_FALSE(from_strings->Encode(text).empty());
  }
  EXPECT_NE(from_strings->Name(), from_pairs->Name());  // different files, different names
}

TEST(BpeTokenizerTest, MatchesAddedTokensBeforeSplitting) {
  TempDir dir;
  const auto tokenizer = Load(dir, HelloWorldSpec());
  const struct {
    std::string text;
    std::vector<TokenId> ids;
  } cases[] = {
      {"hello<|endoftext|> world", {259, 265, 264}},
      {"<|im_start|>hello<|endoftext|>", {266, 259, 265}},
      {"<|endoftext|><|endoftext|>", {265, 265}},
      {"xabcd", {'x', 268, 'd'}},  // leftmost, then longest: "abc" over "ab"
      {"xabd", {'x', 267, 'd'}},
      // Not complete: plain text, split by the regex like any punctuation.
      {"<|endoftext|", {'<', '|', 'e', 'n', 'd', 'o', 'f', 't', 'e', 'x', 't', '|'}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.text);
    EXPECT_EQ(tokenizer->Encode(c.text), c.ids);
  }
}

TEST(BpeTokenizerTest, AddedTokenStripAndSingleWordOptions) {
  TinyBpeSpec spec = HelloWorldSpec();
  spec.added_tokens = {{{"id", 265}, {"content", "<mask>"}, {"lstrip", true}, {"rstrip", true}, {"special", true}},
                       {{"id", 266}, {"content", "cat"}, {"single_word", true}, {"special", false}},
                       testing::AddedTokenJson(267, "<|endoftext|>")};
  TempDir dir;
  const auto tokenizer = Load(dir, spec);
  EXPECT_EQ(tokenizer->Encode("hello  <mask>  world"), (std::vector<TokenId>{259, 265, 'w', 261, 263}));
  EXPECT_EQ(tokenizer->Encode("a cat"), (std::vector<TokenId>{'a', ' ', 266}));
  EXPECT_EQ(tokenizer->Encode("cats"), (std::vector<TokenId>{'c', 'a', 't', 's'}));  // inside a word: no match
}

TEST(BpeTokenizerTest, SequenceSplitThenByteLevelAndIgnoreMerges) {
  TinyBpeSpec spec;
  spec.merges = {{"h", "e"}, {"l", "l"}};
  spec.extra_vocabulary = {"hello"};  // id 258; no merge path leads to it
  spec.pre_tokenizer = {{"type", "Sequence"},
                        {"pretokenizers",
                         {testing::SplitStep(R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)"),
                          testing::ByteLevelStep(false)}}};
  TempDir with, without;
  spec.ignore_merges = true;
  const auto ignoring = Load(with, spec, {{"eos_token", "hello"}});
  spec.ignore_merges = false;
  const auto merging = Load(without, spec, {{"eos_token", "hello"}});
  EXPECT_EQ(ignoring->Encode("hello"), std::vector<TokenId>{258});
  EXPECT_EQ(merging->Encode("hello"), (std::vector<TokenId>{256, 257, 'o'}));
  // Llama 3's regex: digits in groups of three, case-insensitive contractions.
  EXPECT_EQ(merging->Encode("12345"), (std::vector<TokenId>{'1', '2', '3', '4', '5'}));
  EXPECT_EQ(merging->Decode(merging->Encode("IT'S 12345")), "IT'S 12345");
}

TEST(BpeTokenizerTest, DigitsAndPrefixSpaceSteps) {
  TinyBpeSpec spec = HelloWorldSpec();
  spec.merges.push_back({"1", "2"});  // id 265; added tokens dropped below
  spec.added_tokens = nlohmann::json::array();
  TempDir plain_dir, digits_dir, prefix_dir;
  const auto plain = Load(plain_dir, spec, {{"eos_token", "hello"}});
  spec.pre_tokenizer = {{"type", "Sequence"},
                        {"pretokenizers", {{{"type", "Digits"}, {"individual_digits", true}}, testing::ByteLevelStep(true)}}};
  const auto digits = Load(digits_dir, spec, {{"eos_token", "hello"}});
  spec.pre_tokenizer = testing::ByteLevelStep(true, /*add_prefix_space=*/true);
  const auto prefix = Load(prefix_dir, spec, {{"eos_token", "hello"}});

  EXPECT_EQ(plain->Encode("a123"), (std::vector<TokenId>{'a', 265, '3'}));
  EXPECT_EQ(digits->Encode("a123"), (std::vector<TokenId>{'a', '1', '2', '3'}));
  EXPECT_EQ(prefix->Encode("world"), std::vector<TokenId>{264});
  EXPECT_EQ(prefix->Encode(" world"), std::vector<TokenId>{264});
  EXPECT_EQ(plain->Encode("world"), (std::vector<TokenId>{'w', 261, 263}));
}

TEST(BpeTokenizerTest, NfcNormalizerComposesBeforeMerging) {
  if (!UnicodeNormalizerAvailable()) GTEST_SKIP() << "built without ICU";
  TinyBpeSpec spec;
  spec.merges = {{"\xC3", "\xA9"}};  // id 256: "é" (U+00E9)
  spec.added_tokens = {testing::AddedTokenJson(257, "<|endoftext|>")};
  TempDir raw_dir, nfc_dir;
  const auto raw = Load(raw_dir, spec);
  spec.normalizer = {{"type", "NFC"}};
  const auto nfc = Load(nfc_dir, spec);
  const std::string decomposed = "e\xCC\x81";  // e + U+0301
  EXPECT_EQ(nfc->Encode(decomposed), std::vector<TokenId>{256});
  EXPECT_EQ(nfc->Encode("\xC3\xA9"), std::vector<TokenId>{256});
  EXPECT_EQ(raw->Encode(decomposed), (std::vector<TokenId>{'e', 0xCC, 0x81}));
}

TEST(BpeTokenizerTest, RoundTripsTextAndRendersSpecialsByContent) {
  TempDir dir;
  const auto tokenizer = Load(dir, HelloWorldSpec());
  for (const std::string& text :
       {std::string("hello world"), std::string("caf\xC3\xA9 \xE2\x82\xAC" "5 \xF0\x9F\x98\x80 \xE4\xBD\xA0\xE5\xA5\xBD"),
        std::string("  tabs\t\tand\r\nnewlines\n\n  "), std::string("it's <|endoftext|>done<|im_start|>"),
        std::string("nul\0inside", 10), std::string("")}) {
    SCOPED_TRACE(text);
    EXPECT_EQ(tokenizer->Decode(tokenizer->Encode(text)), text);
  }
  EXPECT_EQ(tokenizer->Decode({266, 259, 265}), "<|im_start|>hello<|endoftext|>");
  // A character cut between ids decodes to U+FFFD, as HF's decode does.
  EXPECT_EQ(tokenizer->Decode({'a', 0xF0, 0x9F}), "a\xEF\xBF\xBD");
}

TEST(BpeTokenizerTest, RejectsInvalidUtf8AndUnknownIds) {
  TempDir dir;
  const auto tokenizer = Load(dir, HelloWorldSpec());
  try {
    tokenizer->Encode("ok\xFF");
    FAIL() << "expected an error";
  } catch (const Error& error) {
    EXPECT_EQ(error.kind(), ErrorKind::kInvalidInput);
    EXPECT_EQ(std::string(error.what()), tokenizer->Name() + ": cannot encode text that is not valid UTF-8 (byte 2)");
  }
  for (const TokenId id : {TokenId{269}, TokenId{-1}}) {
    try {
      tokenizer->Decode({259, id});
      FAIL() << "expected an error";
    } catch (const Error& error) {
      EXPECT_EQ(std::string(error.what()), tokenizer->Name() + ": cannot decode id " + std::to_string(id) +
                                               " (no such token in " + dir.path() +
                                               "/tokenizer.json, vocabulary size 269)");
    }
  }
}

TEST(BpeTokenizerTest, CacheStaysWithinItsBound) {
  TempDir dir;
  BpeTokenizer::Options small;
  small.cache_capacity = 8;
  const auto cached = Load(dir, HelloWorldSpec(), {{"eos_token", "<|endoftext|>"}}, small);
  BpeTokenizer::Options none;
  none.cache_capacity = 0;
  const auto uncached = BpeTokenizer::Load(dir.path(), none);
  EXPECT_EQ(cached->CacheCapacity(), 8u);
  for (int i = 0; i < 500; ++i) {
    const std::string text = "hello world" + std::to_string(i * 7919) + " w" + std::to_string(i) + "rld";
    ASSERT_EQ(cached->Encode(text), uncached->Encode(text)) << text;
    ASSERT_LE(cached->CacheSize(), 8u);
  }
  EXPECT_GT(cached->CacheSize(), 0u);
  EXPECT_EQ(uncached->CacheSize(), 0u);
}

TEST(BpeTokenizerTest, ConcurrentEncodesAgree) {
  TempDir dir;
  BpeTokenizer::Options options;
  options.cache_capacity = 64;
  const auto tokenizer = Load(dir, HelloWorldSpec(), {{"eos_token", "<|endoftext|>"}}, options);
  std::vector<std::string> texts;
  for (int i = 0; i < 200; ++i) texts.push_back("hello w" + std::to_string(i % 37) + "rld hellllo " + std::to_string(i));
  std::vector<std::vector<TokenId>> expected;
  for (const auto& text : texts) expected.push_back(tokenizer->Encode(text));
  std::vector<int> failures(4, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 50; ++round) {
        for (std::size_t i = 0; i < texts.size(); ++i) failures[t] += tokenizer->Encode(texts[i]) != expected[i];
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(failures, std::vector<int>(4, 0));
}

}  // namespace
}  // namespace dpo
