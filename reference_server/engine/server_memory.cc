// AlignedMallocAllocator keeps the block's own address in the 8 bytes just before the aligned
// data, where the deleter finds it; ConfigureServerMemory and ReleaseFreeMemory wrap mallopt and
// malloc_trim.
#include "reference_server/engine/server_memory.h"

#include <c10/core/Allocator.h>
#include <c10/core/CPUAllocator.h>
#include <c10/util/Exception.h>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include <atomic>
#include <cstdlib>

namespace dpo {
namespace {

// Above LibTorch's default (0), so this allocator wins whatever the registration order.
constexpr uint8_t kAllocatorPriority = 1;
// A block freed into the top of an arena trims it only from this size on (glibc's
// FASTBIN_CONSOLIDATION_THRESHOLD, 64 KiB), and tcache never holds one this large.
constexpr std::size_t kTopTrimBlockBytes = 128u << 10;

std::atomic<bool> trim_threshold_is_ours{false};

void FreeAligned(void* data) {
  if (data == nullptr) return;
  std::free(static_cast<void**>(data)[-1]);
}

class AlignedMalloc final : public c10::Allocator {
 public:
  c10::DataPtr allocate(std::size_t bytes) override {
    const c10::Device device(c10::DeviceType::CPU);
    if (bytes == 0) return c10::DataPtr(nullptr, nullptr, &FreeAligned, device);
    // malloc aligns to 16, so the aligned data starts 16..64 bytes into the block: room for the
    // block's address before it, and `bytes` after it.
    void* block = std::malloc(bytes + kTensorAlignment);
    TORCH_CHECK(block != nullptr, "reference server tensor allocator: out of memory allocating ", bytes, " bytes");
    const auto start = reinterpret_cast<std::uintptr_t>(block) + sizeof(void*);
    void* data = reinterpret_cast<void*>((start + kTensorAlignment - 1) & ~(kTensorAlignment - 1));
    static_cast<void**>(data)[-1] = block;
    return c10::DataPtr(data, data, &FreeAligned, device);
  }
  c10::DeleterFnPtr raw_deleter() const override { return &FreeAligned; }
  void copy_data(void* dest, const void* src, std::size_t count) const override { default_copy_data(dest, src, count); }
};

}  // namespace

c10::Allocator* AlignedMallocAllocator() {
  static auto* const allocator = new AlignedMalloc();  // never destroyed: tensors may outlive main
  return allocator;
}

void ConfigureServerMemory() {
  c10::SetCPUAllocator(AlignedMallocAllocator(), kAllocatorPriority);
#if defined(__GLIBC__)
  if (std::getenv("MALLOC_MMAP_THRESHOLD_") == nullptr) mallopt(M_MMAP_THRESHOLD, static_cast<int>(kMmapThresholdBytes));
  if (std::getenv("MALLOC_TRIM_THRESHOLD_") == nullptr) {
    mallopt(M_TRIM_THRESHOLD, static_cast<int>(kTrimThresholdBytes));
    trim_threshold_is_ours = true;
  }
#endif
}

void ReleaseFreeMemory() {
#if defined(__GLIBC__)
  // malloc_trim releases the free chunks inside every arena and the main heap's top, but not the
  // free top of a thread's arena -- where a forward's buffers end up -- which only free() shrinks,
  // and only past M_TRIM_THRESHOLD. So, when the threshold is ours, lower it for one free on this
  // thread's arena (the batcher's thread calls this), then restore it.
  if (trim_threshold_is_ours) {
    mallopt(M_TRIM_THRESHOLD, 0);
    void* volatile block = std::malloc(kTopTrimBlockBytes);  // volatile: the pair must not be elided
    std::free(block);
    mallopt(M_TRIM_THRESHOLD, static_cast<int>(kTrimThresholdBytes));
  }
  malloc_trim(0);
#endif
}

}  // namespace dpo
