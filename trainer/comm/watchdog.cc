// The watchdog's timer thread.
#include "trainer/comm/watchdog.h"

#include <unistd.h>

#include <cstdlib>
#include <sstream>

#include "core/common/error.h"

namespace dpo {

Watchdog::Scope::~Scope() {
  if (watchdog_ != nullptr) watchdog_->Disarm();
}

Watchdog::Watchdog(double timeout_seconds, std::string label, std::string setting)
    : timeout_seconds_(timeout_seconds), label_(std::move(label)), setting_(std::move(setting)) {
  if (timeout_seconds_ > 0) timer_ = std::thread([this] { TimerLoop(); });
}

Watchdog::~Watchdog() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  if (timer_.joinable()) timer_.join();
}

void Watchdog::SetStep(int64_t step) {
  std::lock_guard<std::mutex> lock(mutex_);
  step_ = step;
}

Watchdog::Scope Watchdog::Watch(std::string operation) {
  if (timeout_seconds_ <= 0) return Scope(nullptr);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    armed_ = true;
    operation_ = std::move(operation);
    deadline_ = std::chrono::steady_clock::now() +
                std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(timeout_seconds_));
  }
  changed_.notify_all();
  return Scope(this);
}

void Watchdog::Disarm() {
  std::lock_guard<std::mutex> lock(mutex_);
  armed_ = false;
}

void Watchdog::TimerLoop() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (!stopping_) {
    if (!armed_) {
      changed_.wait(lock);
      continue;
    }
    const auto deadline = deadline_;
    if (changed_.wait_until(lock, deadline) == std::cv_status::timeout && armed_ && deadline_ == deadline && !stopping_) {
      std::ostringstream message;
      message << label_ << ": timeout: " << operation_ << " at step " << step_ << " did not finish within " << setting_
              << "=" << timeout_seconds_ << " s; ending the job (exit " << ExitCodeFor(ErrorKind::kTimeout) << ")\n";
      const std::string text = message.str();
      (void)!::write(STDERR_FILENO, text.data(), text.size());
      std::_Exit(ExitCodeFor(ErrorKind::kTimeout));
    }
  }
}

}  // namespace dpo
