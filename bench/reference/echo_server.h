// The floor of the cached-hit benchmark: dpo.v1.ReferenceModel/Score answered at once with a
// response of the real size (no validation, cache or model), served by this binary in a child
// process (`dpo-bench-reference echo-server`) so it pays the same loopback and process costs.
#pragma once

#include <memory>
#include <string>

#include "tests/support/subprocess.h"

namespace dpo::bench {

// The child's main: prints "listening on 127.0.0.1:PORT", serves until killed, its parent dies,
// or 15 minutes pass. Returns the exit code.
int RunEchoServer();

// Starts `<this binary> echo-server` with one BLAS/OpenMP thread and waits (up to 30 s) for its
// address. Throws std::runtime_error with the child's log when it does not come up. The
// destructor kills the child.
class EchoServerProcess {
 public:
  explicit EchoServerProcess(const std::string& log_path);
  const std::string& address() const { return address_; }

 private:
  std::unique_ptr<testing::BackgroundProcess> process_;
  std::string address_;
};

}  // namespace dpo::bench
