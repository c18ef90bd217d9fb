// Tests of the server's memory settings: alignment and usable size of every tensor block, the raw
// interface, installation as LibTorch's CPU allocator, the fixed mmap threshold, and (glibc) that a
// forward-like allocation pattern reuses the arena's freed blocks instead of growing it.
#include "reference_server/engine/server_memory.h"

#include <c10/core/Allocator.h>
#include <c10/core/CPUAllocator.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

namespace dpo {
namespace {

// RssAnon of this process in KiB (-1 when /proc is unreadable).
int64_t RssAnonKib() {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("RssAnon:", 0) == 0) return std::stoll(line.substr(8));
  }
  return -1;
}

bool Aligned(const void* pointer) { return reinterpret_cast<std::uintptr_t>(pointer) % kTensorAlignment == 0; }

TEST(ServerMemoryTest, EveryBlockIsAlignedAndHoldsItsBytes) {
  c10::Allocator* allocator = AlignedMallocAllocator();
  for (const std::size_t bytes : {std::size_t{1}, std::size_t{7}, std::size_t{16}, std::size_t{63}, std::size_t{64},
                                  std::size_t{65}, std::size_t{4095}, std::size_t{1} << 20, (std::size_t{1} << 20) + 3}) {
    c10::DataPtr block = allocator->allocate(bytes);
    ASSERT_NE(block.get(), nullptr) << bytes << " bytes";
    EXPECT_TRUE(Aligned(block.get())) << bytes << " bytes at " << block.get();
    EXPECT_EQ(block.get_context(), block.get()) << bytes << " bytes";
    EXPECT_EQ(block.get_deleter(), allocator->raw_deleter()) << bytes << " bytes";
    EXPECT_EQ(block.device(), c10::Device(c10::DeviceType::CPU));
    // The whole requested size is ours: writing it all must not disturb the stored block address,
    // which the deleter reads when `block` goes out of scope.
    std::memset(block.get(), 0xAB, bytes);
    EXPECT_EQ(static_cast<unsigned char*>(block.get())[bytes - 1], 0xAB);
  }
}

TEST(ServerMemoryTest, ZeroBytesGiveANullBlock) {
  const c10::DataPtr block = AlignedMallocAllocator()->allocate(0);
  EXPECT_EQ(block.get(), nullptr);
}

TEST(ServerMemoryTest, RawAllocateAndDeallocateRoundTrip) {
  c10::Allocator* allocator = AlignedMallocAllocator();
  void* raw = allocator->raw_allocate(1000);
  ASSERT_NE(raw, nullptr);
  EXPECT_TRUE(Aligned(raw));
  std::memset(raw, 1, 1000);
  allocator->raw_deallocate(raw);
}

TEST(ServerMemoryTest, ConfiguredAllocatorBacksNewCpuTensors) {
  ConfigureServerMemory();
  ConfigureServerMemory();  // idempotent
  EXPECT_EQ(c10::GetCPUAllocator(), AlignedMallocAllocator());
  const at::Tensor tensor = torch::arange(1000, torch::kFloat32);
  EXPECT_EQ(tensor.storage().data_ptr().get_deleter(), AlignedMallocAllocator()->raw_deleter());
  EXPECT_TRUE(Aligned(tensor.data_ptr()));
  EXPECT_FLOAT_EQ(tensor.sum().item<float>(), 499500.0F);
}

#if defined(__GLIBC__) && __GLIBC_PREREQ(2, 33)
// mallinfo2().hblks counts the blocks malloc serves with their own mmap.
TEST(ServerMemoryTest, BlocksUpToTheFixedMmapThresholdComeFromTheHeap) {
  if (std::getenv("MALLOC_MMAP_THRESHOLD_") != nullptr) GTEST_SKIP() << "MALLOC_MMAP_THRESHOLD_ is set";
  ConfigureServerMemory();
  const std::size_t mapped_before = mallinfo2().hblks;
  {
    // 16 MiB: a forward buffer at the default token budget; glibc's default threshold (128 KiB,
    // before any large free has raised it) would mmap it.
    const c10::DataPtr forward_buffer = AlignedMallocAllocator()->allocate(std::size_t{16} << 20);
    EXPECT_EQ(mallinfo2().hblks, mapped_before);
    const c10::DataPtr huge = AlignedMallocAllocator()->allocate(kMmapThresholdBytes + (std::size_t{1} << 20));
    EXPECT_EQ(mallinfo2().hblks, mapped_before + 1);
  }
  EXPECT_EQ(mallinfo2().hblks, mapped_before);
}

// A burst's buffers freed on a thread end up as the free top of that thread's arena, which the
// server's trim threshold keeps resident (so the next forward need not fault them back in) until
// the idle batcher calls ReleaseFreeMemory.
TEST(ServerMemoryTest, ReleaseFreeMemoryHandsBackTheTopOfTheCallersArena) {
  if (std::getenv("MALLOC_TRIM_THRESHOLD_") != nullptr) GTEST_SKIP() << "MALLOC_TRIM_THRESHOLD_ is set";
  ConfigureServerMemory();
  constexpr int kBlocks = 40;  // MiB, within one 64 MiB arena heap
  int64_t freed_kib = -1, released_kib = -1;
  std::thread worker([&] {  // its own arena, as the batcher's worker has
    std::vector<c10::DataPtr> blocks;
    for (int i = 0; i < kBlocks; ++i) {
      blocks.push_back(AlignedMallocAllocator()->allocate(std::size_t{1} << 20));
      std::memset(blocks.back().get(), 1, std::size_t{1} << 20);  // resident
    }
    const int64_t in_use = RssAnonKib();
    blocks.clear();
    freed_kib = in_use - RssAnonKib();  // what free() alone gave back
    const int64_t before = RssAnonKib();
    ReleaseFreeMemory();
    released_kib = before - RssAnonKib();
  });
  worker.join();
  ASSERT_GE(freed_kib, -1024) << "RssAnon unreadable";
  EXPECT_LT(freed_kib, int64_t{kBlocks} * 1024 / 4) << "free() alone already trimmed the arena";
  EXPECT_GT(released_kib, int64_t{kBlocks} * 1024 * 3 / 4) << "released " << released_kib << " KiB";
}

// A forward's pattern: blocks of a few recurring sizes freed together, with small long-lived
// objects (cache entries, tensor metadata) allocated between them, all on one thread. glibc's
// posix_memalign (before 2.38) cannot reuse such freed blocks and grows the arena by ~190 MiB
// here; malloc-backed blocks reuse them.
TEST(ServerMemoryTest, RecurringBlocksReuseTheArenaInsteadOfGrowingIt) {
  ConfigureServerMemory();  // blocks of up to 32 MiB come from the arena, as in the server
  std::size_t grown = 0;
  std::thread worker([&] {  // its own arena, as the batcher's worker has
    c10::Allocator* allocator = AlignedMallocAllocator();
    std::vector<void*> kept;
    const std::size_t before = mallinfo2().arena;
    for (int round = 0; round < 1000; ++round) {
      std::vector<c10::DataPtr> blocks;
      for (int i = 0; i < 12; ++i) {
        blocks.push_back(allocator->allocate((std::size_t{256} << 10) * static_cast<std::size_t>(1 + (i + round) % 4)));
        std::memset(blocks.back().get(), 1, 64);
        if (i % 3 == 0) kept.push_back(std::malloc(48));
      }
    }
    grown = mallinfo2().arena - before;
    for (void* object : kept) std::free(object);
  });
  worker.join();
  EXPECT_LT(grown, std::size_t{32} << 20) << "the arena grew by " << (grown >> 20) << " MiB";
}
#endif

}  // namespace
}  // namespace dpo
