// EngineStatus: how the scoring engine answers, without the transport. The codes are the subset
// of gRPC's canonical codes the engine produces, with the same meanings, so the gRPC service maps
// them one to one (reference_service.cc) and precompute reads them directly.
#pragma once

#include <string>
#include <utility>

namespace dpo {

enum class EngineCode {
  kOk,
  kInvalidArgument,     // the request is malformed (empty batch, id outside the vocabulary)
  kFailedPrecondition,  // the request expects another model (fingerprint mismatch)
  kOutOfRange,          // a sequence exceeds a limit of the server (length, completion start)
  kResourceExhausted,   // the request or the queue is over its limit; retry later or smaller
  kUnavailable,         // the engine is shutting down
  kInternal,            // a cache read or a forward failed; the message names which
};

class EngineStatus {
 public:
  EngineStatus() = default;  // OK
  EngineStatus(EngineCode code, std::string message) : code_(code), message_(std::move(message)) {}

  bool ok() const { return code_ == EngineCode::kOk; }
  EngineCode code() const { return code_; }
  const std::string& message() const { return message_; }

 private:
  EngineCode code_ = EngineCode::kOk;
  std::string message_;
};

// "INVALID_ARGUMENT", ...: the gRPC spelling, for logs and error messages.
inline const char* EngineCodeName(EngineCode code) {
  switch (code) {
    case EngineCode::kOk: return "OK";
    case EngineCode::kInvalidArgument: return "INVALID_ARGUMENT";
    case EngineCode::kFailedPrecondition: return "FAILED_PRECONDITION";
    case EngineCode::kOutOfRange: return "OUT_OF_RANGE";
    case EngineCode::kResourceExhausted: return "RESOURCE_EXHAUSTED";
    case EngineCode::kUnavailable: return "UNAVAILABLE";
    case EngineCode::kInternal: return "INTERNAL";
  }
  return "UNKNOWN";
}

}  // namespace dpo
