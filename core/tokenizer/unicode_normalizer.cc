// ICU Normalizer2 on UTF-8, with an ASCII fast path (ASCII is in every normal form).
#include "core/tokenizer/unicode_normalizer.h"

#include "core/common/error.h"

#if DPO_HAVE_ICU
#include <unicode/bytestream.h>
#include <unicode/normalizer2.h>
#endif

namespace dpo {
namespace {

bool IsAscii(std::string_view text) {
  for (const char c : text) {
    if (static_cast<unsigned char>(c) >= 0x80) return false;
  }
  return true;
}

}  // namespace

#if DPO_HAVE_ICU

bool UnicodeNormalizerAvailable() { return true; }

std::unique_ptr<UnicodeNormalizer> UnicodeNormalizer::Create(NormalizationForm form) {
  UErrorCode status = U_ZERO_ERROR;
  const icu::Normalizer2* instance = nullptr;
  switch (form) {
    case NormalizationForm::kNfc: instance = icu::Normalizer2::getNFCInstance(status); break;
    case NormalizationForm::kNfd: instance = icu::Normalizer2::getNFDInstance(status); break;
    case NormalizationForm::kNfkc: instance = icu::Normalizer2::getNFKCInstance(status); break;
    case NormalizationForm::kNfkd: instance = icu::Normalizer2::getNFKDInstance(status); break;
  }
  if (U_FAILURE(status) || instance == nullptr) {
    throw Error(ErrorKind::kInternal, std::string("ICU normalizer unavailable: ") + u_errorName(status));
  }
  return std::unique_ptr<UnicodeNormalizer>(new UnicodeNormalizer(instance));
}

std::string UnicodeNormalizer::Normalize(std::string_view text) const {
  if (IsAscii(text)) return std::string(text);
  const auto* normalizer = static_cast<const icu::Normalizer2*>(instance_);
  const icu::StringPiece piece(text.data(), static_cast<int32_t>(text.size()));
  UErrorCode status = U_ZERO_ERROR;
  if (normalizer->isNormalizedUTF8(piece, status) && U_SUCCESS(status)) return std::string(text);
  std::string out;
  icu::StringByteSink<std::string> sink(&out, static_cast<int32_t>(text.size()));
  status = U_ZERO_ERROR;
  normalizer->normalizeUTF8(0, piece, sink, nullptr, status);
  if (U_FAILURE(status)) throw InvalidInput(std::string("Unicode normalisation failed: ") + u_errorName(status));
  return out;
}

#else  // !DPO_HAVE_ICU

bool UnicodeNormalizerAvailable() { return false; }

std::unique_ptr<UnicodeNormalizer> UnicodeNormalizer::Create(NormalizationForm) {
  throw InvalidInput("this build has no ICU (install libicu-dev and reconfigure): Unicode normalizers are unavailable");
}

std::string UnicodeNormalizer::Normalize(std::string_view text) const {
  (void)IsAscii(text);
  return std::string(text);
}

#endif

}  // namespace dpo
