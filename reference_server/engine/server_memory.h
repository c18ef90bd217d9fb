// How the reference server allocates memory: LibTorch's CPU tensors through malloc (aligned by
// hand) instead of posix_memalign, fixed glibc malloc thresholds, and free pages handed back to
// the system when the server goes idle. Together they keep the server's RSS bounded under load.
#pragma once

#include <cstddef>
#include <cstdint>

namespace c10 {
struct Allocator;
}  // namespace c10

namespace dpo {

// Why each setting (measured with dpo-bench-reference load, bench/reference/README.md):
//  - glibc before 2.38 (Debian bookworm ships 2.36) does not reuse free chunks for aligned
//    requests: posix_memalign, LibTorch's default, asks the arena for size + alignment + a minimum
//    chunk, which the chunks freed by the previous forward (exactly `size`) cannot satisfy while
//    long-lived small objects sit between them. The batcher thread's arena then grew by ~1 MiB per
//    forward at a steady request rate, without bound.
//  - glibc's dynamic thresholds follow the largest freed mmapped block: the heap is trimmed (and later
//    faulted back in, page by page) whenever its free top exceeds twice that block, i.e. after
//    almost every forward. Fixing the mmap threshold at the dynamic maximum and the trim threshold
//    above a forward's working set keeps the pages in the arena for the next forward;
//    ReleaseFreeMemory returns them once the server is idle.
//  - The arena count is left alone: gRPC's threads hold a few MiB between them; capping arenas
//    would only make them contend with the batcher thread for one lock.
inline constexpr std::size_t kTensorAlignment = 64;              // LibTorch's CPU alignment
inline constexpr std::size_t kMmapThresholdBytes = 32u << 20;    // glibc's dynamic maximum (64-bit)
inline constexpr std::size_t kTrimThresholdBytes = 128u << 20;

// malloc(size + kTensorAlignment), the data aligned to kTensorAlignment inside the block. The
// DataPtr's data and context are the same pointer, so raw_allocate/raw_deleter work; a request of
// 0 bytes gives a null DataPtr, as LibTorch's default does; throws c10::Error when malloc fails.
// Thread safety: allocate and the deleter may run on any threads.
c10::Allocator* AlignedMallocAllocator();

// Process-wide, so executables call it once at start, before the model is loaded (the server and
// precompute do): makes AlignedMallocAllocator LibTorch's CPU allocator for every tensor allocated
// afterwards (earlier tensors keep their own deleter) and, with glibc, fixes M_MMAP_THRESHOLD and
// M_TRIM_THRESHOLD at the values above -- each unless the operator set it in the environment
// (MALLOC_MMAP_THRESHOLD_, MALLOC_TRIM_THRESHOLD_). Idempotent.
void ConfigureServerMemory();

// Hands free heap pages back to the system (glibc; a no-op elsewhere): malloc_trim(0) for the free
// chunks of every arena and the main heap's top and, when ConfigureServerMemory set the trim
// threshold, the free top of the calling thread's arena too. 1-6 ms for the bench model (6 ms when
// handing back 64 MiB); the next forward faults the pages back in, so call it when idle.
void ReleaseFreeMemory();

}  // namespace dpo
