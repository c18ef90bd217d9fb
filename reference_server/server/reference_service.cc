// Callback handlers: each one finishes its reactor exactly once, either here or (Score misses)
// from the batcher's thread.
#include "reference_server/server/reference_service.h"

#include <utility>

namespace dpo {
namespace {

void FillCache(const ScoreCacheStats& stats, v1::CacheStats* out) {
  out->set_entries(stats.entries);
  out->set_hits(stats.hits);
  out->set_misses(stats.misses);
  out->set_corrupt(stats.corrupt);
}

// The engine's codes are gRPC's canonical codes under other names (engine_status.h).
grpc::StatusCode ToGrpcCode(EngineCode code) {
  switch (code) {
    case EngineCode::kOk: return grpc::StatusCode::OK;
    case EngineCode::kInvalidArgument: return grpc::StatusCode::INVALID_ARGUMENT;
    case EngineCode::kFailedPrecondition: return grpc::StatusCode::FAILED_PRECONDITION;
    case EngineCode::kOutOfRange: return grpc::StatusCode::OUT_OF_RANGE;
    case EngineCode::kResourceExhausted: return grpc::StatusCode::RESOURCE_EXHAUSTED;
    case EngineCode::kUnavailable: return grpc::StatusCode::UNAVAILABLE;
    case EngineCode::kInternal: return grpc::StatusCode::INTERNAL;
  }
  return grpc::StatusCode::UNKNOWN;
}

grpc::Status ToGrpcStatus(const EngineStatus& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(ToGrpcCode(status.code()), status.message());
}

grpc::Status Loading() {
  return grpc::Status(grpc::StatusCode::UNAVAILABLE, "model loading: the server is not serving yet; retry");
}

}  // namespace

ReferenceModelService::ReferenceModelService(const BearerTokenAuth* auth, std::string server_version)
    : auth_(auth), server_version_(std::move(server_version)) {}

void ReferenceModelService::SetServing(ScoreEngine* engine, const v1::ModelInfo& info) {
  std::lock_guard<std::mutex> lock(set_serving_mutex_);
  if (serving_storage_) return;
  serving_storage_ = std::make_unique<Serving>();
  serving_storage_->engine = engine;
  serving_storage_->info = info;
  serving_storage_->info.set_server_version(server_version_);
  serving_.store(serving_storage_.get(), std::memory_order_release);
}

void ReferenceModelService::SetDraining() {
  std::lock_guard<std::mutex> lock(in_flight_mutex_);
  draining_ = true;
}

bool ReferenceModelService::WaitForInFlight(std::chrono::steady_clock::time_point deadline) {
  std::unique_lock<std::mutex> lock(in_flight_mutex_);
  return idle_.wait_until(lock, deadline, [this] { return in_flight_ == 0; });
}

grpc::Status ReferenceModelService::Admit(grpc::CallbackServerContext* context) const {
  if (auth_ != nullptr) {
    grpc::Status status = auth_->Check(context->client_metadata());
    if (!status.ok()) return status;
  }
  if (serving_.load(std::memory_order_acquire) == nullptr) return Loading();
  return grpc::Status::OK;
}

grpc::ServerUnaryReactor* ReferenceModelService::GetModelInfo(grpc::CallbackServerContext* context,
                                                              const v1::GetModelInfoRequest* /*request*/,
                                                              v1::ModelInfo* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  const grpc::Status status = Admit(context);
  if (!status.ok()) {
    reactor->Finish(status);
    return reactor;
  }
  const Serving* serving = serving_.load(std::memory_order_acquire);
  *response = serving->info;
  FillCache(serving->engine->Stats().cache, response->mutable_cache());
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerUnaryReactor* ReferenceModelService::Score(grpc::CallbackServerContext* context,
                                                       const v1::ScoreRequest* request, v1::ScoreResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  grpc::Status status = Admit(context);
  if (status.ok()) {
    std::lock_guard<std::mutex> lock(in_flight_mutex_);
    if (draining_) {
      status = grpc::Status(grpc::StatusCode::UNAVAILABLE, "server draining: not accepting new work");
    } else {
      ++in_flight_;
    }
  }
  if (!status.ok()) {
    ++refused_scores_;
    reactor->Finish(status);
    return reactor;
  }
  // request and response live until Finish; the engine calls back exactly once.
  serving_.load(std::memory_order_acquire)->engine->Score(*request, response, [this, reactor](const EngineStatus& result) {
    reactor->Finish(ToGrpcStatus(result));
    std::lock_guard<std::mutex> lock(in_flight_mutex_);
    if (--in_flight_ == 0) idle_.notify_all();
  });
  return reactor;
}

grpc::ServerUnaryReactor* ReferenceModelService::GetStats(grpc::CallbackServerContext* context,
                                                          const v1::GetStatsRequest* /*request*/,
                                                          v1::ServerStats* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  grpc::Status status = auth_ != nullptr ? auth_->Check(context->client_metadata()) : grpc::Status::OK;
  if (status.ok()) *response = Stats();  // answers while loading too (zeros, uptime)
  reactor->Finish(status);
  return reactor;
}

v1::ServerStats ReferenceModelService::Stats() const {
  v1::ServerStats stats;
  const uint64_t refused = refused_scores_.load();
  stats.set_requests(refused);
  stats.set_requests_failed(refused);
  if (const Serving* serving = serving_.load(std::memory_order_acquire)) {
    const ScoreEngineStats engine = serving->engine->Stats();
    FillCache(engine.cache, stats.mutable_cache());
    stats.set_requests(refused + engine.requests);
    stats.set_requests_failed(refused + engine.requests_failed);
    stats.set_sequences_scored(engine.sequences_scored);
    stats.set_sequences_computed(engine.batcher.sequences_computed);
    stats.set_batches(engine.batcher.batches);
    stats.set_queued_requests(engine.batcher.queued_requests);
    stats.set_rejected_requests(engine.batcher.rejected_requests);
  }
  stats.set_auth_failures(auth_ != nullptr ? auth_->failures() : 0);
  stats.set_uptime_seconds(std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count());
  return stats;
}

}  // namespace dpo
