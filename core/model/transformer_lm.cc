// TransformerLm: input, length and cache checks; the HF state dict; gradient checkpointing.
#include "core/model/transformer_lm.h"

#include <torch/torch.h>

#include <map>

#include "core/common/error.h"
#include "core/common/problems.h"
#include "core/model/gradient_checkpoint.h"

namespace dpo {
namespace {

void CheckIds(const at::Tensor& ids, const std::string& what) {
  if (ids.dim() != 2 || ids.scalar_type() != torch::kLong) {
    throw InvalidInput(what + " must be a (N, T) int64 tensor, found " + ShapeString(ids.sizes()) + " of " +
                       std::string(c10::toString(ids.scalar_type())));
  }
}

}  // namespace

std::string ShapeString(at::IntArrayRef shape) {
  std::string text = "[";
  for (size_t i = 0; i < shape.size(); ++i) text += (i ? ", " : "") + std::to_string(shape[i]);
  return text + "]";
}

at::Tensor TransformerLm::HiddenStates(const at::Tensor& input_ids) {
  CheckIds(input_ids, "model input");
  const int64_t t = input_ids.size(1);
  if (t > config_.max_positions) {
    throw InvalidInput("sequence length " + std::to_string(t) + " exceeds the model's " +
                       config_.FieldName("max_positions") + "=" + std::to_string(config_.max_positions));
  }
  if (config_.sliding_window > 0 && t > config_.sliding_window) {
    throw InvalidInput("sequence length " + std::to_string(t) + " exceeds the model's sliding_window=" +
                       std::to_string(config_.sliding_window) +
                       " (sliding-window attention is not implemented; sequences up to the window are exact)");
  }
  return Forward(input_ids, nullptr);
}

at::Tensor TransformerLm::HiddenStatesIncremental(const at::Tensor& new_ids, KvCache& cache) {
  CheckIds(new_ids, "incremental model input");
  const int64_t n = new_ids.size(0), t = new_ids.size(1);
  if (n < 1 || t < 1) {
    throw InvalidInput("incremental model input must hold at least one token per row, found " +
                       ShapeString(new_ids.sizes()));
  }
  const bool fresh = cache.length == 0 && cache.keys.empty() && cache.values.empty();
  if (!fresh) {
    const auto layers = static_cast<size_t>(config_.num_layers);
    const std::vector<int64_t> expected{n, config_.KvHeads(), cache.length, config_.HeadSize()};
    bool ok = cache.length > 0 && cache.keys.size() == layers && cache.values.size() == layers;
    for (size_t i = 0; ok && i < layers; ++i) {
      ok = cache.keys[i].defined() && cache.values[i].defined() && cache.keys[i].sizes().vec() == expected &&
           cache.values[i].sizes().vec() == expected;
    }
    if (!ok) {
      const std::string found = cache.keys.empty() || !cache.keys[0].defined() ? "[]" : ShapeString(cache.keys[0].sizes());
      throw InvalidInput("incremental forward: KV cache does not match this model and batch: expected " +
                         std::to_string(layers) + " layers of " + ShapeString(expected) + " (length " +
                         std::to_string(cache.length) + "), found " + std::to_string(cache.keys.size()) +
                         " layers, first " + found);
    }
  }
  const int64_t limit = config_.sliding_window > 0 ? std::min(config_.sliding_window, config_.max_positions)
                                                   : config_.max_positions;
  if (cache.length + t > limit) {
    const std::string field = limit == config_.max_positions ? config_.FieldName("max_positions") : "sliding_window";
    throw InvalidInput("incremental forward: " + std::to_string(cache.length) + " cached + " + std::to_string(t) +
                       " new positions exceed the model's " + field + "=" + std::to_string(limit));
  }
  return Forward(new_ids, &cache);
}

at::Tensor TransformerLm::RunBlocks(at::Tensor x, KvCache* cache, const Block& block) {
  const auto layers = static_cast<size_t>(config_.num_layers);
  if (cache == nullptr) {
    const bool checkpoint = gradient_checkpointing_ && module().is_training();
    for (size_t i = 0; i < layers; ++i) {
      x = checkpoint ? CheckpointedForward([block, i](const at::Tensor& input) { return block(i, input, nullptr); }, x)
                     : block(i, x, nullptr);
    }
    return x;
  }
  if (cache->keys.empty()) {
    cache->keys.resize(layers);
    cache->values.resize(layers);
  }
  const int64_t t = x.size(1);
  for (size_t i = 0; i < layers; ++i) {
    const LayerCache slots{&cache->keys[i], &cache->values[i]};
    x = block(i, x, &slots);
  }
  cache->length += t;
  return x;
}

void TransformerLm::SetGradientCheckpointing(bool enabled) {
  if (enabled) {
    for (const auto& [field, p] : {std::pair{"embd_pdrop", config_.embd_pdrop}, {"attn_pdrop", config_.attn_pdrop},
                                   {"resid_pdrop", config_.resid_pdrop}}) {
      if (p != 0) {
        throw InvalidInput("model.gradient_checkpointing requires dropout 0 (recomputed blocks would draw other "
                           "dropout masks), found model." + config_.FieldName(field) + "=" + std::to_string(p));
      }
    }
  }
  gradient_checkpointing_ = enabled;
}

std::vector<NamedTensor> TransformerLm::HfStateDict() {
  std::vector<NamedTensor> tensors;
  for (auto& [name, parameter] : HfParameters()) tensors.push_back({name, parameter.detach()});
  return tensors;
}

void TransformerLm::LoadHfStateDict(const std::vector<NamedTensor>& tensors, const std::string& source) {
  const auto parameters = HfParameters();
  std::map<std::string, at::Tensor> expected(parameters.begin(), parameters.end());
  std::map<std::string, const at::Tensor*> found;
  std::vector<std::string> problems;
  for (const auto& tensor : tensors) {
    const std::string name = CanonicalHfName(tensor.name);
    if (name.empty()) continue;
    if (expected.count(name) == 0) {
      problems.push_back("unexpected tensor \"" + tensor.name + "\"");
    } else if (!found.emplace(name, &tensor.tensor).second) {
      problems.push_back("tensor \"" + tensor.name + "\" appears twice");
    }
  }
  for (const auto& [name, parameter] : parameters) {
    const auto it = found.find(name);
    if (it == found.end()) {
      problems.push_back("missing tensor \"" + name + "\"");
    } else if (it->second->sizes() != parameter.sizes()) {
      problems.push_back("tensor \"" + name + "\": expected shape " + ShapeString(parameter.sizes()) + ", found " +
                         ShapeString(it->second->sizes()));
    } else if (!at::isFloatingType(it->second->scalar_type())) {
      problems.push_back("tensor \"" + name + "\": expected a floating dtype, found " +
                         std::string(c10::toString(it->second->scalar_type())));
    }
  }
  ThrowIfProblems(source + ": weights do not match the model config:", problems);
  torch::NoGradGuard no_grad;
  for (const auto& [name, parameter] : parameters) parameter.copy_(*found.at(name));
}

}  // namespace dpo
