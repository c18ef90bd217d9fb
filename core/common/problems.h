// "Collect every problem, then throw once": the one format in which validation reports what is
// wrong, so a user fixes a config or a data file in one pass instead of one error per run.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace dpo {

// Throws InvalidInput("<heading>\n  <problem 1>\n  <problem 2>...") when `problems` is not
// empty; returns otherwise. The heading brings its own punctuation ("invalid model config:"). At most `max_shown` problems are listed, followed by
// "\n  ... <n> more" when some were left out, with ` (<more_note>)` when a note is given (the
// setting that raises the limit).
void ThrowIfProblems(const std::string& heading, const std::vector<std::string>& problems,
                     std::size_t max_shown = std::numeric_limits<std::size_t>::max(),
                     const std::string& more_note = "");

// "1 problem", "3 problems": a count with its noun, for headings.
std::string CountOf(int64_t count, const std::string& noun);

// "a; b; c": problems on one line, for warnings and nested messages.
std::string JoinProblems(const std::vector<std::string>& problems);

}  // namespace dpo
