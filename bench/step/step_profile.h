// Where a DPO step's GPU time goes: the step run under LibTorch's Kineto profiler, its device
// activity (kernels, copies) summed by name and by kind (GEMM, attention, optimizer, the rest).
#pragma once

#include <functional>
#include <string>

namespace dpo::bench {

// Runs `step` `repeats` times under the profiler (CPU and CUDA activity) and appends to `path` a
// table headed by `title`: the device time by kind, then the `top` kernels by total time with
// their count and share. Returns false (and says why on stderr) when the file cannot be written.
bool ProfileStep(const std::string& title, const std::function<void()>& step, int repeats, int top,
                 const std::string& path);

}  // namespace dpo::bench
