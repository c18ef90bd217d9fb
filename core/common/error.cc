// Exit codes for error kinds.
#include "core/common/error.h"

namespace dpo {

int ExitCodeFor(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kInternal: return 1;
    case ErrorKind::kInvalidInput: return 2;
    case ErrorKind::kReferenceUnavailable: return 3;
    case ErrorKind::kTimeout: return 4;
    case ErrorKind::kNoCheckpoint: return 5;
  }
  return 1;
}

const char* ErrorKindName(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kInternal: return "internal error";
    case ErrorKind::kInvalidInput: return "invalid input";
    case ErrorKind::kReferenceUnavailable: return "reference unavailable";
    case ErrorKind::kTimeout: return "timeout";
    case ErrorKind::kNoCheckpoint: return "no valid checkpoint";
  }
  return "internal error";
}

}  // namespace dpo
