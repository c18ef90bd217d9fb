// ReferenceServer: the whole server process's life -- bind the main port (dpo.v1.ReferenceModel,
// health, reflection) and the optional plaintext health port, load the model while health says
// NOT_SERVING, serve, then drain on request: NOT_SERVING, refuse new calls, finish in-flight
// work, stop the batcher, sync the cache.
#pragma once

#include <memory>
#include <string>

#include "reference_server/server/server_options.h"

namespace grpc {
class CallbackGenericService;
class Server;
class ServerCredentials;
}  // namespace grpc

namespace dpo {

class BearerTokenAuth;
class ReferenceModelService;
class ServerMetrics;
class ScoreCache;
class ScoreEngine;
struct LoadedReferenceModel;

// Usage: Start(), print the addresses, LoadModel(), wait for a stop signal, Shutdown().
// Thread safety: one controlling thread calls these methods; RPCs run on gRPC's threads.
class ReferenceServer {
 public:
  // Validates `options` (Error(kInvalidInput) listing every problem) and reads the token and
  // TLS files (Error(kInvalidInput) naming the option and the file). Binds nothing yet.
  explicit ReferenceServer(ServerOptions options);
  ~ReferenceServer();  // Shutdown()
  ReferenceServer(const ReferenceServer&) = delete;
  ReferenceServer& operator=(const ReferenceServer&) = delete;

  // Binds and starts the metrics endpoint and the health port (when configured), then the main
  // port; both gRPC ports report
  // NOT_SERVING for "" and "dpo.v1.ReferenceModel" and dpo.v1 calls answer UNAVAILABLE until
  // LoadModel. Throws Error(kInvalidInput) naming the address when a port cannot be bound (in
  // use, bad host, or TLS files gRPC rejects).
  void Start();
  // "HOST:PORT" with the port actually bound (port 0 resolved). Valid after Start.
  const std::string& listen_address() const { return listen_address_; }
  const std::string& health_address() const { return health_address_; }  // empty without one
  const std::string& metrics_address() const;  // empty without one

  // Loads the model and opens the cache, starts the engine, then reports SERVING. Throws
  // Error(kInvalidInput) on a bad model directory or cache directory (the server keeps
  // reporting NOT_SERVING; the caller should Shutdown and exit).
  void LoadModel();
  const std::string& fingerprint() const;  // valid after LoadModel

  // Idempotent drain: health NOT_SERVING on both ports, new Score calls UNAVAILABLE, the main
  // port stops accepting, in-flight calls finish (cancelled after drain_timeout_ms), the batcher
  // stops, the cache is synced to disk, then the health port closes.
  void Shutdown();

 private:
  void SetHealth(bool serving);

  ServerOptions options_;
  std::unique_ptr<BearerTokenAuth> auth_;
  std::shared_ptr<grpc::ServerCredentials> credentials_;
  std::unique_ptr<ReferenceModelService> service_;
  std::unique_ptr<ServerMetrics> metrics_;  // outlives the servers whose RPCs it counts
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<grpc::CallbackGenericService> health_only_;  // outlives health_server_
  std::unique_ptr<grpc::Server> health_server_;
  std::string listen_address_;
  std::string health_address_;
  std::unique_ptr<LoadedReferenceModel> model_;
  std::unique_ptr<ScoreCache> cache_;
  std::unique_ptr<ScoreEngine> engine_;
  bool shut_down_ = false;
};

// The version GetModelInfo reports ("0.1.0"): the CMake project version.
const char* ServerVersion();

}  // namespace dpo
