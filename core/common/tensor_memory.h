// Bytes held by tensors: what the memory model (core/model/memory_model.h) predicts, measured.
//   CUDA  the caching allocator's allocated bytes (current and peak);
//   CPU   a counting CPU allocator that this file installs in front of LibTorch's: every CPU
//         tensor's storage is allocated and freed through it and counted exactly.
// Neither counts memory outside tensors (the allocator's cache, oneDNN scratch, the heap).
#pragma once

#include <cstdint>

#include <c10/core/Device.h>

namespace dpo {

struct TensorMemory {
  bool measured = false;  // false: CPU without the counter installed (then both are 0)
  int64_t current_bytes = 0;
  int64_t peak_bytes = 0;  // since the process started or the last ResetTensorMemoryPeak
};

// Routes later CPU tensor allocations through the counter (tensors allocated before stay
// uncounted when freed too). Idempotent; call before building models. Thread-safe.
void InstallCpuTensorMemoryCounter();

TensorMemory MeasureTensorMemory(c10::Device device);

// The peak restarts from the bytes held now.
void ResetTensorMemoryPeak(c10::Device device);

}  // namespace dpo
