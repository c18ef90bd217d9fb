// The echo floor: the same generated service and payloads as dpo-reference-server, with a Score
// that only builds the response. Its server settings follow the real server's main port.
#include "bench/reference/echo_server.h"

#include <sys/prctl.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <fstream>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <grpcpp/grpcpp.h>

#include "dpo/v1/reference_service.grpc.pb.h"
#include "tests/integration/reference_server/server_fixture.h"

namespace dpo::bench {
namespace {

constexpr int kMaxMessageBytes = 64 << 20;  // the real server's default limit
constexpr auto kLifetimeLimit = std::chrono::minutes(15);

class EchoService final : public v1::ReferenceModel::CallbackService {
 public:
  // One SequenceScore per sequence, with the fields a cached answer carries: the response has
  // the real one's size, and reading every sequence's length costs what parsing costs anyway.
  grpc::ServerUnaryReactor* Score(grpc::CallbackServerContext* context, const v1::ScoreRequest* request,
                                  v1::ScoreResponse* response) override {
    for (const v1::Sequence& sequence : request->sequences()) {
      v1::SequenceScore* score = response->add_scores();
      score->set_sum_log_prob(-1.0f - static_cast<float>(sequence.token_ids_size()));
      score->set_completion_tokens(sequence.token_ids_size() - sequence.completion_start());
      score->set_from_cache(true);
    }
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }
};

std::string SelfPath() {
  char buffer[4096];
  const ssize_t size = ::readlink("/proc/self/exe", buffer, sizeof(buffer) - 1);
  if (size <= 0) throw std::runtime_error("readlink(/proc/self/exe) failed");
  return std::string(buffer, static_cast<size_t>(size));
}

std::string ReadLog(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

int RunEchoServer() {
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive the benchmark
  EchoService service;
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&service);
  builder.SetMaxReceiveMessageSize(kMaxMessageBytes);
  builder.SetMaxSendMessageSize(kMaxMessageBytes);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server || port == 0) {
    std::cerr << "echo-server: could not listen on 127.0.0.1:0" << std::endl;
    return 1;
  }
  std::cout << "listening on 127.0.0.1:" << port << std::endl;
  std::thread limit([&server] {
    std::this_thread::sleep_for(kLifetimeLimit);
    server->Shutdown();
  });
  limit.detach();
  server->Wait();
  return 0;
}

EchoServerProcess::EchoServerProcess(const std::string& log_path) {
  process_ = std::make_unique<testing::BackgroundProcess>(std::vector<std::string>{SelfPath(), "echo-server"},
                                                          testing::ServerEnv(), log_path);
  const std::string prefix = "listening on ";
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline) {
    const std::string log = ReadLog(log_path);
    const size_t at = log.find(prefix);
    const size_t end = at == std::string::npos ? at : log.find('\n', at);
    if (end != std::string::npos) {
      address_ = log.substr(at + prefix.size(), end - at - prefix.size());
      return;
    }
    if (process_->Wait(0) != -1) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  throw std::runtime_error("echo server did not start; its log:\n" + ReadLog(log_path));
}

}  // namespace dpo::bench
