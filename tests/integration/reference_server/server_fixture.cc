// Server process and client helpers for the reference-server integration tests.
#include "tests/integration/reference_server/server_fixture.h"

#include <torch/torch.h>

#include <algorithm>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include "core/loss/sequence_log_probs.h"
#include "core/model/pretrained.h"
#include "core/tokenizer/tokenizer_files.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "tests/support/test_support.h"

namespace dpo::testing {
namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// The value after `prefix` on the first line that starts with it; "" when none yet.
std::string LineValue(const std::string& log, const std::string& prefix) {
  std::istringstream lines(log);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind(prefix, 0) == 0) return line.substr(prefix.size());
  }
  return "";
}

std::unique_ptr<grpc::ClientContext> Context(const std::string& token) {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  if (!token.empty()) context->AddMetadata("authorization", "Bearer " + token);
  return context;
}

}  // namespace

std::shared_ptr<CausalLm> WriteTinyModel(const std::string& dir, uint64_t seed) {
  return WriteModel(dir, seed, TinyGpt2Config());
}

std::shared_ptr<CausalLm> WriteModel(const std::string& dir, uint64_t seed, const ModelConfig& config) {
  std::shared_ptr<CausalLm> model = CreateCausalLm(config, seed);
  SaveModelDirectory(*model, dir);
  SaveTokenizerFiles(*CreateTokenizer("byte"), dir);
  return model;
}

const std::vector<std::string>& ServerEnv() {
  static const std::vector<std::string> env = {"OMP_NUM_THREADS=1", "OPENBLAS_NUM_THREADS=1"};
  return env;
}

ServerProcess::ServerProcess(const std::vector<std::string>& args, const std::string& log_path) : log_path_(log_path) {
  std::vector<std::string> argv = {BinaryPath("dpo-reference-server")};
  argv.insert(argv.end(), args.begin(), args.end());
  const bool wants_health = std::find(args.begin(), args.end(), "--health-listen") != args.end();
  process_ = std::make_unique<BackgroundProcess>(argv, ServerEnv(), log_path);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    const std::string log = ReadFile(log_path_);
    address_ = LineValue(log, "listening on ");
    health_address_ = LineValue(log, "health probes on ");
    if (!address_.empty() && (!wants_health || !health_address_.empty())) return;
    if (process_->Wait(0) != -1) break;  // exited before listening
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  address_.clear();
}

std::string ServerProcess::Log() const { return ReadFile(log_path_); }

bool ServerProcess::WaitServing(std::chrono::seconds timeout) {
  if (address_.empty()) return false;
  // With a health port, ask it (plaintext, no token: works whatever the main port requires);
  // otherwise GetModelInfo on the main port answers UNAVAILABLE until the model is loaded.
  const auto channel = PlainChannel(health_address_.empty() ? address_ : health_address_);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (health_address_.empty()) {
      v1::ModelInfo info;
      if (CallModelInfo(channel, &info).error_code() != grpc::StatusCode::UNAVAILABLE) return true;
    } else if (HealthCheck(channel, "") == "SERVING") {
      return true;
    }
    if (process_->Wait(0) != -1) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

std::vector<std::string> ServeArgs(const std::string& model_dir, const std::string& cache_dir,
                                   const std::vector<std::string>& extra) {
  std::vector<std::string> args = {"--model", model_dir, "--cache-dir", cache_dir, "--listen", "127.0.0.1:0"};
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

std::shared_ptr<grpc::Channel> PlainChannel(const std::string& address) {
  grpc::ChannelArguments arguments;
  arguments.SetMaxReceiveMessageSize(64 << 20);
  arguments.SetMaxSendMessageSize(64 << 20);
  return grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), arguments);
}

grpc::Status CallScore(const std::shared_ptr<grpc::Channel>& channel, const v1::ScoreRequest& request,
                       v1::ScoreResponse* response, const std::string& token) {
  auto context = Context(token);
  return v1::ReferenceModel::NewStub(channel)->Score(context.get(), request, response);
}

grpc::Status CallModelInfo(const std::shared_ptr<grpc::Channel>& channel, v1::ModelInfo* info, const std::string& token) {
  auto context = Context(token);
  return v1::ReferenceModel::NewStub(channel)->GetModelInfo(context.get(), v1::GetModelInfoRequest(), info);
}

grpc::Status CallStats(const std::shared_ptr<grpc::Channel>& channel, v1::ServerStats* stats, const std::string& token) {
  auto context = Context(token);
  return v1::ReferenceModel::NewStub(channel)->GetStats(context.get(), v1::GetStatsRequest(), stats);
}

std::string HealthCheck(const std::shared_ptr<grpc::Channel>& channel, const std::string& service) {
  grpc::health::v1::HealthCheckRequest request;
  request.set_service(service);
  grpc::health::v1::HealthCheckResponse response;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  const grpc::Status status = grpc::health::v1::Health::NewStub(channel)->Check(&context, request, &response);
  if (!status.ok()) {
    switch (status.error_code()) {
      case grpc::StatusCode::NOT_FOUND: return "NOT_FOUND";
      case grpc::StatusCode::UNAVAILABLE: return "UNAVAILABLE";
      case grpc::StatusCode::UNIMPLEMENTED: return "UNIMPLEMENTED";
      default: return "ERROR " + std::to_string(status.error_code()) + ": " + status.error_message();
    }
  }
  return grpc::health::v1::HealthCheckResponse::ServingStatus_Name(response.status());
}

v1::ScoreRequest MakeRequest(const std::string& fingerprint,
                             const std::vector<std::pair<std::vector<int32_t>, int32_t>>& sequences) {
  v1::ScoreRequest request;
  request.set_expected_fingerprint(fingerprint);
  for (const auto& [ids, start] : sequences) {
    v1::Sequence* sequence = request.add_sequences();
    for (const int32_t id : ids) sequence->add_token_ids(id);
    sequence->set_completion_start(start);
  }
  return request;
}

std::vector<std::pair<std::vector<int32_t>, int32_t>> RandomSequences(int count, int max_length, uint32_t seed) {
  std::mt19937 random(seed);
  std::vector<std::pair<std::vector<int32_t>, int32_t>> sequences;
  for (int i = 0; i < count; ++i) {
    const int length = std::uniform_int_distribution<int>(2, max_length)(random);
    std::vector<int32_t> ids;
    for (int t = 0; t < length; ++t) ids.push_back(std::uniform_int_distribution<int32_t>(0, 258)(random));
    sequences.emplace_back(ids, std::uniform_int_distribution<int32_t>(1, length - 1)(random));
  }
  return sequences;
}

float DirectScore(CausalLm& model, const std::vector<int32_t>& ids, int32_t completion_start) {
  const auto length = static_cast<int64_t>(ids.size());
  const std::vector<int64_t> wide(ids.begin(), ids.end());
  const at::Tensor input_ids = torch::tensor(wide, torch::kInt64).reshape({1, length});
  at::Tensor mask = torch::zeros({1, length}, torch::kBool);
  mask.index_put_({0, torch::indexing::Slice(completion_start, length)}, true);
  torch::NoGradGuard no_grad;
  model.module().eval();
  return ComputeSequenceLogProbs(model, input_ids, mask).sum_log_probs[0].item<float>();
}

}  // namespace dpo::testing
