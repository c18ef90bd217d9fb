// The one exception type the project throws across component boundaries, and the exit codes
// that `main` functions turn it into (docs/architecture.md, "Binaries" and "Conventions").
#pragma once

#include <stdexcept>
#include <string>

namespace dpo {

// Why an operation failed; each kind maps to one process exit code.
enum class ErrorKind {
  kInternal,              // a bug or an unexpected runtime failure: exit 1
  kInvalidInput,          // bad config, data, model or file contents: exit 2
  kReferenceUnavailable,  // the reference server cannot be reached or disagrees: exit 3
  kTimeout,               // a collective or watchdog timeout: exit 4
  kNoCheckpoint,          // no valid checkpoint to resume from: exit 5
};

int ExitCodeFor(ErrorKind kind);
const char* ErrorKindName(ErrorKind kind);

// Messages name the place, the value and the limit, e.g.
// `data/train.jsonl:17: field "chosen": empty after truncation to max_length=512`.
class Error : public std::runtime_error {
 public:
  Error(ErrorKind kind, const std::string& message) : std::runtime_error(message), kind_(kind) {}
  ErrorKind kind() const { return kind_; }
  int exit_code() const { return ExitCodeFor(kind_); }

 private:
  ErrorKind kind_;
};

// Shorthand for the most common kind.
inline Error InvalidInput(const std::string& message) {
  return Error(ErrorKind::kInvalidInput, message);
}

}  // namespace dpo
