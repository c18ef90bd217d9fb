// The dpo.v1.ReferenceModel gRPC service on the callback API: token check, then GetModelInfo,
// Score (through the ScoreEngine, completing on the batcher's thread) and GetStats. It exists
// before the model is loaded and answers UNAVAILABLE until SetServing is called.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "dpo/v1/reference_service.grpc.pb.h"
#include "reference_server/engine/score_engine.h"
#include "reference_server/server/access_control.h"

namespace dpo {

inline constexpr const char* kReferenceServiceName = "dpo.v1.ReferenceModel";

// Thread safety: every RPC method runs on gRPC's threads concurrently; SetServing and
// SetDraining may be called from any thread. `auth` (null = no token required) must outlive the
// service; so must the engine passed to SetServing.
class ReferenceModelService final : public v1::ReferenceModel::CallbackService {
 public:
  ReferenceModelService(const BearerTokenAuth* auth, std::string server_version);

  // From now on GetModelInfo and Score answer with this model and engine (once; later calls are
  // ignored). `info` is the static part of ModelInfo (cache stats are filled per call).
  void SetServing(ScoreEngine* engine, const v1::ModelInfo& info);
  // From now on Score answers UNAVAILABLE "server draining" (new calls only; accepted ones finish).
  void SetDraining();
  // Blocks until every accepted Score call has been finished or `deadline` passes; true when none
  // is left. Call after SetDraining, before grpc::Server::Shutdown, so that long-lived streams
  // (health Watch) cannot keep a drain waiting for its deadline.
  bool WaitForInFlight(std::chrono::steady_clock::time_point deadline);

  grpc::ServerUnaryReactor* GetModelInfo(grpc::CallbackServerContext* context, const v1::GetModelInfoRequest* request,
                                         v1::ModelInfo* response) override;
  grpc::ServerUnaryReactor* Score(grpc::CallbackServerContext* context, const v1::ScoreRequest* request,
                                  v1::ScoreResponse* response) override;
  grpc::ServerUnaryReactor* GetStats(grpc::CallbackServerContext* context, const v1::GetStatsRequest* request,
                                     v1::ServerStats* response) override;

  // The same counters GetStats answers with.
  v1::ServerStats Stats() const;

 private:
  struct Serving {
    ScoreEngine* engine = nullptr;
    v1::ModelInfo info;
  };
  // OK, or why this call may not proceed (token, loading); counts auth failures.
  grpc::Status Admit(grpc::CallbackServerContext* context) const;

  const BearerTokenAuth* auth_;
  std::string server_version_;
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  std::unique_ptr<Serving> serving_storage_;    // written once, before serving_ is published
  std::atomic<const Serving*> serving_{nullptr};  // null while the model loads
  std::mutex set_serving_mutex_;
  std::mutex in_flight_mutex_;
  std::condition_variable idle_;
  bool draining_ = false;  // guarded by in_flight_mutex_
  int64_t in_flight_ = 0;  // Score calls in the engine; guarded by in_flight_mutex_
  // Score calls refused before reaching the engine (token, loading, draining).
  std::atomic<uint64_t> refused_scores_{0};
};

}  // namespace dpo
