// Byte-level BPE from a Hugging Face tokenizer.json (GPT-2, Llama 3, Qwen2, SmolLM): added
// tokens are matched first, then the optional Unicode normalizer, the pre-tokenizer's splits and
// the BPE merges on raw bytes. BOS/EOS/PAD come from tokenizer_config.json next to it.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/tokenizer/added_tokens.h"
#include "core/tokenizer/bpe_model.h"
#include "core/tokenizer/pre_tokenizer.h"
#include "core/tokenizer/tokenizer.h"
#include "core/tokenizer/unicode_normalizer.h"

namespace dpo {

inline constexpr const char* kHfTokenizerFileName = "tokenizer.json";
inline constexpr const char* kHfTokenizerConfigFileName = "tokenizer_config.json";
inline constexpr const char* kHfSpecialTokensMapFileName = "special_tokens_map.json";

// Everything a BpeTokenizer is made of; built by LoadBpeTokenizer (tokenizer_json.cc).
struct BpeTokenizerParts {
  std::string name;    // "hf-bpe:<16 hex digits>"
  std::string source;  // the tokenizer.json path, for messages
  std::unique_ptr<BpeModel> model;
  std::unique_ptr<UnicodeNormalizer> normalizer;  // null: none
  PreTokenizer pre_tokenizer;
  std::vector<AddedToken> added_tokens;
  std::vector<std::string> id_to_bytes;  // raw bytes of every id (added tokens: their content)
  std::vector<bool> id_known;            // whether an id has a token
  std::optional<TokenId> bos;
  TokenId eos = 0;
  TokenId pad = 0;
  // The files the tokenizer came from ({file name, contents}), saved unchanged with models.
  std::vector<std::pair<std::string, std::string>> source_files;
};

// Thread safety: Encode/Decode are const and may run concurrently (the cache synchronises).
class BpeTokenizer final : public Tokenizer {
 public:
  struct Options {
    std::size_t cache_capacity = 1 << 16;  // cached pre-tokens; 0 disables the cache
  };

  explicit BpeTokenizer(BpeTokenizerParts parts);

  // Loads `path`: a directory holding tokenizer.json (plus optional tokenizer_config.json and
  // special_tokens_map.json), or a tokenizer.json file (its companions are looked up beside it).
  // Throws Error(kInvalidInput) naming the file and the JSON path of the problem, e.g.
  // `dir/tokenizer.json: model.type: "WordPiece" is not supported (...)`.
  static std::shared_ptr<const BpeTokenizer> Load(const std::string& path, const Options& options);
  static std::shared_ptr<const BpeTokenizer> Load(const std::string& path) { return Load(path, Options{}); }

  std::string Name() const override { return name_; }
  int64_t VocabSize() const override { return static_cast<int64_t>(id_to_bytes_.size()); }
  // Throws Error(kInvalidInput) when `text` is not valid UTF-8 (naming the byte offset).
  std::vector<TokenId> Encode(std::string_view text) const override;
  // Added and special tokens are rendered by their content; invalid UTF-8 (a character cut
  // between ids) becomes U+FFFD. Throws Error(kInvalidInput) for ids without a token.
  std::string Decode(const std::vector<TokenId>& ids) const override;
  std::optional<TokenId> BosId() const override { return bos_; }
  TokenId EosId() const override { return eos_; }
  TokenId PadId() const override { return pad_; }

  // The id of an added token's content, or of a vocabulary entry given as raw text.
  std::optional<TokenId> TokenToId(std::string_view token) const;
  const std::vector<AddedToken>& added_tokens() const { return added_.tokens(); }
  const std::vector<std::pair<std::string, std::string>>& source_files() const { return source_files_; }
  const std::string& source() const { return source_; }
  // Entries in the pre-token cache (never above the capacity).
  std::size_t CacheSize() const { return model_->cache().Size(); }
  std::size_t CacheCapacity() const { return model_->cache().Capacity(); }

 private:
  void EncodeSegment(std::string_view segment, std::vector<TokenId>* ids) const;

  std::string name_;
  std::string source_;
  std::unique_ptr<BpeModel> model_;
  std::unique_ptr<UnicodeNormalizer> normalizer_;
  PreTokenizer pre_tokenizer_;
  AddedTokenMatcher added_;
  std::unordered_map<std::string, TokenId> added_by_content_;
  std::vector<std::string> id_to_bytes_;
  std::vector<bool> id_known_;
  std::optional<TokenId> bos_;
  TokenId eos_;
  TokenId pad_;
  std::vector<std::pair<std::string, std::string>> source_files_;
};

}  // namespace dpo
