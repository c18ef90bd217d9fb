// The reference server dpo-launch starts for a job: started from the plan's argv, its address
// read from its `listening on HOST:PORT` stdout line, ready once the gRPC health service
// (grpc.health.v1.Health/Check, service "") says SERVING; stopped with SIGTERM (it drains and
// syncs its cache), then SIGKILL if it does not finish in time.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "launcher/child_process.h"
#include "launcher/launch_plan.h"

namespace dpo {

class ReferenceServerProcess {
 public:
  // Starts the server and waits until it serves, at most `timeout_seconds` in all. Polls
  // `interrupted` (a stop signal to the launcher) while waiting. Throws
  // Error(kReferenceUnavailable) when it exits first or is not serving in time (the server's
  // own messages are on stderr), Error(kInternal) when it cannot be started.
  ReferenceServerProcess(const ReferenceServerLaunch& launch, double timeout_seconds,
                         const std::function<bool()>& interrupted);
  ~ReferenceServerProcess();  // Stop() unless already stopped

  const std::string& address() const { return address_; }
  const std::string& fingerprint() const { return fingerprint_; }  // of the model it serves
  pid_t pid() const { return process_->pid(); }
  bool interrupted() const { return interrupted_; }  // the wait ended early: address() is ""
  // SIGTERM, up to `grace_seconds` for a drained exit, then SIGKILL; returns its exit code.
  int Stop(double grace_seconds = 30);

 private:
  void WaitUntilServing(const ReferenceServerLaunch& launch, double timeout_seconds,
                        const std::function<bool()>& interrupted);

  std::unique_ptr<ChildProcess> process_;
  std::string address_;
  std::string fingerprint_;
  bool interrupted_ = false;
};

}  // namespace dpo
