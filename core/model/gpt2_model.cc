// GPT-2 implementation on torch::nn. Module and parameter names equal HF's GPT2Model names
// (wte, wpe, h.<i>.ln_1, h.<i>.attn.c_attn, ...), so the state dict maps 1:1 to HF checkpoints.
#include "core/model/gpt2_model.h"

#include <torch/torch.h>
#include <torch/version.h>

#include <cmath>
#include <limits>
#include <map>
#include <set>

#include "core/common/error.h"

namespace dpo {
namespace {

// HF's Conv1D: y = x W + b with W stored [in, out].
class Conv1DImpl : public torch::nn::Module {
 public:
  Conv1DImpl(int64_t in_features, int64_t out_features)
      : weight(register_parameter("weight", torch::empty({in_features, out_features}))),
        bias(register_parameter("bias", torch::zeros({out_features}))) {}

  // (..., in) -> (..., out)
  torch::Tensor forward(const torch::Tensor& x) {
    auto sizes = x.sizes().vec();
    sizes.back() = weight.size(1);
    return torch::addmm(bias, x.reshape({-1, x.size(-1)}), weight).view(sizes);
  }

  torch::Tensor weight;
  torch::Tensor bias;
};
TORCH_MODULE(Conv1D);

torch::Tensor Activation(const torch::Tensor& x, const std::string& name) {
  if (name == "gelu_new" || name == "gelu_pytorch_tanh") return torch::gelu(x, "tanh");
  if (name == "gelu") return torch::gelu(x);
  return torch::relu(x);  // the config validated the name
}

// Causal scaled dot-product attention. q: (N, heads, t, head); k, v: (N, heads, L + t, head)
// where the t queries sit at positions [L, L + t) and query i sees keys [0, L + i]. L = 0 is the
// training path (whole sequences); L > 0 is incremental decoding over a KV cache.
torch::Tensor CausalAttention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                              double dropout, bool training) {
  const int64_t t = q.size(2), total = k.size(2), offset = total - t;
#if TORCH_VERSION_MAJOR >= 2
  if (offset == 0) return at::scaled_dot_product_attention(q, k, v, /*attn_mask=*/{}, dropout, /*is_causal=*/true);
  // is_causal aligns the mask top-left, which is wrong when L > 0: pass it explicitly (true = attend).
  c10::optional<at::Tensor> allowed;
  if (t > 1) allowed = torch::ones({t, total}, torch::dtype(torch::kBool).device(q.device())).tril(offset);
  return at::scaled_dot_product_attention(q, k, v, allowed, dropout, /*is_causal=*/false);
#else
  const int64_t head = q.size(-1);
  auto scores = torch::matmul(q, k.transpose(-2, -1)) * (1.0 / std::sqrt(static_cast<double>(head)));
  if (t > 1) {
    const auto future = torch::ones({t, total}, torch::dtype(torch::kBool).device(q.device())).triu(offset + 1);
    scores = scores.masked_fill(future, -std::numeric_limits<float>::infinity());
  }
  return torch::matmul(torch::dropout(torch::softmax(scores, -1), dropout, training), v);
#endif
}

// One layer's slots in a KvCache: (N, heads, L, head) tensors, undefined while L = 0.
struct LayerCache {
  at::Tensor* keys;
  at::Tensor* values;
};

class AttentionImpl : public torch::nn::Module {
 public:
  explicit AttentionImpl(const ModelConfig& config)
      : c_attn(register_module("c_attn", Conv1D(config.n_embd, 3 * config.n_embd))),
        c_proj(register_module("c_proj", Conv1D(config.n_embd, config.n_embd))),
        num_heads_(config.n_head),
        attention_dropout_(config.attn_pdrop),
        residual_dropout_(config.resid_pdrop) {}

  // (N, t, H) -> (N, t, H), causal. With `cache`, the t positions follow the cached ones, attend
  // to them too, and their keys/values are appended to the cache.
  torch::Tensor forward(const torch::Tensor& x, const LayerCache* cache = nullptr) {
    const int64_t n = x.size(0), t = x.size(1), h = x.size(2);
    const int64_t head = h / num_heads_;
    // (N, t, 3H) -> 3 x (N, heads, t, head)
    const auto qkv = c_attn(x).view({n, t, 3, num_heads_, head}).permute({2, 0, 3, 1, 4});
    auto q = qkv[0], k = qkv[1], v = qkv[2];
    if (cache != nullptr) {
      if (cache->keys->defined()) {
        k = torch::cat({*cache->keys, k}, 2);
        v = torch::cat({*cache->values, v}, 2);
      }
      *cache->keys = k;
      *cache->values = v;
    }
    const double dropout = is_training() ? attention_dropout_ : 0.0;
    auto y = CausalAttention(q, k, v, dropout, is_training());
    y = y.transpose(1, 2).reshape({n, t, h});
    return torch::dropout(c_proj(y), residual_dropout_, is_training());
  }

  Conv1D c_attn;
  Conv1D c_proj;

 private:
  int64_t num_heads_;
  double attention_dropout_;
  double residual_dropout_;
};
TORCH_MODULE(Attention);

class MlpImpl : public torch::nn::Module {
 public:
  explicit MlpImpl(const ModelConfig& config)
      : c_fc(register_module("c_fc", Conv1D(config.n_embd, config.InnerSize()))),
        c_proj(register_module("c_proj", Conv1D(config.InnerSize(), config.n_embd))),
        activation_(config.activation_function),
        dropout_(config.resid_pdrop) {}

  torch::Tensor forward(const torch::Tensor& x) {
    return torch::dropout(c_proj(Activation(c_fc(x), activation_)), dropout_, is_training());
  }

  Conv1D c_fc;
  Conv1D c_proj;

 private:
  std::string activation_;
  double dropout_;
};
TORCH_MODULE(Mlp);

torch::nn::LayerNorm MakeLayerNorm(const ModelConfig& config) {
  return torch::nn::LayerNorm(torch::nn::LayerNormOptions({config.n_embd}).eps(config.layer_norm_epsilon));
}

class BlockImpl : public torch::nn::Module {
 public:
  explicit BlockImpl(const ModelConfig& config)
      : ln_1(register_module("ln_1", MakeLayerNorm(config))),
        attn(register_module("attn", Attention(config))),
        ln_2(register_module("ln_2", MakeLayerNorm(config))),
        mlp(register_module("mlp", Mlp(config))) {}

  torch::Tensor forward(torch::Tensor x, const LayerCache* cache = nullptr) {
    x = x + attn(ln_1(x), cache);
    return x + mlp(ln_2(x));
  }

  torch::nn::LayerNorm ln_1;
  Attention attn;
  torch::nn::LayerNorm ln_2;
  Mlp mlp;
};
TORCH_MODULE(Block);

class Gpt2Impl : public torch::nn::Module {
 public:
  explicit Gpt2Impl(const ModelConfig& config)
      : wte(register_module("wte", torch::nn::Embedding(config.vocab_size, config.n_embd))),
        wpe(register_module("wpe", torch::nn::Embedding(config.n_positions, config.n_embd))),
        h(register_module("h", torch::nn::ModuleList())),
        ln_f(register_module("ln_f", MakeLayerNorm(config))),
        embedding_dropout_(config.embd_pdrop) {
    for (int64_t i = 0; i < config.n_layer; ++i) h->push_back(Block(config));
  }

  // (N, t) -> (N, t, H). Without a cache the ids are whole sequences from position 0 (the
  // training path); with one they continue at position cache->length (validated by the caller).
  torch::Tensor forward(const torch::Tensor& input_ids, CausalLm::KvCache* cache = nullptr) {
    const int64_t t = input_ids.size(1);
    const int64_t offset = cache != nullptr ? cache->length : 0;
    const auto positions = torch::arange(offset, offset + t, torch::dtype(torch::kLong).device(input_ids.device()));
    auto x = torch::dropout(wte(input_ids) + wpe(positions), embedding_dropout_, is_training());
    if (cache != nullptr && cache->keys.empty()) {
      cache->keys.resize(h->size());
      cache->values.resize(h->size());
    }
    for (size_t i = 0; i < h->size(); ++i) {
      BlockImpl* block = h[i]->as<BlockImpl>();
      if (cache == nullptr) {
        x = block->forward(x);
      } else {
        const LayerCache layer{&cache->keys[i], &cache->values[i]};
        x = block->forward(x, &layer);
      }
    }
    if (cache != nullptr) cache->length += t;
    return ln_f(x);
  }

  torch::nn::Embedding wte;
  torch::nn::Embedding wpe;
  torch::nn::ModuleList h;
  torch::nn::LayerNorm ln_f;

 private:
  double embedding_dropout_;
};
TORCH_MODULE(Gpt2);

constexpr const char* kHfPrefix = "transformer.";

// Buffers some HF GPT-2 checkpoints carry that hold no weights (causal masks).
bool IsIgnorableHfTensor(const std::string& name) {
  auto ends_with = [&](const std::string& suffix) {
    return name.size() >= suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  return ends_with(".attn.bias") || ends_with(".attn.masked_bias") || name == "lm_head.weight";
}

std::string ShapeString(at::IntArrayRef shape) {
  std::string text = "[";
  for (size_t i = 0; i < shape.size(); ++i) text += (i ? ", " : "") + std::to_string(shape[i]);
  return text + "]";
}

class Gpt2Model final : public CausalLm {
 public:
  Gpt2Model(const ModelConfig& config, uint64_t seed) : config_(config), module_(config) {
    Initialise(seed);
  }

  const ModelConfig& config() const override { return config_; }

  at::Tensor HiddenStates(const at::Tensor& input_ids) override {
    CheckIds(input_ids, "model input");
    if (input_ids.size(1) > config_.n_positions) {
      throw InvalidInput("sequence length " + std::to_string(input_ids.size(1)) + " exceeds the model's n_positions=" +
                         std::to_string(config_.n_positions));
    }
    return module_->forward(input_ids);
  }

  at::Tensor HiddenStatesIncremental(const at::Tensor& new_ids, KvCache& cache) override {
    CheckIds(new_ids, "incremental model input");
    const int64_t n = new_ids.size(0), t = new_ids.size(1);
    if (n < 1 || t < 1) {
      throw InvalidInput("incremental model input must hold at least one token per row, found " +
                         ShapeString(new_ids.sizes()));
    }
    CheckCache(cache, n);
    if (cache.length + t > config_.n_positions) {
      throw InvalidInput("incremental forward: " + std::to_string(cache.length) + " cached + " + std::to_string(t) +
                         " new positions exceed the model's n_positions=" + std::to_string(config_.n_positions));
    }
    return module_->forward(new_ids, &cache);
  }

  at::Tensor OutputEmbedding() override { return module_->wte->weight; }

  torch::nn::Module& module() override { return *module_; }

  std::vector<NamedTensor> HfStateDict() override {
    std::vector<NamedTensor> tensors;
    for (const auto& item : module_->named_parameters()) {
      tensors.push_back({kHfPrefix + item.key(), item.value().detach()});
    }
    return tensors;
  }

  void LoadHfStateDict(const std::vector<NamedTensor>& tensors, const std::string& source) override {
    auto parameters = module_->named_parameters();
    std::map<std::string, const at::Tensor*> found;
    std::vector<std::string> problems;
    for (const auto& tensor : tensors) {
      std::string name = tensor.name;
      if (name.rfind(kHfPrefix, 0) == 0) name = name.substr(std::string(kHfPrefix).size());
      if (IsIgnorableHfTensor(name)) continue;
      if (!parameters.contains(name)) {
        problems.push_back("unexpected tensor \"" + tensor.name + "\"");
        continue;
      }
      if (!found.emplace(name, &tensor.tensor).second) problems.push_back("tensor \"" + tensor.name + "\" appears twice");
    }
    for (const auto& item : parameters) {
      const auto it = found.find(item.key());
      if (it == found.end()) {
        problems.push_back("missing tensor \"" + std::string(kHfPrefix) + item.key() + "\"");
        continue;
      }
      const at::Tensor& source_tensor = *it->second;
      if (source_tensor.sizes() != item.value().sizes()) {
        problems.push_back("tensor \"" + std::string(kHfPrefix) + item.key() + "\": expected shape " +
                           ShapeString(item.value().sizes()) + ", found " + ShapeString(source_tensor.sizes()));
      } else if (!at::isFloatingType(source_tensor.scalar_type())) {
        problems.push_back("tensor \"" + std::string(kHfPrefix) + item.key() + "\": expected a floating dtype, found " +
                           std::string(c10::toString(source_tensor.scalar_type())));
      }
    }
    if (!problems.empty()) {
      std::string message = source + ": weights do not match the model config:";
      for (const auto& problem : problems) message += "\n  " + problem;
      throw InvalidInput(message);
    }
    torch::NoGradGuard no_grad;
    for (auto& item : parameters) item.value().copy_(*found.at(item.key()));
  }

 private:
  static void CheckIds(const at::Tensor& ids, const std::string& what) {
    if (ids.dim() != 2 || ids.scalar_type() != torch::kLong) {
      throw InvalidInput(what + " must be a (N, T) int64 tensor, found " + ShapeString(ids.sizes()) + " of " +
                         std::string(c10::toString(ids.scalar_type())));
    }
  }

  // A cache is either fresh (length 0, no tensors) or holds n_layer (N, heads, length, head) pairs.
  void CheckCache(const KvCache& cache, int64_t n) const {
    if (cache.length == 0 && cache.keys.empty() && cache.values.empty()) return;
    const auto layers = static_cast<size_t>(config_.n_layer);
    const std::vector<int64_t> expected{n, config_.n_head, cache.length, config_.HeadSize()};
    bool ok = cache.length > 0 && cache.keys.size() == layers && cache.values.size() == layers;
    for (size_t i = 0; ok && i < layers; ++i) {
      ok = cache.keys[i].defined() && cache.values[i].defined() && cache.keys[i].sizes().vec() == expected &&
           cache.values[i].sizes().vec() == expected;
    }
    if (!ok) {
      const std::string found =
          cache.keys.empty() || !cache.keys[0].defined() ? "[]" : ShapeString(cache.keys[0].sizes());
      throw InvalidInput("incremental forward: KV cache does not match this model and batch: expected " +
                         std::to_string(layers) + " layers of " + ShapeString(expected) + " (length " +
                         std::to_string(cache.length) + "), found " + std::to_string(cache.keys.size()) +
                         " layers, first " + found);
    }
  }

  void Initialise(uint64_t seed) {
    torch::NoGradGuard no_grad;
    auto generator = at::make_generator<at::CPUGeneratorImpl>(seed);
    const double std = config_.initializer_range;
    const double projection_std = std / std::sqrt(2.0 * static_cast<double>(config_.n_layer));
    // named_parameters() has a fixed order, so the same seed always gives the same weights.
    for (auto& item : module_->named_parameters()) {
      const std::string& name = item.key();
      auto& parameter = item.value();
      const bool is_norm = name.find("ln_") != std::string::npos;
      if (is_norm) {
        parameter.fill_(name.size() >= 6 && name.compare(name.size() - 6, 6, "weight") == 0 ? 1.0 : 0.0);
      } else if (name.size() >= 4 && name.compare(name.size() - 4, 4, "bias") == 0) {
        parameter.zero_();
      } else {
        const bool is_residual_projection = name.find("c_proj.weight") != std::string::npos;
        parameter.normal_(0.0, is_residual_projection ? projection_std : std, generator);
      }
    }
  }

  ModelConfig config_;
  Gpt2 module_;
};

}  // namespace

std::shared_ptr<CausalLm> CreateGpt2Model(const ModelConfig& config, uint64_t seed) {
  return std::make_shared<Gpt2Model>(config, seed);
}

}  // namespace dpo
