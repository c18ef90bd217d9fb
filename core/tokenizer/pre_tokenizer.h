// The pre-tokenizer of a byte-level tokenizer.json as a list of steps applied in order to every
// piece: regex splits (Split, and ByteLevel with use_regex), Digits, and ByteLevel's
// add_prefix_space. ByteLevel's byte -> character mapping itself is implicit: the BPE model
// works on raw bytes.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/tokenizer/split_regex.h"

namespace dpo {

// Thread safety: immutable after construction; Split() may run concurrently.
class PreTokenizer {
 public:
  // Splits every piece into matches and the stretches between them ("Isolated").
  void AddSplit(std::unique_ptr<SplitRegex> regex);
  // Isolates runs of ASCII digits, or each digit when `individual` (HF's Digits).
  void AddDigits(bool individual);
  // Prepends a space to every piece that does not start with one (ByteLevel add_prefix_space).
  void AddPrefixSpace();

  // Appends the pieces of `text` to `pieces`: views into `text`, or into strings appended to
  // `storage` (which must outlive the views; only add_prefix_space adds any). Empty pieces are
  // never produced.
  void Split(std::string_view text, std::vector<std::string_view>* pieces, std::vector<std::unique_ptr<std::string>>* storage) const;

  std::size_t size() const { return steps_.size(); }

 private:
  enum class Kind { kSplit, kDigits, kPrefixSpace };
  struct Step {
    Kind kind;
    std::unique_ptr<SplitRegex> regex;
    bool individual_digits = false;
  };
  void Apply(const Step& step, std::string_view piece, std::vector<std::string_view>* out,
             std::vector<std::unique_ptr<std::string>>* storage) const;

  std::vector<Step> steps_;
};

}  // namespace dpo
