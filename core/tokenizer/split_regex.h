// The pre-tokenizer split regex of a tokenizer.json, on PCRE2 with Unicode properties
// (PCRE2_UTF | PCRE2_UCP: \s, \p{L}, \p{N} are Unicode-aware; \s means Unicode White_Space, as in
// HF tokenizers, not PCRE2's slightly larger set) and JIT compilation when the
// platform supports it. Builds without PCRE2 still compile; Compile() then throws.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace dpo {

// GPT-2's split pattern, used by ByteLevel pre-tokenizers with use_regex=true.
inline constexpr const char* kGpt2SplitPattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

// Thread safety: immutable after Compile(); Split() may run concurrently (per-thread match
// buffers and JIT stacks).
class SplitRegex {
 public:
  ~SplitRegex();
  SplitRegex(const SplitRegex&) = delete;
  SplitRegex& operator=(const SplitRegex&) = delete;

  // Compiles `pattern`; `literal` matches it as plain text (a tokenizer.json {"String": ...}).
  // Throws Error(kInvalidInput) "invalid regex at offset N: <PCRE2 message>", or, in builds
  // without PCRE2, a message saying so; callers prefix the file and JSON path.
  static std::unique_ptr<SplitRegex> Compile(const std::string& pattern, bool literal = false);

  // Appends the pieces of `text` (valid UTF-8, checked by the caller) to `pieces`: each match,
  // and each non-empty stretch between matches, in order (HF's "Isolated" split behaviour).
  // Empty matches are skipped.
  void Split(std::string_view text, std::vector<std::string_view>* pieces) const;

  bool jit() const { return jit_; }
  const std::string& pattern() const { return pattern_; }

 private:
  SplitRegex() = default;

  void* code_ = nullptr;  // pcre2_code_8*
  bool jit_ = false;
  std::string pattern_;
};

// Whether this build can compile split regexes (PCRE2 was found at configure time).
bool SplitRegexAvailable();

}  // namespace dpo
