// File-level reading: line splitting, per-row outcomes, the bad-row policy and the rejects file.
#include "core/data/preference_reader.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <utility>

#include "core/common/error.h"
#include "core/common/file_io.h"
#include "core/common/problems.h"
#include "core/data/preference_row.h"

namespace dpo {
namespace {

bool IsBlank(std::string_view line) {
  return std::all_of(line.begin(), line.end(),
                     [](char c) { return c == ' ' || c == '\t' || c == '\r'; });
}

}  // namespace

PreferenceDataset ParsePreferenceData(std::string_view contents, const std::string& path,
                                      const Tokenizer& tokenizer, const DataOptions& options,
                                      const RowObserver& on_row) {
  const SequenceBuilder builder(tokenizer, options);
  PreferenceDataset dataset;
  dataset.path = path;
  for (const BuildStatus status : {BuildStatus::kInvalid, BuildStatus::kEmptyAfterTruncation,
                                   BuildStatus::kChosenEqualsRejected}) {
    dataset.dropped_by_reason[BuildStatusName(status)] = 0;
  }

  std::vector<std::string> problems;  // "path:line: problem", for on_bad_row: error
  int64_t invalid_rows = 0;
  int64_t line_number = 0;
  std::size_t position = 0;
  while (position < contents.size()) {
    std::size_t end = contents.find('\n', position);
    if (end == std::string_view::npos) end = contents.size();
    const std::string_view line = contents.substr(position, end - position);
    position = end + 1;
    ++line_number;
    if (IsBlank(line)) continue;
    ++dataset.rows_read;

    RowOutcome row;
    if (static_cast<int64_t>(line.size()) > options.max_line_bytes) {
      row.status = BuildStatus::kInvalid;
      row.problems.push_back("line of " + std::to_string(line.size()) + " bytes exceeds data.max_line_bytes=" +
                             std::to_string(options.max_line_bytes));
    } else {
      row = ProcessPreferenceRow(line.back() == '\r' ? line.substr(0, line.size() - 1) : line, line_number, builder);
    }
    if (on_row) on_row(row, line_number);
    if (row.status == BuildStatus::kOk) {
      dataset.prompt_tokens += static_cast<int64_t>(row.pair.prompt_ids.size());
      dataset.completion_tokens +=
          static_cast<int64_t>(row.pair.chosen_ids.size() + row.pair.rejected_ids.size());
      dataset.pairs.push_back(std::move(row.pair));
      continue;
    }
    if (row.status == BuildStatus::kInvalid) {
      ++invalid_rows;
      if (options.on_bad_row == BadRowPolicy::kError) {
        for (const std::string& problem : row.problems) {
          problems.push_back(path + ":" + std::to_string(line_number) + ": " + problem);
        }
        continue;
      }
    }
    ++dataset.dropped_by_reason[BuildStatusName(row.status)];
    dataset.rejected.push_back({line_number, JoinProblems(row.problems)});
  }

  ThrowIfProblems(path + ": " + CountOf(static_cast<int64_t>(problems.size()), "problem") + " in " +
                      CountOf(invalid_rows, "invalid row") + " (data.on_bad_row=error)",
                  problems, static_cast<std::size_t>(std::max<int64_t>(options.max_reported_problems, 0)),
                  "data.max_reported_problems=" + std::to_string(options.max_reported_problems));
  return dataset;
}

PreferenceDataset LoadPreferenceData(const std::string& path, const Tokenizer& tokenizer,
                                     const DataOptions& options, const RowObserver& on_row) {
  return ParsePreferenceData(ReadFile(path), path, tokenizer, options, on_row);
}

void WriteRejects(const std::string& path, const PreferenceDataset& dataset) {
  std::string contents;
  for (const RejectedRow& row : dataset.rejected) {
    const nlohmann::json entry = {{"file", dataset.path}, {"line", row.line}, {"reason", row.reason}};
    contents += entry.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    contents += '\n';
  }
  WriteFileAtomically(path, contents);
}

}  // namespace dpo
