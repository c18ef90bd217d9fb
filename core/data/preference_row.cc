// Row validation. nlohmann::json refuses invalid UTF-8 without saying in which field it is, so
// invalid bytes are first replaced by a sentinel code point and located after parsing.
#include "core/data/preference_row.h"

#include <nlohmann/json.hpp>

#include <cctype>
#include <cstdint>
#include <optional>
#include <utility>

#include "core/common/utf8.h"
#include "core/data/conversation_row.h"

namespace dpo {
namespace {

using nlohmann::json;

constexpr std::string_view kSentinel = kInvalidUtf8Sentinel;
constexpr const char* kTextFields[] = {"prompt", "chosen", "rejected"};
constexpr const char* kIdFields[] = {"prompt_ids", "chosen_ids", "rejected_ids"};

std::string FieldPrefix(std::string_view name) {
  return "field \"" + std::string(name) + "\": ";
}

std::string InvalidUtf8InLine(std::size_t offset) {
  return "invalid UTF-8 at byte " + std::to_string(offset) + " of the line";
}

bool ContainsIgnoringCase(std::string_view text, std::string_view needle) {
  for (std::size_t i = 0; i + needle.size() <= text.size(); ++i) {
    bool match = true;
    for (std::size_t k = 0; k < needle.size() && match; ++k) {
      match = std::tolower(static_cast<unsigned char>(text[i + k])) == needle[k];
    }
    if (match) return true;
  }
  return false;
}

// Each invalid byte becomes one sentinel, so the first sentinel in a decoded field value sits at
// the offset FindInvalidUtf8 reports for the original value.
std::string ReplaceInvalidUtf8(std::string_view line) {
  std::string replaced;
  replaced.reserve(line.size() + 8);
  std::size_t position = 0;
  while (const auto offset = FindInvalidUtf8(line.substr(position))) {
    replaced.append(line.substr(position, *offset));
    replaced.append(kSentinel);
    position += *offset + 1;
  }
  replaced.append(line.substr(position));
  return replaced;
}

// "[json.exception.parse_error.101] parse error at line 1, column 5: ..." -> "parse error at
// column 5: ..." (the line is always 1: each row is parsed alone).
std::string DescribeJsonError(const json::exception& error) {
  std::string message = error.what();
  if (!message.empty() && message.front() == '[') {
    const std::size_t end = message.find("] ");
    if (end != std::string::npos) message.erase(0, end + 2);
  }
  const std::string line_part = "at line 1, ";
  if (const std::size_t at = message.find(line_part); at != std::string::npos) {
    message.erase(at + 3, line_part.size() - 3);
  }
  return "invalid JSON: " + message;
}

std::string Abbreviate(const json& value) {
  std::string text = value.dump(-1, ' ', false, json::error_handler_t::replace);
  if (text.size() > 40) text = text.substr(0, 37) + "...";
  return text;
}

// The string value of a text field, or nullopt after recording why it is unusable.
std::optional<std::string> TextField(const json& row, const char* name, bool may_be_empty,
                                     bool line_had_invalid_utf8, bool* found_invalid_utf8,
                                     std::vector<std::string>* problems) {
  const auto it = row.find(name);
  if (it == row.end()) {
    problems->push_back(FieldPrefix(name) + "missing");
    return std::nullopt;
  }
  if (!it->is_string()) {
    problems->push_back(FieldPrefix(name) + "expected a string, found " + it->type_name());
    return std::nullopt;
  }
  const auto& text = it->get_ref<const std::string&>();
  if (line_had_invalid_utf8) {
    if (const std::size_t at = text.find(kSentinel); at != std::string::npos) {
      *found_invalid_utf8 = true;
      problems->push_back(FieldPrefix(name) + "invalid UTF-8 at byte " + std::to_string(at));
      return std::nullopt;
    }
  }
  if (text.empty() && !may_be_empty) {
    problems->push_back(FieldPrefix(name) + "empty");
    return std::nullopt;
  }
  return text;
}

// The ids of an id field, or nullopt after recording the first problem in it.
std::optional<std::vector<TokenId>> IdField(const json& row, const char* name, bool may_be_empty,
                                            int64_t vocab_size, std::vector<std::string>* problems) {
  const auto it = row.find(name);
  if (it == row.end()) {
    problems->push_back(FieldPrefix(name) + "missing");
    return std::nullopt;
  }
  if (!it->is_array()) {
    problems->push_back(FieldPrefix(name) + "expected an array of integers, found " +
                        it->type_name());
    return std::nullopt;
  }
  std::vector<TokenId> ids;
  ids.reserve(it->size());
  const std::string vocabulary = "the vocabulary [0, " + std::to_string(vocab_size) + ")";
  for (std::size_t i = 0; i < it->size(); ++i) {
    const json& element = (*it)[i];
    const std::string at_index = " at index " + std::to_string(i);
    if (!element.is_number_integer()) {
      problems->push_back(FieldPrefix(name) + "expected an integer" + at_index + ", found " +
                          Abbreviate(element));
      return std::nullopt;
    }
    // Unsigned values above INT64_MAX must not wrap into the int64 range.
    const bool in_range = element.is_number_unsigned()
                              ? element.get<uint64_t>() < static_cast<uint64_t>(vocab_size)
                              : element.get<int64_t>() >= 0 && element.get<int64_t>() < vocab_size;
    if (!in_range) {
      problems->push_back(FieldPrefix(name) + "id " + element.dump() + at_index +
                          " is outside " + vocabulary);
      return std::nullopt;
    }
    ids.push_back(element.get<int64_t>());
  }
  if (ids.empty() && !may_be_empty) {
    problems->push_back(FieldPrefix(name) + "empty");
    return std::nullopt;
  }
  return ids;
}

std::string QuotedList(const std::vector<std::string>& names) {
  std::string list;
  for (const std::string& name : names) list += (list.empty() ? "\"" : ", \"") + name + "\"";
  return list;
}

RowOutcome Invalid(std::vector<std::string> problems) {
  RowOutcome outcome;
  outcome.status = BuildStatus::kInvalid;
  outcome.problems = std::move(problems);
  return outcome;
}

}  // namespace

RowOutcome ProcessPreferenceRow(std::string_view line, int64_t line_number,
                                const SequenceBuilder& builder) {
  const std::optional<std::size_t> first_invalid = FindInvalidUtf8(line);
  std::string sanitized;
  if (first_invalid) {
    // A sentinel already in the line would be mistaken for an invalid byte: report the line.
    if (line.find(kSentinel) != std::string_view::npos || ContainsIgnoringCase(line, "\\ufdd0")) {
      return Invalid({InvalidUtf8InLine(*first_invalid)});
    }
    sanitized = ReplaceInvalidUtf8(line);
  }
  json row;
  try {
    row = json::parse(first_invalid ? std::string_view(sanitized) : line);
  } catch (const json::exception& error) {
    // The parser's columns and excerpt refer to the sanitized line: the encoding comes first.
    if (first_invalid) return Invalid({InvalidUtf8InLine(*first_invalid)});
    return Invalid({DescribeJsonError(error)});
  }

  std::vector<std::string> problems;
  bool found_invalid_utf8 = false;
  const auto finish = [&]() {
    if (first_invalid && !found_invalid_utf8) problems.push_back(InvalidUtf8InLine(*first_invalid));
    return Invalid(std::move(problems));
  };
  if (!row.is_object()) {
    problems.push_back("not a JSON object");
    return finish();
  }
  std::vector<std::string> text_present, ids_present;
  for (const char* name : kTextFields) {
    if (row.contains(name)) text_present.emplace_back(name);
  }
  for (const char* name : kIdFields) {
    if (row.contains(name)) ids_present.emplace_back(name);
  }
  if (!text_present.empty() && !ids_present.empty()) {
    problems.push_back("mixes text fields (" + QuotedList(text_present) + ") and id fields (" +
                       QuotedList(ids_present) + ") in one row");
    return finish();
  }
  if (text_present.empty() && ids_present.empty()) {
    problems.push_back(
        "no preference fields: expected \"prompt\", \"chosen\", \"rejected\" (text) or "
        "\"prompt_ids\", \"chosen_ids\", \"rejected_ids\" (token ids)");
    return finish();
  }

  const bool ids_form = !ids_present.empty();
  std::vector<TokenId> prompt_ids, chosen_ids, rejected_ids;
  if (ids_form) {
    const int64_t vocab_size = builder.tokenizer().VocabSize();
    auto prompt = IdField(row, "prompt_ids", true, vocab_size, &problems);
    auto chosen = IdField(row, "chosen_ids", false, vocab_size, &problems);
    auto rejected = IdField(row, "rejected_ids", false, vocab_size, &problems);
    if (!problems.empty() || first_invalid) return finish();
    prompt_ids = builder.PromptFromIds(std::move(*prompt));
    chosen_ids = builder.CompletionFromIds(std::move(*chosen));
    rejected_ids = builder.CompletionFromIds(std::move(*rejected));
  } else if (IsConversationalRow(row)) {
    auto conversation = ReadConversationRow(row, first_invalid.has_value(), &found_invalid_utf8, &problems);
    if (!conversation || first_invalid) return finish();
    prompt_ids = builder.PromptFromMessages(conversation->prompt);
    chosen_ids = builder.CompletionFromMessage(conversation->chosen);
    rejected_ids = builder.CompletionFromMessage(conversation->rejected);
  } else {
    const bool check = first_invalid.has_value();
    auto prompt = TextField(row, "prompt", true, check, &found_invalid_utf8, &problems);
    auto chosen = TextField(row, "chosen", false, check, &found_invalid_utf8, &problems);
    auto rejected = TextField(row, "rejected", false, check, &found_invalid_utf8, &problems);
    if (!problems.empty() || first_invalid) return finish();
    prompt_ids = builder.PromptFromText(*prompt);
    chosen_ids = builder.CompletionFromText(*chosen);
    rejected_ids = builder.CompletionFromText(*rejected);
  }

  PairOutcome built = builder.BuildPair(std::move(prompt_ids), std::move(chosen_ids),
                                        std::move(rejected_ids), line_number);
  RowOutcome outcome;
  outcome.status = built.status;
  outcome.before_truncation = built.before_truncation;
  if (built.status == BuildStatus::kOk) {
    outcome.pair = std::move(built.pair);
  } else if (built.field.empty()) {
    outcome.problems.push_back(built.reason);
  } else {
    outcome.problems.push_back(FieldPrefix(built.field + (ids_form ? "_ids" : "")) + built.reason);
  }
  return outcome;
}

}  // namespace dpo
