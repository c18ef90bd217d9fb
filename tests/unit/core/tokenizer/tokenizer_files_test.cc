// Tokenizer files in model directories: tokenizer.json is picked up, saved copies are
// byte-identical (so HF loads them) and reload to the same tokenizer; mismatches are errors.
#include "core/tokenizer/tokenizer_files.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "core/common/error.h"
#include "core/common/file_io.h"
#include "core/tokenizer/bpe_tokenizer.h"
#include "tests/support/test_support.h"
#include "tests/unit/core/tokenizer/tiny_bpe.h"

namespace dpo {
namespace {

using nlohmann::json;
using testing::TempDir;

void WriteTiny(const TempDir& dir, const json& config = {{"eos_token", "<|endoftext|>"}}) {
  testing::TinyBpeSpec spec;
  spec.merges = {{"h", "i"}, {" ", "hi"}};
  spec.added_tokens = {testing::AddedTokenJson(258, "<|endoftext|>")};
  testing::WriteTokenizerFiles(dir.path(), testing::TinyBpeJson(spec), config);
}

std::string Message(const std::function<void()>& body) {
  try {
    body();
  } catch (const Error& error) {
    EXPECT_EQ(error.kind(), ErrorKind::kInvalidInput);
    return error.what();
  }
  ADD_FAILURE() << "expected an error";
  return "";
}

TEST(TokenizerFilesTest, ModelDirectoryWithTokenizerJsonLoadsIt) {
  TempDir model;
  WriteTiny(model);
  const auto tokenizer = LoadTokenizerForModel(model.path(), "byte");
  EXPECT_EQ(tokenizer->Name().substr(0, 7), "hf-bpe:");
  EXPECT_EQ(tokenizer->Name().size(), 7u + 16u);
  EXPECT_EQ(tokenizer->Encode("hi hi"), (std::vector<TokenId>{256, 257}));
  EXPECT_EQ(tokenizer->EosId(), 258);
  TempDir plain;
  EXPECT_EQ(LoadTokenizerForModel(plain.path(), "byte")->Name(), "byte");
}

TEST(TokenizerFilesTest, SavedFilesAreTheOriginalsAndReloadToTheSameTokenizer) {
  TempDir model, saved;
  WriteTiny(model);
  WriteFileAtomically(model.File("special_tokens_map.json"), "{\"eos_token\": \"<|endoftext|>\"}\n");
  const auto tokenizer = LoadTokenizerForModel(model.path(), "byte");
  SaveTokenizerFiles(*tokenizer, saved.path());
  for (const char* name : {"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"}) {
    SCOPED_TRACE(name);
    EXPECT_EQ(ReadFile(saved.File(name)), ReadFile(model.File(name)));
  }
  const json record = json::parse(ReadFile(saved.File(kTokenizerFileName)));
  EXPECT_EQ(record, (json{{"type", tokenizer->Name()}, {"vocab_size", 259}}));
  const auto reloaded = LoadTokenizerForModel(saved.path(), "byte");
  EXPECT_EQ(reloaded->Name(), tokenizer->Name());
  EXPECT_EQ(reloaded->Encode("hi hi<|endoftext|>"), tokenizer->Encode("hi hi<|endoftext|>"));
}

TEST(TokenizerFilesTest, RecordAndTokenizerJsonMustAgree) {
  TempDir model, saved;
  WriteTiny(model);
  const auto tokenizer = LoadTokenizerForModel(model.path(), "byte");
  SaveTokenizerFiles(*tokenizer, saved.path());
  WriteFileAtomically(saved.File("tokenizer_config.json"), json{{"eos_token", "hi"}}.dump());
  const std::string changed = BpeTokenizer::Load(saved.path())->Name();
  EXPECT_EQ(Message([&] { LoadTokenizerForModel(saved.path(), "byte"); }),
            saved.File(kTokenizerFileName) + ": names tokenizer \"" + tokenizer->Name() +
                "\" but the tokenizer files beside it are \"" + changed +
                "\" (tokenizer.json or its special tokens changed)");
  std::filesystem::remove(saved.File("tokenizer.json"));
  EXPECT_EQ(Message([&] { LoadTokenizerForModel(saved.path(), "byte"); }),
            saved.File(kTokenizerFileName) + ": names tokenizer \"" + tokenizer->Name() + "\" but " +
                saved.File("tokenizer.json") + " is missing");
}

TEST(TokenizerFilesTest, ByteRecordWinsAndByteSavesNoHfFiles) {
  TempDir model;
  const auto byte = CreateTokenizer("byte");
  SaveTokenizerFiles(*byte, model.path());
  EXPECT_FALSE(std::filesystem::exists(model.File("tokenizer.json")));
  WriteTiny(model);  // a tokenizer.json beside a byte record does not change the model's tokenizer
  EXPECT_EQ(LoadTokenizerForModel(model.path(), "byte")->Name(), "byte");
}

TEST(TokenizerFilesTest, CreateTokenizerTakesADirectoryOrAFile) {
  TempDir model;
  WriteTiny(model);
  const auto from_directory = CreateTokenizer(model.path());
  const auto from_file = CreateTokenizer(model.File("tokenizer.json"));
  EXPECT_EQ(from_directory->Name(), from_file->Name());
  EXPECT_EQ(from_file->Encode(" hi"), std::vector<TokenId>{257});
  EXPECT_EQ(Message([] { CreateTokenizer("gpt2"); }),
            "tokenizer \"gpt2\" is not supported (supported: byte, or the path of an HF tokenizer.json or of the "
            "directory holding it)");
}

}  // namespace
}  // namespace dpo
