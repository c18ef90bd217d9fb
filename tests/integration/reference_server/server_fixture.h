// Helpers of the reference-server integration tests: a tiny model directory, the real
// dpo-reference-server binary started on port 0 (its address read from its log), and C++ gRPC
// clients built on dpo_proto (dpo.v1.ReferenceModel and grpc.health.v1.Health).
#pragma once

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "core/model/causal_lm.h"
#include "dpo/v1/reference_service.grpc.pb.h"
#include "tests/support/subprocess.h"

namespace dpo::testing {

// Saves a random GPT-2 of `config` (byte tokenizer record included) into `dir`; returns it.
std::shared_ptr<CausalLm> WriteModel(const std::string& dir, uint64_t seed, const ModelConfig& config);
// WriteModel with TinyGpt2Config().
std::shared_ptr<CausalLm> WriteTinyModel(const std::string& dir, uint64_t seed);

// Child environment: one BLAS/OpenMP thread.
const std::vector<std::string>& ServerEnv();

// dpo-reference-server started in the background with `args` (append "--listen 127.0.0.1:0"
// yourself or use ServeArgs). The constructor waits (up to 60 s) for the "listening on" line;
// on failure address() is empty and the log says why.
class ServerProcess {
 public:
  ServerProcess(const std::vector<std::string>& args, const std::string& log_path);
  const std::string& address() const { return address_; }
  const std::string& health_address() const { return health_address_; }
  std::string Log() const;
  BackgroundProcess& process() { return *process_; }
  // Polls until the server serves (true) or `timeout` passes or it exits (false): the health
  // port's "" status when there is one, else GetModelInfo over plaintext.
  bool WaitServing(std::chrono::seconds timeout = std::chrono::seconds(60));

 private:
  std::string log_path_;
  std::unique_ptr<BackgroundProcess> process_;
  std::string address_;
  std::string health_address_;
};

// --model DIR --cache-dir DIR --listen 127.0.0.1:0 plus `extra`.
std::vector<std::string> ServeArgs(const std::string& model_dir, const std::string& cache_dir,
                                   const std::vector<std::string>& extra = {});

std::shared_ptr<grpc::Channel> PlainChannel(const std::string& address);

// One unary call with a 30 s deadline; `token` non-empty adds "authorization: Bearer <token>".
grpc::Status CallScore(const std::shared_ptr<grpc::Channel>& channel, const v1::ScoreRequest& request,
                       v1::ScoreResponse* response, const std::string& token = "");
grpc::Status CallModelInfo(const std::shared_ptr<grpc::Channel>& channel, v1::ModelInfo* info,
                           const std::string& token = "");
grpc::Status CallStats(const std::shared_ptr<grpc::Channel>& channel, v1::ServerStats* stats,
                       const std::string& token = "");

// grpc.health.v1.Health/Check: "SERVING", "NOT_SERVING", or the failing status code's name
// ("NOT_FOUND", "UNAVAILABLE", ...).
std::string HealthCheck(const std::shared_ptr<grpc::Channel>& channel, const std::string& service);

// A request over `sequences` (token ids, completion start) carrying `fingerprint`.
v1::ScoreRequest MakeRequest(const std::string& fingerprint,
                             const std::vector<std::pair<std::vector<int32_t>, int32_t>>& sequences);
// `count` random valid sequences of 2..max_length byte-vocabulary tokens.
std::vector<std::pair<std::vector<int32_t>, int32_t>> RandomSequences(int count, int max_length, uint32_t seed);
// The reference value: the sequence alone through ComputeSequenceLogProbs.
float DirectScore(CausalLm& model, const std::vector<int32_t>& ids, int32_t completion_start);

}  // namespace dpo::testing
