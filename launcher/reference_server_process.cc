// Reference server start-up (listening line, health wait) and shutdown.
#include "launcher/reference_server_process.h"

#include <grpcpp/grpcpp.h>
#include <signal.h>

#include <chrono>
#include <sstream>
#include <thread>

#include "core/common/clock.h"
#include "core/common/error.h"
#include "dpo/v1/reference_service.grpc.pb.h"
#include "grpc/health/v1/health.grpc.pb.h"

namespace dpo {
namespace {


double SecondsLeft(Clock::time_point deadline) {
  return std::chrono::duration<double>(deadline - Clock::now()).count();
}

bool IsServing(grpc::health::v1::Health::Stub& stub) {
  grpc::health::v1::HealthCheckRequest request;
  request.set_service("");
  grpc::health::v1::HealthCheckResponse response;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(2));
  const grpc::Status status = stub.Check(&context, request, &response);
  return status.ok() && response.status() == grpc::health::v1::HealthCheckResponse::SERVING;
}

Error Unavailable(const std::string& message) { return Error(ErrorKind::kReferenceUnavailable, message); }

std::string Seconds(double seconds) {
  std::ostringstream out;
  out << seconds;
  return out.str();
}

}  // namespace

ReferenceServerProcess::ReferenceServerProcess(const ReferenceServerLaunch& launch, double timeout_seconds,
                                               const std::function<bool()>& interrupted) {
  ChildOptions options;
  options.argv = launch.argv;
  options.extra_env = launch.env;
  options.capture_stdout = true;
  process_ = std::make_unique<ChildProcess>(options);
  try {
    WaitUntilServing(launch, timeout_seconds, interrupted);
  } catch (...) {
    Stop(5);
    throw;
  }
}

void ReferenceServerProcess::WaitUntilServing(const ReferenceServerLaunch& launch, double timeout_seconds,
                                              const std::function<bool()>& interrupted) {
  const Clock::time_point deadline =
      Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(timeout_seconds));
  const std::string too_slow = "dpo-reference-server (model " + launch.model + ") was not serving within " +
                               Seconds(timeout_seconds) + " s (--reference-timeout)";
  const std::string prefix = "listening on ";
  while (address_.empty()) {
    if (interrupted()) {
      interrupted_ = true;
      return;
    }
    std::string line;
    switch (process_->ReadLine(std::min(0.1, std::max(0.0, SecondsLeft(deadline))), &line)) {
      case ChildProcess::ReadStatus::kLine:
        // Later stdout lines are never read: without --health-listen the server writes none.
        if (line.rfind(prefix, 0) == 0) address_ = line.substr(prefix.size());
        break;
      case ChildProcess::ReadStatus::kEnd: {
        const int code = process_->Wait(10).value_or(-1);
        throw Unavailable("dpo-reference-server (model " + launch.model + ") exited with code " +
                          std::to_string(code) + " before listening (its messages are above)");
      }
      case ChildProcess::ReadStatus::kTimeout:
        if (SecondsLeft(deadline) <= 0) throw Unavailable(too_slow);
        break;
    }
  }
  const auto channel = grpc::CreateChannel(address_, grpc::InsecureChannelCredentials());
  const auto stub = grpc::health::v1::Health::NewStub(channel);
  while (!IsServing(*stub)) {
    if (interrupted()) {
      interrupted_ = true;
      address_.clear();
      return;
    }
    if (const auto code = process_->Wait(0)) {
      throw Unavailable("dpo-reference-server (model " + launch.model + ") exited with code " + std::to_string(*code) +
                        " while loading (its messages are above)");
    }
    if (SecondsLeft(deadline) <= 0) throw Unavailable(too_slow);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  // The ranks are told to expect exactly this model.
  const auto model = v1::ReferenceModel::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  v1::ModelInfo info;
  const grpc::Status status = model->GetModelInfo(&context, v1::GetModelInfoRequest(), &info);
  if (!status.ok()) {
    throw Unavailable("dpo-reference-server (model " + launch.model + ") serves but GetModelInfo failed: " +
                      status.error_message());
  }
  fingerprint_ = info.fingerprint();
}

ReferenceServerProcess::~ReferenceServerProcess() { Stop(); }

int ReferenceServerProcess::Stop(double grace_seconds) {
  if (const auto code = process_->exit_code()) return *code;
  process_->Signal(SIGTERM);
  if (const auto code = process_->Wait(grace_seconds)) return *code;
  return process_->KillTree();
}

}  // namespace dpo
