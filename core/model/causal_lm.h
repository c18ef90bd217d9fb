// CausalLm: the interface every model family implements. Training code sees hidden states and
// the output embedding separately, so log-probs can be computed chunk by chunk over completion
// positions without materialising (N, T, V) logits (see core/loss/sequence_log_probs.h).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include "core/model/model_config.h"
#include "core/model/safetensors.h"

namespace torch::nn {
class Module;
}

namespace dpo {

// Thread safety: a model is used by one thread at a time (forward mutates autograd state).
class CausalLm {
 public:
  // Attention keys and values of the positions seen so far, for incremental decoding. Empty
  // (no layers, length 0) before the first HiddenStatesIncremental call, which fills it.
  // Owned by the caller; one cache belongs to one model and one batch of N sequences.
  struct KvCache {
    std::vector<at::Tensor> keys;    // per layer: (N, heads, length, head)
    std::vector<at::Tensor> values;  // per layer: (N, heads, length, head)
    int64_t length = 0;              // positions cached; the next token sits at this position

    bool empty() const { return length == 0; }
    // Keeps only the batch rows in `rows` (int64 indices), e.g. to fan one prefilled prompt
    // out to several samples (rows = {0, 0, 0}) or to drop finished sequences.
    void SelectRows(const at::Tensor& rows);
  };

  virtual ~CausalLm() = default;

  virtual const ModelConfig& config() const = 0;

  // (N, T) int64 token ids -> (N, T, H) hidden states after the final norm. Sequences are
  // right-padded: causal attention means padding never influences earlier positions.
  virtual at::Tensor HiddenStates(const at::Tensor& input_ids) = 0;
  // Incremental forward for generation: (N, t) new token ids at positions
  // [cache.length, cache.length + t) -> (N, t, H) hidden states after the final norm, attending
  // to every cached position and causally within the new tokens; appends their keys/values to
  // `cache`. Equal (to float rounding) to the matching rows of HiddenStates on the whole
  // sequence. No padding support: every row of the batch has the same length. Throws
  // Error(kInvalidInput) on a bad shape, a cache of another batch size or model, or when
  // cache.length + t exceeds n_positions (the cache is left unchanged then).
  virtual at::Tensor HiddenStatesIncremental(const at::Tensor& new_ids, KvCache& cache) = 0;
  // (V, H): the output projection (the token embedding when tie_word_embeddings).
  virtual at::Tensor OutputEmbedding() = 0;

  // (N, T) -> (N, T, V) float32 logits. For generation and tests; training never calls it.
  at::Tensor Logits(const at::Tensor& input_ids);

  // The underlying module: parameters, train()/eval(), to(device). Include
  // <torch/nn/module.h> where it is used.
  virtual torch::nn::Module& module() = 0;

  // Weights with HF names and layouts (e.g. "transformer.h.0.attn.c_attn.weight", [in, out], or
  // "model.layers.0.self_attn.q_proj.weight", [out, in]); a tied output projection appears once.
  virtual std::vector<NamedTensor> HfStateDict() = 0;
  // Copies weights in HF names into the model (GPT-2: with or without the "transformer." prefix);
  // converts F16/BF16/F64 to the parameter dtype. Throws
  // Error(kInvalidInput) naming `source` and every missing, unexpected or mis-shaped tensor.
  virtual void LoadHfStateDict(const std::vector<NamedTensor>& tensors, const std::string& source) = 0;

  // Per-block activation recomputation in training-mode forwards that build a graph (see
  // core/model/gradient_checkpoint.h): less memory for about one more forward per step. Throws
  // Error(kInvalidInput) when enabling it on a model with dropout.
  virtual void SetGradientCheckpointing(bool enabled) = 0;
};

// Builds a model of the config's family with weights initialised deterministically from `seed`
// by HF's scheme for the family (N(0, initializer_range); GPT-2 scales residual projections by
// 1/sqrt(2 n_layer)). Throws Error(kInvalidInput) listing every problem of an invalid config.
std::shared_ptr<CausalLm> CreateCausalLm(const ModelConfig& config, uint64_t seed);

}  // namespace dpo
