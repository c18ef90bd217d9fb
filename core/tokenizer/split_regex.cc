// PCRE2 wrapper: compile once, match with per-thread match data and JIT stack.
#include "core/tokenizer/split_regex.h"

#include "core/common/error.h"

#if DPO_HAVE_PCRE2
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#endif

namespace dpo {

#if DPO_HAVE_PCRE2
namespace {

std::string Pcre2Message(int code) {
  PCRE2_UCHAR buffer[256];
  const int length = pcre2_get_error_message(code, buffer, sizeof(buffer));
  return length < 0 ? "PCRE2 error " + std::to_string(code) : std::string(reinterpret_cast<char*>(buffer), length);
}

// One set per thread, shared by every pattern: match data sized for any pattern's overall match,
// and a JIT stack large enough for long whitespace runs under lookahead.
struct MatchScratch {
  pcre2_match_data* match_data = nullptr;
  pcre2_match_context* context = nullptr;
  pcre2_jit_stack* jit_stack = nullptr;

  MatchScratch() {
    match_data = pcre2_match_data_create(16, nullptr);
    context = pcre2_match_context_create(nullptr);
    jit_stack = pcre2_jit_stack_create(32 * 1024, 16 * 1024 * 1024, nullptr);
    if (match_data == nullptr || context == nullptr || jit_stack == nullptr) {
      throw Error(ErrorKind::kInternal, "PCRE2: out of memory creating match buffers");
    }
    pcre2_jit_stack_assign(context, nullptr, jit_stack);
  }
  ~MatchScratch() {
    pcre2_jit_stack_free(jit_stack);
    pcre2_match_context_free(context);
    pcre2_match_data_free(match_data);
  }
};

MatchScratch& Scratch() {
  thread_local MatchScratch scratch;
  return scratch;
}

// HF tokenizers' regexes (Rust's regex crate, Oniguruma) read \s as Unicode's White_Space property.
// PCRE2 (10.42) in UCP mode also counts U+180E MONGOLIAN VOWEL SEPARATOR as \s -- it left White_Space
// in Unicode 6.3 -- so " \u180e't" would split differently. Writing \s and \S as the property
// itself gives HF's sets, inside and outside character classes alike. \Q...\E text is copied as is.
std::string WithUnicodeWhiteSpace(const std::string& pattern) {
  std::string out;
  out.reserve(pattern.size() + 32);
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] != '\\' || i + 1 == pattern.size()) {
      out += pattern[i];
      continue;
    }
    const char next = pattern[++i];
    if (next == 's') {
      out += "\\p{White_Space}";
    } else if (next == 'S') {
      out += "\\P{White_Space}";
    } else if (next == 'Q') {
      const std::size_t end = pattern.find("\\E", i + 1);
      const std::size_t stop = end == std::string::npos ? pattern.size() : end + 2;
      out += pattern.substr(i - 1, stop - (i - 1));
      i = stop - 1;
    } else {
      out += '\\';
      out += next;
    }
  }
  return out;
}

std::size_t Utf8Length(unsigned char lead) {
  return lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4;
}

}  // namespace

bool SplitRegexAvailable() { return true; }

SplitRegex::~SplitRegex() { pcre2_code_free(static_cast<pcre2_code*>(code_)); }

std::unique_ptr<SplitRegex> SplitRegex::Compile(const std::string& pattern, bool literal) {
  int error_code = 0;
  PCRE2_SIZE error_offset = 0;
  // PCRE2 refuses UCP together with LITERAL (a literal has no classes for it to change).
  const uint32_t options = PCRE2_UTF | (literal ? PCRE2_LITERAL : PCRE2_UCP);
  const std::string compiled = literal ? pattern : WithUnicodeWhiteSpace(pattern);
  pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(compiled.data()), compiled.size(), options,
                                   &error_code, &error_offset, nullptr);
  if (code == nullptr) {
    // The offset is into the pattern as compiled: name that pattern when it differs from the given one.
    throw InvalidInput("invalid regex at offset " + std::to_string(error_offset) + ": " + Pcre2Message(error_code) +
                       (compiled == pattern ? "" : " (offset in the pattern as compiled, \\s written as \\p{White_Space}: " +
                                                       compiled + ")"));
  }
  std::unique_ptr<SplitRegex> regex(new SplitRegex());
  regex->code_ = code;
  regex->pattern_ = pattern;
  regex->jit_ = pcre2_jit_compile(code, PCRE2_JIT_COMPLETE) == 0;
  return regex;
}

void SplitRegex::Split(std::string_view text, std::vector<std::string_view>* pieces) const {
  MatchScratch& scratch = Scratch();
  auto* code = static_cast<pcre2_code*>(code_);
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  const PCRE2_SIZE size = text.size();
  PCRE2_SIZE start = 0, gap = 0;
  while (start < size) {
    const int rc = jit_ ? pcre2_jit_match(code, subject, size, start, PCRE2_NO_UTF_CHECK, scratch.match_data,
                                          scratch.context)
                        : pcre2_match(code, subject, size, start, PCRE2_NO_UTF_CHECK, scratch.match_data,
                                      scratch.context);
    if (rc == PCRE2_ERROR_NOMATCH) break;
    if (rc < 0) {
      throw Error(ErrorKind::kInternal, "split regex /" + pattern_ + "/ failed at byte " + std::to_string(start) +
                                            ": " + Pcre2Message(rc));
    }
    const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(scratch.match_data);
    const PCRE2_SIZE begin = ovector[0], end = ovector[1];
    if (end == begin) {  // an empty match: step over one character
      start = begin + (begin < size ? Utf8Length(static_cast<unsigned char>(text[begin])) : 1);
      continue;
    }
    if (begin > gap) pieces->push_back(text.substr(gap, begin - gap));
    pieces->push_back(text.substr(begin, end - begin));
    gap = start = end;
  }
  if (gap < size) pieces->push_back(text.substr(gap));
}

#else  // !DPO_HAVE_PCRE2

bool SplitRegexAvailable() { return false; }

SplitRegex::~SplitRegex() = default;

std::unique_ptr<SplitRegex> SplitRegex::Compile(const std::string&, bool) {
  throw InvalidInput("this build has no PCRE2 (install libpcre2-dev and reconfigure): split regexes are unavailable");
}

void SplitRegex::Split(std::string_view, std::vector<std::string_view>*) const {}

#endif

}  // namespace dpo
