// Unicode normalisation for tokenizer.json normalizers (NFC for Qwen2, ...), on ICU. Builds
// without ICU still compile; Create() then throws.
#pragma once

#include <memory>
#include <string>
#include <string_view>

namespace dpo {

enum class NormalizationForm { kNfc, kNfd, kNfkc, kNfkd };

// Thread safety: immutable; Normalize() may run concurrently.
class UnicodeNormalizer {
 public:
  // Throws Error(kInvalidInput) in builds without ICU (callers prefix the file and JSON path).
  static std::unique_ptr<UnicodeNormalizer> Create(NormalizationForm form);

  // `text` (valid UTF-8) in the normal form. ASCII text is returned without calling ICU.
  std::string Normalize(std::string_view text) const;

 private:
  explicit UnicodeNormalizer(const void* instance) : instance_(instance) {}
  const void* instance_;  // const icu::Normalizer2*, owned by ICU
};

// Whether this build has ICU (found at configure time).
bool UnicodeNormalizerAvailable();

}  // namespace dpo
