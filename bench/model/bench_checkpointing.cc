// dpo-bench-checkpointing: what per-block gradient checkpointing trades, on a Llama-shaped model.
// For each setting it reports the median time of a training forward + backward and the memory
// the forward leaves alive for backward (resident-set growth between the start of the forward
// and its end; malloc's mmap threshold is pinned low so every activation tensor is its own
// mapping and frees return to the system, making the difference exact up to page rounding).
//   dpo-bench-checkpointing [--layers 8] [--hidden 512] [--seq 512] [--batch 4] [--repeats 5]
#include <malloc.h>
#include <unistd.h>

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "core/common/clock.h"
#include "core/model/causal_lm.h"

namespace {


double ResidentMiB() {
  std::ifstream statm("/proc/self/statm");
  long total = 0, resident = 0;
  statm >> total >> resident;
  return static_cast<double>(resident) * static_cast<double>(sysconf(_SC_PAGESIZE)) / (1024.0 * 1024.0);
}

double Median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

struct Result {
  double step_seconds;
  double retained_mib;
};

Result Measure(dpo::CausalLm& model, const at::Tensor& ids, bool checkpointing, int repeats) {
  model.SetGradientCheckpointing(checkpointing);
  model.module().train();
  std::vector<double> seconds, retained;
  for (int i = 0; i <= repeats; ++i) {  // i = 0 warms up
    model.module().zero_grad();
    const double before = ResidentMiB();
    const auto start = dpo::Clock::now();
    const at::Tensor loss = model.HiddenStates(ids).pow(2).mean();
    const double after_forward = ResidentMiB();
    loss.backward();
    const double elapsed = dpo::SecondsSince(start);
    if (i == 0) continue;
    seconds.push_back(elapsed);
    retained.push_back(after_forward - before);
  }
  return {Median(seconds), Median(retained)};
}

int64_t Flag(int argc, char** argv, const char* name, int64_t fallback) {
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], name) == 0) return std::stoll(argv[i + 1]);
  }
  return fallback;
}

}  // namespace

int main(int argc, char** argv) {
  mallopt(M_MMAP_THRESHOLD, 64 * 1024);  // fixed: activations are mappings of their own
  const int64_t layers = Flag(argc, argv, "--layers", 8), hidden = Flag(argc, argv, "--hidden", 512);
  const int64_t seq = Flag(argc, argv, "--seq", 512), batch = Flag(argc, argv, "--batch", 4);
  const int repeats = static_cast<int>(Flag(argc, argv, "--repeats", 5));
  dpo::ModelConfig config = dpo::ModelConfig::Defaults("llama");
  config.vocab_size = 1024;
  config.bos_token_id = 1;
  config.eos_token_id = 2;
  config.hidden_size = hidden;
  config.intermediate_size = hidden * 8 / 3 / 64 * 64;
  config.num_layers = layers;
  config.num_heads = hidden / 64;
  config.num_kv_heads = std::max<int64_t>(1, hidden / 256);
  config.max_positions = seq;
  auto model = dpo::CreateCausalLm(config, 1);
  const at::Tensor ids = torch::randint(0, config.vocab_size, {batch, seq}, torch::kLong);
  std::printf("llama-shaped: %lld layers, hidden %lld, %lld/%lld heads, seq %lld, batch %lld, %.1fM parameters, "
              "%d threads\n",
              static_cast<long long>(layers), static_cast<long long>(hidden), static_cast<long long>(config.num_heads),
              static_cast<long long>(config.num_kv_heads), static_cast<long long>(seq), static_cast<long long>(batch),
              static_cast<double>(config.NumParameters()) / 1e6, at::get_num_threads());
  const Result plain = Measure(*model, ids, false, repeats);
  const Result checkpointed = Measure(*model, ids, true, repeats);
  std::printf("%-26s %12s %22s\n", "setting", "step s", "kept for backward MiB");
  std::printf("%-26s %12.3f %22.1f\n", "no checkpointing", plain.step_seconds, plain.retained_mib);
  std::printf("%-26s %12.3f %22.1f\n", "gradient_checkpointing", checkpointed.step_seconds, checkpointed.retained_mib);
  std::printf("ratio: time x%.2f, memory x%.3f\n", checkpointed.step_seconds / plain.step_seconds,
              checkpointed.retained_mib / plain.retained_mib);
  return 0;
}
