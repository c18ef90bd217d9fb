// The tokenizer interface shared by the trainer, the reference server and the data tools.
// Implementations: ByteTokenizer (built in, the default for examples and tests) and
// BpeTokenizer (HF tokenizer.json byte-level BPE: GPT-2, Llama 3, Qwen2, SmolLM).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace dpo {

using TokenId = int64_t;

// Thread safety: Encode/Decode are const and safe to call concurrently.
class Tokenizer {
 public:
  virtual ~Tokenizer() = default;

  // A short name recorded in checkpoints and fingerprints ("byte", "hf-bpe:<hash>").
  virtual std::string Name() const = 0;
  // Number of ids the tokenizer can produce: every id is in [0, VocabSize()).
  virtual int64_t VocabSize() const = 0;

  // Text -> ids, without special tokens (callers add BOS/EOS where the data format says).
  // `text` must be valid UTF-8 (the data reader checks it first).
  virtual std::vector<TokenId> Encode(std::string_view text) const = 0;
  // Ids -> text; special tokens are rendered by their names (e.g. "<|eos|>").
  virtual std::string Decode(const std::vector<TokenId>& ids) const = 0;

  virtual std::optional<TokenId> BosId() const = 0;
  virtual TokenId EosId() const = 0;
  // The id used to pad batches; padded positions are always masked out of every loss.
  virtual TokenId PadId() const = 0;
};

// Creates a tokenizer from its spec: "byte" (the built-in byte tokenizer), or the path of an HF
// tokenizer.json or of the directory holding it (BpeTokenizer). Throws Error(kInvalidInput)
// naming the spec and the supported kinds otherwise (tokenizer_files.cc).
std::shared_ptr<const Tokenizer> CreateTokenizer(const std::string& spec);

}  // namespace dpo
