// GPT-2 implementation on torch::nn. Module and parameter names equal HF's GPT2Model names
// (wte, wpe, h.<i>.ln_1, h.<i>.attn.c_attn, ...), so the state dict maps 1:1 to HF checkpoints.
#include "core/model/gpt2_model.h"

#include <torch/torch.h>

#include <cmath>

#include "core/model/transformer_lm.h"

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

class AttentionImpl : public torch::nn::Module {
 public:
  explicit AttentionImpl(const ModelConfig& config)
      : c_attn(register_module("c_attn", Conv1D(config.hidden_size, 3 * config.hidden_size))),
        c_proj(register_module("c_proj", Conv1D(config.hidden_size, config.hidden_size))),
        num_heads_(config.num_heads),
        attention_dropout_(config.attn_pdrop),
        residual_dropout_(config.resid_pdrop) {}

  // (N, t, H) -> (N, t, H), causal. With `cache`, the t positions follow the cached ones, attend
  // to them too, and their keys/values are appended to the cache.
  torch::Tensor forward(const torch::Tensor& x, const LayerCache* cache = nullptr) {
    const int64_t n = x.size(0), t = x.size(1), h = x.size(2);
    const int64_t head = h / num_heads_;
    // (N, t, 3H) -> 3 x (N, heads, t, head)
    const auto qkv = c_attn(x).view({n, t, 3, num_heads_, head}).permute({2, 0, 3, 1, 4});
    const auto q = qkv[0];
    const auto [k, v] = AppendToCache(cache, qkv[1], qkv[2]);
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
      : c_fc(register_module("c_fc", Conv1D(config.hidden_size, config.InnerSize()))),
        c_proj(register_module("c_proj", Conv1D(config.InnerSize(), config.hidden_size))),
        activation_(config.activation),
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
  return torch::nn::LayerNorm(torch::nn::LayerNormOptions({config.hidden_size}).eps(config.norm_epsilon));
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
      : wte(register_module("wte", torch::nn::Embedding(config.vocab_size, config.hidden_size))),
        wpe(register_module("wpe", torch::nn::Embedding(config.max_positions, config.hidden_size))),
        h(register_module("h", torch::nn::ModuleList())),
        ln_f(register_module("ln_f", MakeLayerNorm(config))),
        embedding_dropout_(config.embd_pdrop) {
    for (int64_t i = 0; i < config.num_layers; ++i) h->push_back(Block(config));
  }

  // (N, t) -> (N, t, H) embeddings of whole sequences from position 0, or with an offset for
  // incremental decoding.
  torch::Tensor Embed(const torch::Tensor& input_ids, int64_t offset) {
    const int64_t t = input_ids.size(1);
    const auto positions = torch::arange(offset, offset + t, torch::dtype(torch::kLong).device(input_ids.device()));
    return torch::dropout(wte(input_ids) + wpe(positions), embedding_dropout_, is_training());
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

bool EndsWith(const std::string& name, const std::string& suffix) {
  return name.size() >= suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
}

class Gpt2Model final : public TransformerLm {
 public:
  Gpt2Model(const ModelConfig& config, uint64_t seed) : TransformerLm(config), module_(config) { Initialise(seed); }

  at::Tensor OutputEmbedding() override { return module_->wte->weight; }

  torch::nn::Module& module() override { return *module_; }

 protected:
  at::Tensor Forward(const at::Tensor& input_ids, KvCache* cache) override {
    const auto x = module_->Embed(input_ids, cache != nullptr ? cache->length : 0);
    Gpt2Impl* gpt2 = module_.get();
    return module_->ln_f(RunBlocks(x, cache, [gpt2](size_t i, const at::Tensor& input, const LayerCache* slots) {
      return gpt2->h[i]->as<BlockImpl>()->forward(input, slots);
    }));
  }

  // GPT2LMHeadModel's names: "transformer." + the module path; the LM head is tied to wte.
  std::vector<std::pair<std::string, at::Tensor>> HfParameters() override {
    std::vector<std::pair<std::string, at::Tensor>> parameters;
    for (const auto& item : module_->named_parameters()) parameters.emplace_back(kHfPrefix + item.key(), item.value());
    return parameters;
  }

  // Names with or without the prefix (the hub's original gpt2 has none); causal-mask buffers and
  // the tied lm_head.weight hold no weights of their own.
  std::string CanonicalHfName(const std::string& name) const override {
    if (EndsWith(name, ".attn.bias") || EndsWith(name, ".attn.masked_bias") || name == "lm_head.weight") return "";
    return name.rfind(kHfPrefix, 0) == 0 ? name : kHfPrefix + name;
  }

 private:
  void Initialise(uint64_t seed) {
    torch::NoGradGuard no_grad;
    auto generator = at::make_generator<at::CPUGeneratorImpl>(seed);
    const double std = config_.initializer_range;
    const double projection_std = std / std::sqrt(2.0 * static_cast<double>(config_.num_layers));
    // named_parameters() has a fixed order, so the same seed always gives the same weights.
    for (auto& item : module_->named_parameters()) {
      const std::string& name = item.key();
      auto& parameter = item.value();
      if (name.find("ln_") != std::string::npos) {
        parameter.fill_(EndsWith(name, "weight") ? 1.0 : 0.0);
      } else if (EndsWith(name, "bias")) {
        parameter.zero_();
      } else {
        const bool is_residual_projection = name.find("c_proj.weight") != std::string::npos;
        parameter.normal_(0.0, is_residual_projection ? projection_std : std, generator);
      }
    }
  }

  Gpt2 module_;
};

}  // namespace

std::shared_ptr<CausalLm> CreateGpt2Model(const ModelConfig& config, uint64_t seed) {
  return std::make_shared<Gpt2Model>(config, seed);
}

}  // namespace dpo
