// dpo-bench-memory-table: what fits, from the memory model (core/model/memory_model.h), for
// Llama-shaped 1B, 7B, 13B and 70B models on 8 GPUs of 80 GB and of 141 GB, ZeRO stages 0/1/2,
// with and without gradient checkpointing. Prints the Markdown tables of docs/memory.md.
//   dpo-bench-memory-table [--ranks 8] [--pairs 1] [--tokens 2048] [--completion 1024]
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "core/model/memory_model.h"

namespace {

struct Shape {
  const char* name;
  int64_t hidden, layers, heads, kv_heads, inner, vocab;
  bool tied;
};

// HF configs: Llama 3.2 1B, Llama 2 7B, Llama 2 13B, Llama 3 70B.
const std::vector<Shape> kShapes = {{"Llama 3.2 1B", 2048, 16, 32, 8, 8192, 128256, true},
                                    {"Llama 2 7B", 4096, 32, 32, 32, 11008, 32000, false},
                                    {"Llama 2 13B", 5120, 40, 40, 40, 13824, 32000, false},
                                    {"Llama 3 70B", 8192, 80, 64, 8, 28672, 128256, false}};

dpo::ModelConfig ConfigOf(const Shape& shape) {
  dpo::ModelConfig config = dpo::ModelConfig::Defaults("llama");
  config.hidden_size = shape.hidden;
  config.num_layers = shape.layers;
  config.num_heads = shape.heads;
  config.num_kv_heads = shape.kv_heads;
  config.intermediate_size = shape.inner;
  config.vocab_size = shape.vocab;
  config.tie_word_embeddings = shape.tied;
  return config;
}

int64_t Flag(int argc, char** argv, const char* name, int64_t fallback) {
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], name) == 0) return std::stoll(argv[i + 1]);
  }
  return fallback;
}

double Gb(int64_t bytes) { return static_cast<double>(bytes) / 1e9; }

}  // namespace

int main(int argc, char** argv) {
  const int64_t ranks = Flag(argc, argv, "--ranks", 8), pairs = Flag(argc, argv, "--pairs", 1);
  const int64_t tokens = Flag(argc, argv, "--tokens", 2048), completion = Flag(argc, argv, "--completion", 1024);
  const int64_t bucket_bytes = 25 * 1024 * 1024;  // distributed.bucket_mb's default
  const double reserve_gb = 4;  // CUDA context, NCCL buffers, allocator fragmentation

  std::printf("Per-rank GB (1e9 bytes) at a step's peak: %lld GPUs, %lld pair(s) per micro-batch (%lld rows of %lld "
              "tokens, %lld scored), bf16 autocast, fp32 weights, gradients and AdamW, reference log-probs from "
              "dpo-reference-server or precomputed. A local reference adds the \"+ local ref\" column (its fp32 "
              "weights). Fits = total <= capacity - %.0f GB.\n\n",
              static_cast<long long>(ranks), static_cast<long long>(pairs), static_cast<long long>(2 * pairs),
              static_cast<long long>(tokens), static_cast<long long>(completion), reserve_gb);
  std::printf("| model | parameters | checkpointing | stage 0 | stage 1 | stage 2 | + local ref | fits 8 x 80 GB | fits 8 x 141 GB |\n");
  std::printf("|---|---|---|---|---|---|---|---|---|\n");
  for (const Shape& shape : kShapes) {
    const dpo::ModelConfig config = ConfigOf(shape);
    for (const bool checkpointing : {false, true}) {
      std::vector<int64_t> totals;
      int64_t reference = 0;
      for (int64_t stage = 0; stage <= 2; ++stage) {
        dpo::TrainingMemoryInput input;
        input.model = config;
        input.world_size = ranks;
        input.zero_stage = stage;
        // A parameter larger than a bucket (the embedding) is a bucket of its own.
        input.largest_bucket_bytes = std::max(bucket_bytes, shape.vocab * shape.hidden * 4);
        input.buckets_in_flight = 2;
        input.sequences = 2 * pairs;
        input.sequence_tokens = tokens;
        input.scored_tokens = completion;
        input.log_prob_chunk_tokens = 1024;
        input.gradient_checkpointing = checkpointing;
        input.cuda = true;
        input.bf16_autocast = true;
        totals.push_back(dpo::EstimateTrainingMemory(input).Total());
        input.local_reference = true;
        reference = dpo::EstimateTrainingMemory(input).reference;
      }
      const auto fits = [&](double capacity) {
        std::string stages;
        for (int64_t stage = 0; stage <= 2; ++stage) {
          if (Gb(totals[static_cast<size_t>(stage)]) <= capacity - reserve_gb) stages += (stages.empty() ? "" : ", ") + std::to_string(stage);
        }
        return stages.empty() ? std::string("no stage") : "stage " + stages;
      };
      std::printf("| %s | %.2fB | %s | %.1f | %.1f | %.1f | %.1f | %s | %s |\n", shape.name,
                  static_cast<double>(config.NumParameters()) / 1e9, checkpointing ? "on" : "off", Gb(totals[0]),
                  Gb(totals[1]), Gb(totals[2]), Gb(reference), fits(80).c_str(), fits(141).c_str());
    }
  }
  return 0;
}
