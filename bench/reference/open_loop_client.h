// An open-loop load generator for dpo.v1.ReferenceModel/Score: requests leave on a fixed
// schedule whatever the responses (asynchronous calls through gRPC's callback API), phase after
// phase, and each call's send time, latency and status are recorded.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "bench/reference/bench_support.h"
#include "dpo/v1/reference_service.grpc.pb.h"

namespace dpo::bench {

struct LoadPhase {
  std::string name;
  double rate = 0;     // requests per second, evenly spaced
  double seconds = 0;  // the phase sends floor(rate * seconds) requests
};

struct CallRecord {
  int phase = 0;
  double scheduled_s = 0;  // when it was due, seconds after the origin
  double sent_s = 0;       // when it left (sent_s - scheduled_s: the sender's lag)
  double latency_s = 0;    // send to completion
  grpc::StatusCode code = grpc::StatusCode::UNKNOWN;
};

// Sends the phases back to back, the first request due at `origin`, request i built by
// make_request(i) just before it is due, each call with a deadline of `timeout_s`. Returns once
// every call has completed: the deadline bounds that, and calls still open `timeout_s` + 30 s
// after the last send are cancelled. Records are in send order. Thread safety: `stub` is shared
// with gRPC's callback threads for the duration of the call only.
std::vector<CallRecord> RunOpenLoop(v1::ReferenceModel::Stub& stub, const std::vector<LoadPhase>& phases,
                                    const std::function<v1::ScoreRequest(int64_t call)>& make_request,
                                    double timeout_s, Clock::time_point origin);

}  // namespace dpo::bench
