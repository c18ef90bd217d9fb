// Encoding and decoding of the byte-level BPE tokenizer; loading is in tokenizer_json.cc.
#include "core/tokenizer/bpe_tokenizer.h"

#include <memory>

#include "core/common/error.h"
#include "core/common/utf8.h"
#include "core/tokenizer/byte_level.h"

namespace dpo {

BpeTokenizer::BpeTokenizer(BpeTokenizerParts parts)
    : name_(std::move(parts.name)),
      source_(std::move(parts.source)),
      model_(std::move(parts.model)),
      normalizer_(std::move(parts.normalizer)),
      pre_tokenizer_(std::move(parts.pre_tokenizer)),
      added_(std::move(parts.added_tokens)),
      id_to_bytes_(std::move(parts.id_to_bytes)),
      id_known_(std::move(parts.id_known)),
      bos_(parts.bos),
      eos_(parts.eos),
      pad_(parts.pad),
      source_files_(std::move(parts.source_files)) {
  for (const AddedToken& token : added_.tokens()) added_by_content_.emplace(token.content, token.id);
}

std::vector<TokenId> BpeTokenizer::Encode(std::string_view text) const {
  if (const auto bad = FindInvalidUtf8(text)) {
    throw InvalidInput(name_ + ": cannot encode text that is not valid UTF-8 (byte " + std::to_string(*bad) + ")");
  }
  std::vector<TokenId> ids;
  ids.reserve(text.size() / 3 + 4);
  std::size_t position = 0;
  while (position < text.size()) {
    const auto match = added_.FindNext(text, position);
    const std::size_t segment_end = match ? match->begin : text.size();
    EncodeSegment(text.substr(position, segment_end - position), &ids);
    if (!match) break;
    ids.push_back(match->id);
    position = match->end;
  }
  return ids;
}

void BpeTokenizer::EncodeSegment(std::string_view segment, std::vector<TokenId>* ids) const {
  if (segment.empty()) return;
  std::string normalized;
  if (normalizer_) {
    normalized = normalizer_->Normalize(segment);
    segment = normalized;
  }
  thread_local std::vector<std::string_view> pieces;  // reused: Encode allocates little per call
  std::vector<std::unique_ptr<std::string>> storage;
  pieces.clear();
  pre_tokenizer_.Split(segment, &pieces, &storage);
  for (const std::string_view piece : pieces) model_->Encode(piece, ids);
}

std::string BpeTokenizer::Decode(const std::vector<TokenId>& ids) const {
  std::string bytes;
  for (const TokenId id : ids) {
    if (id < 0 || id >= VocabSize() || !id_known_[static_cast<std::size_t>(id)]) {
      throw InvalidInput(name_ + ": cannot decode id " + std::to_string(id) + " (no such token in " + source_ +
                         ", vocabulary size " + std::to_string(VocabSize()) + ")");
    }
    bytes += id_to_bytes_[static_cast<std::size_t>(id)];
  }
  return ToValidUtf8(bytes);
}

std::optional<TokenId> BpeTokenizer::TokenToId(std::string_view token) const {
  if (const auto it = added_by_content_.find(std::string(token)); it != added_by_content_.end()) return it->second;
  if (const int32_t* id = model_->Find(token)) return *id;
  return std::nullopt;
}

}  // namespace dpo
