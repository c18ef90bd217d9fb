// ServerMetrics: the reference server's Prometheus endpoint (HTTP GET /metrics on
// metrics_listen). Built only with prometheus-cpp (DPO_WITH_PROMETHEUS).
//   dpo_reference_requests_total{method,code}          counter, every RPC by final status
//   dpo_reference_request_duration_seconds{method}     histogram, receipt to final status
//   dpo_reference_batch_sequences, dpo_reference_batch_tokens  histograms, per forward
//   dpo_reference_queue_depth                          gauge, requests waiting for a batch
//   dpo_reference_cache_{hits,misses,corrupt}_total, dpo_reference_cache_entries
//   dpo_reference_auth_failures_total
// The last five are read from the server's own counters (GetStats) at scrape time.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <grpcpp/support/server_interceptor.h>

#include "dpo/v1/reference_service.pb.h"

namespace dpo {

class ServerMetrics {
 public:
  // Serves on `listen_address` ("HOST:PORT"; port 0 = any free port). `stats` is called on each
  // scrape (from the endpoint's thread) and must be thread-safe. Throws Error(kInvalidInput)
  // naming the address when it cannot listen.
  ServerMetrics(const std::string& listen_address, std::function<v1::ServerStats()> stats);
  ~ServerMetrics();

  // "HOST:PORT" with the bound port.
  const std::string& address() const { return address_; }

  // Counts one finished RPC; `method` is its short name ("Score", "Check"). Thread-safe.
  void OnRequest(const std::string& method, const std::string& code, double seconds);
  // One forward of the dynamic batcher. Thread-safe.
  void OnBatch(int64_t rows, int64_t padded_tokens);

  // Interceptor factories for grpc::ServerBuilder::experimental().SetInterceptorCreators: every
  // RPC of that server is timed and counted by OnRequest. This object must outlive the server.
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> InterceptorFactories();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::string address_;
};

// The grpc::StatusCode's canonical name ("OK", "RESOURCE_EXHAUSTED", ...).
std::string StatusCodeName(int code);

}  // namespace dpo
