// Llama-family implementation on torch::nn, following transformers' modeling_llama.py (Mistral
// and Qwen2 differ only in config: sliding window, q/k/v biases).
#include "core/model/llama_model.h"

#include <torch/torch.h>

#include "core/model/rotary.h"
#include "core/model/transformer_lm.h"

namespace dpo {
namespace {

// x / sqrt(mean(x^2) + eps) * weight, the statistics in float32 whatever x's dtype.
class RmsNormImpl : public torch::nn::Module {
 public:
  RmsNormImpl(int64_t size, double epsilon)
      : weight(register_parameter("weight", torch::ones({size}))), epsilon_(epsilon) {}

  // (..., H) -> (..., H). A float32 x (the residual stream of a float32 model, also under
  // autocast) goes through ATen's rms_norm: one fused kernel forward and one backward on CUDA.
  // Otherwise transformers' order: normalise in float32, round to x's dtype, then scale.
  torch::Tensor forward(const torch::Tensor& x) {
    const int64_t size = weight.size(0);
    if (x.scalar_type() == torch::kFloat32 && weight.scalar_type() == torch::kFloat32) {
      return at::rms_norm(x, {size}, weight, epsilon_);
    }
    return weight * at::rms_norm(x.to(torch::kFloat32), {size}, std::nullopt, epsilon_).to(x.scalar_type());
  }

  torch::Tensor weight;

 private:
  double epsilon_;
};
TORCH_MODULE(RmsNorm);

torch::nn::Linear MakeLinear(int64_t in, int64_t out, bool bias) {
  return torch::nn::Linear(torch::nn::LinearOptions(in, out).bias(bias));
}

class SelfAttentionImpl : public torch::nn::Module {
 public:
  explicit SelfAttentionImpl(const ModelConfig& config)
      : q_proj(register_module("q_proj", MakeLinear(config.hidden_size, config.num_heads * config.HeadSize(), config.qkv_bias))),
        k_proj(register_module("k_proj", MakeLinear(config.hidden_size, config.KvHeads() * config.HeadSize(), config.qkv_bias))),
        v_proj(register_module("v_proj", MakeLinear(config.hidden_size, config.KvHeads() * config.HeadSize(), config.qkv_bias))),
        o_proj(register_module("o_proj", MakeLinear(config.num_heads * config.HeadSize(), config.hidden_size, config.output_bias))),
        num_heads_(config.num_heads),
        kv_heads_(config.KvHeads()),
        head_(config.HeadSize()),
        dropout_(config.attn_pdrop) {}

  // (N, t, H) -> (N, t, H), causal, rotated by the (t, head) cos/sin of the t positions. With
  // `cache`, the positions follow the cached ones and their keys/values are appended.
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin,
                        const LayerCache* cache) {
    const int64_t n = x.size(0), t = x.size(1);
    const auto q = ApplyRotary(q_proj(x).view({n, t, num_heads_, head_}).transpose(1, 2), cos, sin);
    const auto k_new = ApplyRotary(k_proj(x).view({n, t, kv_heads_, head_}).transpose(1, 2), cos, sin);
    const auto v_new = v_proj(x).view({n, t, kv_heads_, head_}).transpose(1, 2);
    const auto [k, v] = AppendToCache(cache, k_new, v_new);
    const auto y = CausalAttention(q, k, v, is_training() ? dropout_ : 0.0, is_training());
    return o_proj(y.transpose(1, 2).reshape({n, t, num_heads_ * head_}));
  }

  torch::nn::Linear q_proj, k_proj, v_proj, o_proj;

 private:
  int64_t num_heads_, kv_heads_, head_;
  double dropout_;
};
TORCH_MODULE(SelfAttention);

// down(silu(gate(x)) * up(x))
class GatedMlpImpl : public torch::nn::Module {
 public:
  explicit GatedMlpImpl(const ModelConfig& config)
      : gate_proj(register_module("gate_proj", MakeLinear(config.hidden_size, config.InnerSize(), config.mlp_bias))),
        up_proj(register_module("up_proj", MakeLinear(config.hidden_size, config.InnerSize(), config.mlp_bias))),
        down_proj(register_module("down_proj", MakeLinear(config.InnerSize(), config.hidden_size, config.mlp_bias))) {}

  torch::Tensor forward(const torch::Tensor& x) { return down_proj(torch::silu(gate_proj(x)) * up_proj(x)); }

  torch::nn::Linear gate_proj, up_proj, down_proj;
};
TORCH_MODULE(GatedMlp);

class DecoderLayerImpl : public torch::nn::Module {
 public:
  explicit DecoderLayerImpl(const ModelConfig& config)
      : input_layernorm(register_module("input_layernorm", RmsNorm(config.hidden_size, config.norm_epsilon))),
        self_attn(register_module("self_attn", SelfAttention(config))),
        post_attention_layernorm(
            register_module("post_attention_layernorm", RmsNorm(config.hidden_size, config.norm_epsilon))),
        mlp(register_module("mlp", GatedMlp(config))) {}

  torch::Tensor forward(torch::Tensor x, const torch::Tensor& cos, const torch::Tensor& sin, const LayerCache* cache) {
    x = x + self_attn(input_layernorm(x), cos, sin, cache);
    return x + mlp(post_attention_layernorm(x));
  }

  RmsNorm input_layernorm;
  SelfAttention self_attn;
  RmsNorm post_attention_layernorm;
  GatedMlp mlp;
};
TORCH_MODULE(DecoderLayer);

// transformers' LlamaModel: "model." in the checkpoint names.
class DecoderImpl : public torch::nn::Module {
 public:
  explicit DecoderImpl(const ModelConfig& config)
      : embed_tokens(register_module("embed_tokens", torch::nn::Embedding(config.vocab_size, config.hidden_size))),
        layers(register_module("layers", torch::nn::ModuleList())),
        norm(register_module("norm", RmsNorm(config.hidden_size, config.norm_epsilon))) {
    for (int64_t i = 0; i < config.num_layers; ++i) layers->push_back(DecoderLayer(config));
  }

  torch::nn::Embedding embed_tokens;
  torch::nn::ModuleList layers;
  RmsNorm norm;
};
TORCH_MODULE(Decoder);

// transformers' LlamaForCausalLM: the decoder and, unless tied, lm_head.
class LlamaForCausalLmImpl : public torch::nn::Module {
 public:
  explicit LlamaForCausalLmImpl(const ModelConfig& config) : model(register_module("model", Decoder(config))) {
    if (!config.tie_word_embeddings) {
      lm_head = register_module("lm_head", MakeLinear(config.hidden_size, config.vocab_size, /*bias=*/false));
    }
  }

  Decoder model;
  torch::nn::Linear lm_head{nullptr};
};
TORCH_MODULE(LlamaForCausalLm);

class LlamaModel final : public TransformerLm {
 public:
  LlamaModel(const ModelConfig& config, uint64_t seed)
      : TransformerLm(config), module_(config), inverse_frequencies_(RotaryInverseFrequencies(config)) {
    Initialise(seed);
  }

  at::Tensor OutputEmbedding() override {
    return config_.tie_word_embeddings ? module_->model->embed_tokens->weight : module_->lm_head->weight;
  }

  torch::nn::Module& module() override { return *module_; }

 protected:
  at::Tensor Forward(const at::Tensor& input_ids, KvCache* cache) override {
    const int64_t t = input_ids.size(1), offset = cache != nullptr ? cache->length : 0;
    if (inverse_frequencies_.device() != input_ids.device()) {
      inverse_frequencies_ = inverse_frequencies_.to(input_ids.device());
    }
    const std::pair<at::Tensor, at::Tensor> angles = RotaryAngles(inverse_frequencies_, offset, t);  // (t, head) each
    DecoderImpl* decoder = module_->model.get();
    const auto x = decoder->embed_tokens(input_ids);
    return decoder->norm(RunBlocks(x, cache, [decoder, angles](size_t i, const at::Tensor& input, const LayerCache* slots) {
      return decoder->layers[i]->as<DecoderLayerImpl>()->forward(input, angles.first, angles.second, slots);
    }));
  }

  // The module paths are transformers' names already.
  std::vector<std::pair<std::string, at::Tensor>> HfParameters() override {
    std::vector<std::pair<std::string, at::Tensor>> parameters;
    for (const auto& item : module_->named_parameters()) parameters.emplace_back(item.key(), item.value());
    return parameters;
  }

  // A tied model ignores a stored lm_head.weight (some exports keep the duplicate); rotary
  // inverse-frequency buffers of old exports hold nothing to load.
  std::string CanonicalHfName(const std::string& name) const override {
    if (config_.tie_word_embeddings && name == "lm_head.weight") return "";
    const std::string rotary_suffix = ".rotary_emb.inv_freq";
    if (name.size() > rotary_suffix.size() &&
        name.compare(name.size() - rotary_suffix.size(), rotary_suffix.size(), rotary_suffix) == 0) {
      return "";
    }
    return name;
  }

 private:
  // transformers' _init_weights: Linear and Embedding weights N(0, initializer_range), biases 0,
  // norm weights 1; in named_parameters() order, so a seed always gives the same weights.
  void Initialise(uint64_t seed) {
    torch::NoGradGuard no_grad;
    auto generator = at::make_generator<at::CPUGeneratorImpl>(seed);
    for (auto& item : module_->named_parameters()) {
      const std::string& name = item.key();
      auto& parameter = item.value();
      if (name.find("norm.") != std::string::npos) {
        parameter.fill_(1.0);
      } else if (name.size() >= 4 && name.compare(name.size() - 4, 4, "bias") == 0) {
        parameter.zero_();
      } else {
        parameter.normal_(0.0, config_.initializer_range, generator);
      }
    }
  }

  LlamaForCausalLm module_;
  at::Tensor inverse_frequencies_;  // (head/2,) float32, on the device of the last input
};

}  // namespace

std::shared_ptr<CausalLm> CreateLlamaModel(const ModelConfig& config, uint64_t seed) {
  return std::make_shared<LlamaModel>(config, seed);
}

}  // namespace dpo
