#include "bench/step/step_profile.h"

#include <torch/csrc/autograd/profiler_kineto.h>
#include <torch/torch.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <set>
#include <vector>

namespace dpo::bench {
namespace {

namespace profiler = torch::autograd::profiler;
using torch::profiler::impl::ActivityType;

struct Totals {
  uint64_t ns = 0;
  int64_t count = 0;
};

// A kernel's kind, from the names cuBLAS/CUTLASS, the attention kernels and ATen give them.
std::string KindOf(const std::string& name) {
  auto has = [&](const char* part) { return name.find(part) != std::string::npos; };
  if (has("gemm") || has("cutlass") || has("nvjet") || has("xmma") || has("Gemm")) return "GEMM";
  if (has("flash") || has("fmha") || has("attention")) return "attention";
  if (has("adam") || has("Adam")) return "optimizer";
  if (has("RowStatsKernel") || has("GatherBackwardKernel")) return "log-prob rows";
  if (has("Memcpy") || has("Memset") || has("memcpy") || has("memset")) return "copies";
  if (has("reduce") || has("Reduce")) return "reductions";
  return "elementwise and other";
}

}  // namespace

bool ProfileStep(const std::string& title, const std::function<void()>& step, int repeats, int top,
                 const std::string& path) {
  const torch::profiler::impl::ProfilerConfig config(torch::profiler::impl::ProfilerState::KINETO);
  const std::set<ActivityType> activities{ActivityType::CPU, ActivityType::CUDA};
  profiler::prepareProfiler(config, activities);
  profiler::enableProfiler(config, activities);
  for (int i = 0; i < repeats; ++i) step();
  if (torch::cuda::is_available()) torch::cuda::synchronize();
  const std::unique_ptr<profiler::ProfilerResult> result = profiler::disableProfiler();

  std::map<std::string, Totals> by_name, by_kind;
  uint64_t total_ns = 0;
  for (const auto& event : result->events()) {
    if (event.deviceType() != c10::DeviceType::CUDA) continue;
    const std::string name = event.name();
    for (auto* totals : {&by_name[name], &by_kind[KindOf(name)]}) {
      totals->ns += event.durationNs();
      totals->count += 1;
    }
    total_ns += event.durationNs();
  }
  std::FILE* file = std::fopen(path.c_str(), "a");
  if (file == nullptr) {
    std::fprintf(stderr, "dpo-bench-step: cannot write %s\n", path.c_str());
    return false;
  }
  const double per_step = 1e-6 / repeats;  // ns over `repeats` steps -> ms per step
  std::fprintf(file, "== %s: %.1f ms of device activity per step (%d steps profiled)\n", title.c_str(),
               static_cast<double>(total_ns) * per_step, repeats);
  std::vector<std::pair<std::string, Totals>> kinds(by_kind.begin(), by_kind.end()), names(by_name.begin(), by_name.end());
  const auto longer = [](const auto& a, const auto& b) { return a.second.ns > b.second.ns; };
  std::sort(kinds.begin(), kinds.end(), longer);
  std::sort(names.begin(), names.end(), longer);
  for (const auto& [kind, totals] : kinds) {
    std::fprintf(file, "  %-24s %8.2f ms  %5.1f%%  %6lld launches\n", kind.c_str(), static_cast<double>(totals.ns) * per_step,
                 100.0 * static_cast<double>(totals.ns) / static_cast<double>(std::max<uint64_t>(total_ns, 1)),
                 static_cast<long long>(totals.count / repeats));
  }
  std::fprintf(file, "  top kernels (ms per step, share, launches per step, kind, name):\n");
  for (size_t i = 0; i < names.size() && i < static_cast<size_t>(top); ++i) {
    const auto& [name, totals] = names[i];
    std::fprintf(file, "  %8.2f  %5.1f%%  %5lld  %-12.12s %.150s\n", static_cast<double>(totals.ns) * per_step,
                 100.0 * static_cast<double>(totals.ns) / static_cast<double>(std::max<uint64_t>(total_ns, 1)),
                 static_cast<long long>(totals.count / repeats), KindOf(name).c_str(), name.c_str());
  }
  std::fclose(file);
  return true;
}

}  // namespace dpo::bench
