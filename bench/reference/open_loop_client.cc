// The open-loop sender: one thread keeps the schedule; completions arrive on gRPC's threads and
// only fill in their own record, so a slow server never slows the sender down.
#include "bench/reference/open_loop_client.h"

#include <cmath>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

namespace dpo::bench {
namespace {

struct Call {
  grpc::ClientContext context;
  v1::ScoreRequest request;
  v1::ScoreResponse response;
};

Clock::time_point At(Clock::time_point origin, double seconds) {
  return origin + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
}

}  // namespace

std::vector<CallRecord> RunOpenLoop(v1::ReferenceModel::Stub& stub, const std::vector<LoadPhase>& phases,
                                    const std::function<v1::ScoreRequest(int64_t call)>& make_request,
                                    double timeout_s, Clock::time_point origin) {
  std::vector<CallRecord> records;
  double phase_start = 0;
  for (size_t phase = 0; phase < phases.size(); ++phase) {
    const auto count = static_cast<int64_t>(std::floor(phases[phase].rate * phases[phase].seconds));
    for (int64_t i = 0; i < count; ++i) {
      CallRecord record;
      record.phase = static_cast<int>(phase);
      record.scheduled_s = phase_start + static_cast<double>(i) / phases[phase].rate;
      records.push_back(record);
    }
    phase_start += phases[phase].seconds;
  }

  std::mutex mutex;
  std::condition_variable all_done;
  int64_t open_calls = 0;  // guarded by mutex
  std::vector<std::unique_ptr<Call>> calls(records.size());
  for (size_t i = 0; i < records.size(); ++i) {
    std::this_thread::sleep_until(At(origin, records[i].scheduled_s));
    calls[i] = std::make_unique<Call>();
    Call& call = *calls[i];
    call.request = make_request(static_cast<int64_t>(i));
    call.context.set_deadline(std::chrono::system_clock::now() +
                              std::chrono::microseconds(static_cast<int64_t>(timeout_s * 1e6)));
    {
      std::lock_guard<std::mutex> lock(mutex);
      ++open_calls;
    }
    records[i].sent_s = Seconds(Clock::now() - origin);
    CallRecord* record = &records[i];
    stub.async()->Score(&call.context, &call.request, &call.response,
                        [record, origin, &mutex, &all_done, &open_calls](grpc::Status status) {
                          record->latency_s = Seconds(Clock::now() - origin) - record->sent_s;
                          record->code = status.error_code();
                          std::lock_guard<std::mutex> lock(mutex);
                          if (--open_calls == 0) all_done.notify_all();
                        });
  }

  std::unique_lock<std::mutex> lock(mutex);
  const auto limit = std::chrono::duration<double>(timeout_s + 30);
  if (!all_done.wait_for(lock, limit, [&] { return open_calls == 0; })) {
    lock.unlock();
    for (auto& call : calls) call->context.TryCancel();  // completes every open call promptly
    lock.lock();
    all_done.wait(lock, [&] { return open_calls == 0; });
  }
  return records;
}

}  // namespace dpo::bench
