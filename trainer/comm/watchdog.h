// Watchdog: ends the process with exit code 4 when one watched operation (a collective, a
// reference fetch) runs longer than its timeout, so a job whose peer died or hangs never hangs
// with it. Under mpirun a rank exiting non-zero ends the whole job with that code.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

namespace dpo {

// One operation is watched at a time (operations do not nest). Thread safety: Watch, SetStep and
// the scope's destructor are called by the training thread; the timer runs on its own thread.
class Watchdog {
 public:
  // Disarms the scope's operation when destroyed.
  class Scope {
   public:
    explicit Scope(Watchdog* watchdog) : watchdog_(watchdog) {}
    Scope(Scope&& other) noexcept : watchdog_(other.watchdog_) { other.watchdog_ = nullptr; }
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;
    Scope& operator=(Scope&&) = delete;
    ~Scope();

   private:
    Watchdog* watchdog_;
  };

  // `timeout_seconds` <= 0 disables the watchdog (Watch then returns an inert scope). `label`
  // starts the message, e.g. "dpo-train rank 1"; `setting` names the key that sets the timeout.
  Watchdog(double timeout_seconds, std::string label, std::string setting);
  ~Watchdog();
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  // The step reported in the message (the step being computed).
  void SetStep(int64_t step);
  // Starts timing `operation` (e.g. "all-reduce of 12 gradient tensors (3.1 MB)"). If it is
  // still running after the timeout, writes
  //   "<label>: timeout: <operation> at step <s> did not finish within <setting>=<t> s; ending the job"
  // to stderr and calls std::_Exit(4): no unwinding, since the blocked thread cannot unwind.
  Scope Watch(std::string operation);

  double timeout_seconds() const { return timeout_seconds_; }

 private:
  void Disarm();
  void TimerLoop();

  const double timeout_seconds_;
  const std::string label_;
  const std::string setting_;
  std::mutex mutex_;
  std::condition_variable changed_;
  bool armed_ = false;
  bool stopping_ = false;
  std::string operation_;
  int64_t step_ = 0;
  std::chrono::steady_clock::time_point deadline_;
  std::thread timer_;
};

}  // namespace dpo
