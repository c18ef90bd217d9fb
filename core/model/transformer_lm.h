// TransformerLm: what every decoder-only family shares on top of its own modules: the checks of
// token ids, sequence lengths and KV caches, the HF state dict mapping with its error report,
// and per-block gradient checkpointing. Private to core/model; families derive from it.
#pragma once

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "core/model/attention.h"
#include "core/model/causal_lm.h"

namespace dpo {

class TransformerLm : public CausalLm {
 public:
  const ModelConfig& config() const override { return config_; }

  // Checks the ids (a (N, T) int64 tensor, T within max_positions and any sliding window) and
  // runs Forward without a cache.
  at::Tensor HiddenStates(const at::Tensor& input_ids) override;
  // Checks the ids, the cache (fresh, or num_layers (N, kv_heads, length, head) pairs) and the
  // length, then runs Forward with the cache.
  at::Tensor HiddenStatesIncremental(const at::Tensor& new_ids, KvCache& cache) override;

  std::vector<NamedTensor> HfStateDict() override;
  void LoadHfStateDict(const std::vector<NamedTensor>& tensors, const std::string& source) override;
  void SetGradientCheckpointing(bool enabled) override;

 protected:
  explicit TransformerLm(ModelConfig config) : config_(std::move(config)) {}

  // (N, t) ids -> (N, t, H) hidden states after the final norm; with a cache, the ids continue
  // at position cache->length and their keys/values are appended (see CausalLm). Inputs are
  // already checked.
  virtual at::Tensor Forward(const at::Tensor& input_ids, KvCache* cache) = 0;
  // Every parameter under the name HF checkpoints of this family give it.
  virtual std::vector<std::pair<std::string, at::Tensor>> HfParameters() = 0;
  // The HF parameter name a checkpoint tensor fills ("transformer.h.0..." and "h.0..." are the
  // same GPT-2 tensor), or "" for tensors that hold no weights of this model (buffers, a tied
  // lm_head copy).
  virtual std::string CanonicalHfName(const std::string& name) const = 0;

  // Block `i` applied to x, (N, t, H) -> (N, t, H), with its KV-cache slots (nullptr without a
  // cache). Captures by value: a checkpointed block runs again during backward.
  using Block = std::function<at::Tensor(size_t i, const at::Tensor& x, const LayerCache* slots)>;

  // Runs the config's num_layers blocks in order over x. Without a cache, in a training-mode
  // forward with gradient checkpointing on, each block goes through CheckpointedForward. With a
  // cache, each block gets its layer's slots and cache->length then advances by the t new
  // positions.
  at::Tensor RunBlocks(at::Tensor x, KvCache* cache, const Block& block);

  ModelConfig config_;

 private:
  bool gradient_checkpointing_ = false;
};

std::string ShapeString(at::IntArrayRef shape);

}  // namespace dpo
