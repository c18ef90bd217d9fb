// Rows of a preference file as the trainer reads them.
#include "trainer/tools/render_rows.h"

#include <nlohmann/json.hpp>

#include "core/common/file_io.h"
#include "core/data/preference_reader.h"
#include "job/job_tokenizer.h"
#include "trainer/tools/jsonl_io.h"

namespace dpo {
namespace {

// The first `rows` non-blank lines of `contents` (all when rows < 0); line numbers are kept.
std::string FirstRows(const std::string& contents, int64_t rows) {
  if (rows < 0) return contents;
  size_t position = 0;
  for (int64_t seen = 0; position < contents.size() && seen < rows;) {
    size_t end = contents.find('\n', position);
    if (end == std::string::npos) end = contents.size();
    if (contents.find_first_not_of(" \t\r", position) < end) ++seen;
    position = end + 1;
  }
  return contents.substr(0, std::min(position, contents.size()));
}

std::string Limit(const char* key, int64_t value) { return std::string("data.") + key + "=" + std::to_string(value); }

nlohmann::ordered_json Truncations(const RowOutcome& row, const DataOptions& data) {
  nlohmann::ordered_json cuts = nlohmann::json::array();
  const auto cut = [&cuts](const char* part, int64_t from, size_t to, const std::string& limit) {
    if (static_cast<int64_t>(to) < from) cuts.push_back({{"part", part}, {"from", from}, {"to", to}, {"limit", limit}});
  };
  const std::string prompt_limit = Limit("max_prompt_length", data.max_prompt_length) + " (truncation_mode " +
                                   TruncationModeName(data.truncation_mode) + ")";
  cut("prompt", row.before_truncation.prompt, row.pair.prompt_ids.size(), prompt_limit);
  cut("chosen", row.before_truncation.chosen, row.pair.chosen_ids.size(), Limit("max_length", data.max_length));
  cut("rejected", row.before_truncation.rejected, row.pair.rejected_ids.size(), Limit("max_length", data.max_length));
  return cuts;
}

nlohmann::ordered_json PartLengthsJson(const PartLengths& lengths) {
  return {{"prompt", lengths.prompt}, {"chosen", lengths.chosen}, {"rejected", lengths.rejected}};
}

nlohmann::ordered_json RowJson(const RowOutcome& row, int64_t line, const std::string& file, const Tokenizer& tokenizer,
                               const DataOptions& data) {
  nlohmann::ordered_json json{{"file", file}, {"line", line}, {"status", BuildStatusName(row.status)}};
  if (row.status != BuildStatus::kOk) {
    std::string reason;
    for (const std::string& problem : row.problems) reason += (reason.empty() ? "" : "; ") + problem;
    json["reason"] = reason;
    json["fails_run"] = row.status == BuildStatus::kInvalid && data.on_bad_row == BadRowPolicy::kError;
    if (row.status == BuildStatus::kInvalid) return json;  // the parts never became ids
    json["before_truncation"] = PartLengthsJson(row.before_truncation);
    return json;
  }
  const TokenizedPair& pair = row.pair;
  json["prompt_ids"] = pair.prompt_ids;
  json["chosen_ids"] = pair.chosen_ids;
  json["rejected_ids"] = pair.rejected_ids;
  json["prompt"] = tokenizer.Decode(pair.prompt_ids);
  json["chosen"] = tokenizer.Decode(pair.chosen_ids);
  json["rejected"] = tokenizer.Decode(pair.rejected_ids);
  json["chosen_mask_tokens"] = pair.chosen_ids.size();
  json["rejected_mask_tokens"] = pair.rejected_ids.size();
  json["before_truncation"] = PartLengthsJson(row.before_truncation);
  json["truncated"] = Truncations(row, data);
  return json;
}

// The text view of one row: a header, then each part between markers with its token count.
void AppendText(const nlohmann::ordered_json& row, std::vector<std::string>& lines) {
  std::string header = "=== " + row["file"].get<std::string>() + ":" + std::to_string(row["line"].get<int64_t>()) +
                       "  " + row["status"].get<std::string>();
  if (row.contains("reason")) header += ": " + row["reason"].get<std::string>();
  if (row.value("fails_run", false)) header += " (ends the run: data.on_bad_row=error)";
  lines.push_back(header);
  if (!row.contains("prompt_ids")) return;
  for (const auto& cut : row["truncated"]) {
    lines.push_back("  cut: " + cut["part"].get<std::string>() + " " + std::to_string(cut["from"].get<int64_t>()) +
                    " -> " + std::to_string(cut["to"].get<int64_t>()) + " tokens by " + cut["limit"].get<std::string>());
  }
  for (const char* part : {"prompt", "chosen", "rejected"}) {
    const size_t tokens = row[std::string(part) + "_ids"].size();
    lines.push_back("--- " + std::string(part) + " (" + std::to_string(tokens) + " tokens" +
                    (std::string(part) == "prompt" ? ", not scored" : ", scored") + ") ---");
    lines.push_back(row[part].get<std::string>());
  }
  lines.push_back("--- end ---");
}

}  // namespace

RenderedRows RenderRows(const JobConfig& config, const RenderOptions& options) {
  const std::string path = options.data.empty() ? config.data_train : options.data;
  const auto tokenizer = JobTokenizer(config);
  DataOptions data = config.data;
  data.on_bad_row = BadRowPolicy::kSkip;  // report every row; fails_run says what the job's policy would do

  RenderedRows rendered;
  const RowObserver on_row = [&](const RowOutcome& row, int64_t line) {
    const nlohmann::ordered_json json = RowJson(row, line, path, *tokenizer, config.data);
    ++rendered.rows;
    if (row.status == BuildStatus::kOk) {
      ++rendered.kept;
    } else if (row.status == BuildStatus::kInvalid) {
      ++rendered.invalid;
    } else {
      ++rendered.dropped;
    }
    if (options.format == RenderFormat::kJson) {
      rendered.lines.push_back(ToJsonLine(json));
    } else {
      AppendText(json, rendered.lines);
    }
  };
  ParsePreferenceData(FirstRows(ReadFile(path), options.rows), path, *tokenizer, data, on_row);
  return rendered;
}

}  // namespace dpo
