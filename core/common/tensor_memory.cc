// The counting CPU allocator and the CUDA caching allocator's statistics.
#include "core/common/tensor_memory.h"

#include <c10/core/Allocator.h>
#include <c10/core/CPUAllocator.h>
#include <c10/core/impl/alloc_cpu.h>

#ifdef DPO_WITH_CUDA
#include <c10/cuda/CUDACachingAllocator.h>
#endif

#include <algorithm>
#include <atomic>
#include <mutex>

namespace dpo {
namespace {

std::atomic<int64_t> g_current{0};
std::atomic<int64_t> g_peak{0};
std::atomic<bool> g_installed{false};

void RaisePeak(int64_t value) {
  int64_t peak = g_peak.load(std::memory_order_relaxed);
  while (value > peak && !g_peak.compare_exchange_weak(peak, value, std::memory_order_relaxed)) {
  }
}

// Each block is [header | data]: the header (one alignment unit, so data keeps c10's 64-byte
// alignment) stores the size for the deleter. Data pointer == context, so the allocator is
// "simple" and raw_allocate/raw_deleter work like the default allocator's.
constexpr size_t kHeader = 64;

void CountingDelete(void* data) {
  if (data == nullptr) return;
  char* block = static_cast<char*>(data) - kHeader;
  g_current.fetch_sub(static_cast<int64_t>(*reinterpret_cast<size_t*>(block)), std::memory_order_relaxed);
  c10::free_cpu(block);
}

class CountingCpuAllocator final : public c10::Allocator {
 public:
  c10::DataPtr allocate(size_t bytes) override {
    if (bytes == 0) return {nullptr, nullptr, &CountingDelete, c10::Device(c10::DeviceType::CPU)};
    char* block = static_cast<char*>(c10::alloc_cpu(bytes + kHeader));
    *reinterpret_cast<size_t*>(block) = bytes;
    RaisePeak(g_current.fetch_add(static_cast<int64_t>(bytes), std::memory_order_relaxed) + static_cast<int64_t>(bytes));
    void* data = block + kHeader;
    return {data, data, &CountingDelete, c10::Device(c10::DeviceType::CPU)};
  }
  c10::DeleterFnPtr raw_deleter() const override { return &CountingDelete; }
  void copy_data(void* dest, const void* src, std::size_t count) const override { default_copy_data(dest, src, count); }
};

}  // namespace

void InstallCpuTensorMemoryCounter() {
  static std::once_flag once;
  std::call_once(once, [] {
    static CountingCpuAllocator allocator;
    // Above the default allocator's priority 0, so nothing registered later by LibTorch at 0 replaces it.
    c10::SetCPUAllocator(&allocator, /*priority=*/1);
    g_installed = true;
  });
}

TensorMemory MeasureTensorMemory(c10::Device device) {
  TensorMemory memory;
#ifdef DPO_WITH_CUDA
  if (device.is_cuda()) {
    const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(device.index());
    const auto& allocated = stats.allocated_bytes[static_cast<size_t>(c10::CachingAllocator::StatType::AGGREGATE)];
    return {true, allocated.current, allocated.peak};
  }
#endif
  if (device.is_cpu() && g_installed) {
    memory = {true, g_current.load(), std::max(g_peak.load(), g_current.load())};
  }
  return memory;
}

void ResetTensorMemoryPeak(c10::Device device) {
#ifdef DPO_WITH_CUDA
  if (device.is_cuda()) {
    c10::cuda::CUDACachingAllocator::resetPeakStats(device.index());
    return;
  }
#endif
  if (device.is_cpu()) g_peak = g_current.load();
}

}  // namespace dpo
