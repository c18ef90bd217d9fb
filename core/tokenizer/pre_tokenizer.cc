// Pre-tokenizer steps.
#include "core/tokenizer/pre_tokenizer.h"

#include <utility>

namespace dpo {
namespace {

bool IsAsciiDigit(char c) { return c >= '0' && c <= '9'; }

void SplitDigits(std::string_view text, bool individual, std::vector<std::string_view>* out) {
  std::size_t i = 0;
  while (i < text.size()) {
    std::size_t j = i + 1;
    if (IsAsciiDigit(text[i])) {
      if (!individual) {
        while (j < text.size() && IsAsciiDigit(text[j])) ++j;
      }
    } else {
      while (j < text.size() && !IsAsciiDigit(text[j])) ++j;
    }
    out->push_back(text.substr(i, j - i));
    i = j;
  }
}

}  // namespace

void PreTokenizer::AddSplit(std::unique_ptr<SplitRegex> regex) {
  steps_.push_back(Step{Kind::kSplit, std::move(regex), false});
}

void PreTokenizer::AddDigits(bool individual) { steps_.push_back(Step{Kind::kDigits, nullptr, individual}); }

void PreTokenizer::AddPrefixSpace() { steps_.push_back(Step{Kind::kPrefixSpace, nullptr, false}); }

void PreTokenizer::Apply(const Step& step, std::string_view piece, std::vector<std::string_view>* out,
                         std::vector<std::unique_ptr<std::string>>* storage) const {
  switch (step.kind) {
    case Kind::kSplit:
      step.regex->Split(piece, out);
      break;
    case Kind::kDigits:
      SplitDigits(piece, step.individual_digits, out);
      break;
    case Kind::kPrefixSpace:
      if (!piece.empty() && piece.front() == ' ') {
        out->push_back(piece);
      } else {
        storage->push_back(std::make_unique<std::string>(" " + std::string(piece)));
        out->push_back(*storage->back());
      }
      break;
  }
}

void PreTokenizer::Split(std::string_view text, std::vector<std::string_view>* pieces,
                         std::vector<std::unique_ptr<std::string>>* storage) const {
  if (text.empty()) return;
  if (steps_.empty()) {
    pieces->push_back(text);
    return;
  }
  if (steps_.size() == 1) {
    Apply(steps_[0], text, pieces, storage);
    return;
  }
  thread_local std::vector<std::string_view> current, next;
  current.assign(1, text);
  next.clear();
  for (std::size_t s = 0; s < steps_.size(); ++s) {
    std::vector<std::string_view>* out = s + 1 == steps_.size() ? pieces : &next;
    for (const std::string_view piece : current) Apply(steps_[s], piece, out, storage);
    if (out == &next) {
      current.swap(next);
      next.clear();
    }
  }
}

}  // namespace dpo
