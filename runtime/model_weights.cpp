#include "runtime/model_weights.h"

#include <cmath>

#include "runtime/host_values.h"
#include "runtime/weight_generator.h"

namespace shardrt {
namespace {

using config::ModelConfig;
using config::NormKind;
using config::Range;
using config::TensorParallelShard;

std::string layerPrefix(int layer) { return "model.layers." + std::to_string(layer) + "."; }

Range all(int n) { return {0, n}; }
Range times(Range r, int k) { return {r.begin * k, r.end * k}; }

WeightSpec linearSpec(std::string name, int out_features, int in_features, Range rows, Range cols) {
  // Uniform[-1, 1) / sqrt(in) keeps activations O(1) through the layers, like the usual
  // fan-in initialisations do.
  return {std::move(name),
          {out_features, in_features},
          {rows, cols},
          1.0f / std::sqrt(static_cast<float>(in_features)),
          0.0f};
}

WeightSpec normSpec(std::string name, int hidden, bool bias) {
  return {std::move(name), {hidden}, {all(hidden)}, 0.1f, bias ? 0.0f : 1.0f};
}

// The shared experts' MLP weight `which` ("gate_proj", ...) of the layer with prefix p:
// Qwen2-MoE calls the MLP shared_expert, DeepSeek shared_experts. (Appended piece by piece:
// GCC 12 warns, wrongly, of an overlapping memcpy in a chain of operator+ here.)
std::string sharedName(const std::string& p, const ModelConfig& model, const char* which) {
  std::string name = p;
  name += model.weight_naming == config::WeightNaming::Qwen2Moe ? "mlp.shared_expert."
                                                                : "mlp.shared_experts.";
  name += which;
  name += ".weight";
  return name;
}

// A linear layer's bias: split with the rows of its weight.
WeightSpec biasSpec(std::string name, int out_features, Range rows) {
  return {std::move(name), {out_features}, {rows}, 0.5f, 0.0f};
}

}  // namespace

Shape WeightSpec::localShape() const {
  // 1-D: a norm's weight over hidden (over d_k for Qwen3's q_norm and k_norm), or a linear
  // layer's bias over its out_features.
  static const char* kHidden[] = {"hidden"};
  static const char* kHeadDim[] = {"d_k"};
  static const char* kBias[] = {"out_features"};
  static const char* kExperts[] = {"experts"};
  static const char* kQRank[] = {"q_lora_rank"};
  static const char* kKvRank[] = {"kv_lora_rank"};
  static const char* kNames2d[] = {"out_features", "in_features"};
  const auto endsWith = [&](const std::string& tail) {
    return name.size() >= tail.size() &&
           name.compare(name.size() - tail.size(), tail.size(), tail) == 0;
  };
  const char** names = global_shape.size() == 2                                 ? kNames2d
                       : endsWith("_proj.bias")                                 ? kBias
                       : endsWith("q_norm.weight") || endsWith("k_norm.weight") ? kHeadDim
                       : endsWith("e_score_correction_bias")                    ? kExperts
                       : endsWith("q_a_layernorm.weight")                       ? kQRank
                       : endsWith("kv_a_layernorm.weight")                      ? kKvRank
                                                                                : kHidden;
  std::vector<Dim> dims;
  for (std::size_t i = 0; i < global_shape.size(); ++i) {
    dims.emplace_back(names[i], slice[i].size(), global_shape[i]);
  }
  return Shape(std::move(dims));
}

std::int64_t WeightSpec::localNumel() const { return localShape().numel(); }

ShardHoldings ShardHoldings::of(const config::Plan& plan, int tp_rank, int pp_rank, int ep_rank,
                                bool token_level) {
  ShardHoldings h;
  h.tp_shard = plan.tp_shards.at(tp_rank);
  h.layers = plan.stages.at(pp_rank).layers;
  if (!plan.expert_placement.empty()) h.experts = plan.expert_placement.at(ep_rank);
  h.final_norm = pp_rank == plan.pp - 1;
  h.embedding = token_level && pp_rank == 0;
  h.lm_head = token_level && h.final_norm;
  return h;
}

ShardHoldings ShardHoldings::whole(const ModelConfig& model, bool token_level) {
  ShardHoldings h;
  h.tp_shard.q_heads = all(model.heads);
  h.tp_shard.kv_heads = all(model.kv_heads);
  h.tp_shard.ffn_columns = all(model.ffn_hidden);
  h.tp_shard.shared_columns = all(model.moe.sharedWidth());
  h.tp_shard.vocab = all(model.vocab);
  h.embedding = h.lm_head = token_level;
  h.layers = all(model.layers);
  for (int e = 0; e < model.moe.experts; ++e) h.experts.push_back(e);
  h.final_norm = true;
  return h;
}

bool hasWeight(const ModelConfig& model, int layer, LayerWeight weight) {
  const bool swiglu = model.activation == config::Activation::SwiGlu;
  const bool moe = model.isMoeLayer(layer);
  const bool shared = moe && model.moe.shared_experts > 0;
  switch (weight) {
    case LayerWeight::AttnNormBias:
    case LayerWeight::FfnNormBias:
      return model.norm == NormKind::LayerNorm;
    case LayerWeight::GateProj:
      return !moe && swiglu;
    case LayerWeight::UpProj:
    case LayerWeight::DownProj:
      return !moe;
    case LayerWeight::Router:
      return moe;
    case LayerWeight::SharedGateProj:
      return shared && swiglu;
    case LayerWeight::SharedUpProj:
    case LayerWeight::SharedDownProj:
      return shared;
    case LayerWeight::QBias:
    case LayerWeight::KBias:
    case LayerWeight::VBias:
      return model.qkv_bias;
    case LayerWeight::QNorm:
    case LayerWeight::KNorm:
      return model.qk_norm;
    case LayerWeight::SharedGate:
      return shared && model.moe.shared_gate;
    case LayerWeight::RouterChoiceBias:
      return moe && model.moe.choice_bias;
    case LayerWeight::QProj:
      return !model.mla.on() || model.mla.q_rank == 0;
    case LayerWeight::KProj:
    case LayerWeight::VProj:
      return !model.mla.on();
    case LayerWeight::QAProj:
    case LayerWeight::QANorm:
    case LayerWeight::QBProj:
      return model.mla.on() && model.mla.q_rank > 0;
    case LayerWeight::KvAProj:
    case LayerWeight::KvANorm:
    case LayerWeight::KvBProj:
      return model.mla.on();
    case LayerWeight::Count:
      return false;
    default:
      return true;
  }
}

bool hasExpertWeight(const ModelConfig& model, ExpertWeight weight) {
  return weight != ExpertWeight::GateProj || model.activation == config::Activation::SwiGlu;
}

WeightSpec layerWeightSpec(const ModelConfig& model, const TensorParallelShard& shard, int layer,
                           LayerWeight weight) {
  const std::string p = layerPrefix(layer);
  const int hd = model.head_dim;
  switch (weight) {
    case LayerWeight::AttnNormWeight:
      return normSpec(p + "input_layernorm.weight", model.hidden, false);
    case LayerWeight::AttnNormBias:
      return normSpec(p + "input_layernorm.bias", model.hidden, true);
    case LayerWeight::QProj:
      return linearSpec(p + "self_attn.q_proj.weight", model.heads * hd, model.hidden,
                        times(shard.q_heads, hd), all(model.hidden));
    case LayerWeight::KProj:
      return linearSpec(p + "self_attn.k_proj.weight", model.kv_heads * hd, model.hidden,
                        times(shard.kv_heads, hd), all(model.hidden));
    case LayerWeight::VProj:
      return linearSpec(p + "self_attn.v_proj.weight", model.kv_heads * hd, model.hidden,
                        times(shard.kv_heads, hd), all(model.hidden));
    case LayerWeight::OProj: {
      const int vd = model.mla.on() ? model.mla.v_dim : hd;  // each head's value width
      return linearSpec(p + "self_attn.o_proj.weight", model.hidden, model.heads * vd,
                        all(model.hidden), times(shard.q_heads, vd));
    }
    case LayerWeight::QAProj:
      return linearSpec(p + "self_attn.q_a_proj.weight", model.mla.q_rank, model.hidden,
                        all(model.mla.q_rank), all(model.hidden));
    case LayerWeight::QANorm:
      return normSpec(p + "self_attn.q_a_layernorm.weight", model.mla.q_rank, false);
    case LayerWeight::QBProj:
      return linearSpec(p + "self_attn.q_b_proj.weight", model.heads * hd, model.mla.q_rank,
                        times(shard.q_heads, hd), all(model.mla.q_rank));
    case LayerWeight::KvAProj: {
      const int rows = model.mla.kv_rank + model.mla.rope_dim;
      return linearSpec(p + "self_attn.kv_a_proj_with_mqa.weight", rows, model.hidden, all(rows),
                        all(model.hidden));
    }
    case LayerWeight::KvANorm:
      return normSpec(p + "self_attn.kv_a_layernorm.weight", model.mla.kv_rank, false);
    case LayerWeight::KvBProj: {
      const int per_head = model.mla.nope_dim + model.mla.v_dim;
      return linearSpec(p + "self_attn.kv_b_proj.weight", model.heads * per_head, model.mla.kv_rank,
                        times(shard.q_heads, per_head), all(model.mla.kv_rank));
    }
    case LayerWeight::FfnNormWeight:
      return normSpec(p + "post_attention_layernorm.weight", model.hidden, false);
    case LayerWeight::FfnNormBias:
      return normSpec(p + "post_attention_layernorm.bias", model.hidden, true);
    case LayerWeight::GateProj:
      return linearSpec(p + "mlp.gate_proj.weight", model.ffn_hidden, model.hidden,
                        shard.ffn_columns, all(model.hidden));
    case LayerWeight::UpProj:
      return linearSpec(p + "mlp.up_proj.weight", model.ffn_hidden, model.hidden, shard.ffn_columns,
                        all(model.hidden));
    case LayerWeight::DownProj:
      return linearSpec(p + "mlp.down_proj.weight", model.hidden, model.ffn_hidden,
                        all(model.hidden), shard.ffn_columns);
    case LayerWeight::Router:
      return linearSpec(
          p + (model.weight_naming == config::WeightNaming::Mixtral ? "block_sparse_moe.gate.weight"
                                                                    : "mlp.gate.weight"),
          model.moe.experts, model.hidden, all(model.moe.experts), all(model.hidden));
    case LayerWeight::SharedGateProj:
    case LayerWeight::SharedUpProj:
      // One MLP as wide as all shared experts together, split over tp like the dense FFN.
      return linearSpec(
          sharedName(p, model, weight == LayerWeight::SharedGateProj ? "gate_proj" : "up_proj"),
          model.moe.sharedWidth(), model.hidden, shard.shared_columns, all(model.hidden));
    case LayerWeight::SharedDownProj:
      return linearSpec(sharedName(p, model, "down_proj"), model.hidden, model.moe.sharedWidth(),
                        all(model.hidden), shard.shared_columns);
    case LayerWeight::SharedGate:  // (1, hidden), on every rank: each scales its own columns
      return linearSpec(p + "mlp.shared_expert_gate.weight", 1, model.hidden, all(1),
                        all(model.hidden));
    case LayerWeight::RouterChoiceBias: {
      // Uniform[-0.05, 0.05): the size of the sigmoid scores' spread over random logits, so
      // that the bias changes which experts win without deciding alone.
      WeightSpec spec{p + "mlp.gate.e_score_correction_bias",
                      {model.moe.experts},
                      {all(model.moe.experts)},
                      0.05f,
                      0.0f};
      spec.fp32 = true;
      return spec;
    }
    case LayerWeight::QBias:
      return biasSpec(p + "self_attn.q_proj.bias", model.heads * hd, times(shard.q_heads, hd));
    case LayerWeight::KBias:
      return biasSpec(p + "self_attn.k_proj.bias", model.kv_heads * hd, times(shard.kv_heads, hd));
    case LayerWeight::VBias:
      return biasSpec(p + "self_attn.v_proj.bias", model.kv_heads * hd, times(shard.kv_heads, hd));
    case LayerWeight::QNorm:
      return normSpec(p + "self_attn.q_norm.weight", hd, false);
    case LayerWeight::KNorm:
      return normSpec(p + "self_attn.k_norm.weight", hd, false);
    case LayerWeight::Count:
      break;
  }
  throw std::logic_error("layerWeightSpec: no such weight");
}

WeightSpec expertWeightSpec(const ModelConfig& model, int layer, int expert, ExpertWeight weight) {
  // Mixtral's experts: w1 the gate, w3 the up projection, w2 the down (MixtralBlockSparseTop2MLP).
  const bool mixtral = model.weight_naming == config::WeightNaming::Mixtral;
  const std::string p = layerPrefix(layer) +
                        (mixtral ? "block_sparse_moe.experts." : "mlp.experts.") +
                        std::to_string(expert) + ".";
  const int f = model.moe.expert_ffn_hidden;
  switch (weight) {
    case ExpertWeight::GateProj:
      return linearSpec(p + (mixtral ? "w1.weight" : "gate_proj.weight"), f, model.hidden, all(f),
                        all(model.hidden));
    case ExpertWeight::UpProj:
      return linearSpec(p + (mixtral ? "w3.weight" : "up_proj.weight"), f, model.hidden, all(f),
                        all(model.hidden));
    case ExpertWeight::DownProj:
      return linearSpec(p + (mixtral ? "w2.weight" : "down_proj.weight"), model.hidden, f,
                        all(model.hidden), all(f));
  }
  throw std::logic_error("expertWeightSpec: no such weight");
}

std::vector<WeightSpec> finalNormSpecs(const ModelConfig& model) {
  std::vector<WeightSpec> specs{normSpec("model.norm.weight", model.hidden, false)};
  if (model.norm == NormKind::LayerNorm)
    specs.push_back(normSpec("model.norm.bias", model.hidden, true));
  return specs;
}

WeightSpec embeddingSpec(const ModelConfig& model, Range vocab) {
  // Uniform[-1, 1): rows of O(1), as the layers' inputs are.
  return {"model.embed_tokens.weight",
          {model.vocab, model.hidden},
          {vocab, all(model.hidden)},
          1.0f,
          0.0f};
}

WeightSpec lmHeadSpec(const ModelConfig& model, Range vocab) {
  if (model.tie_embeddings) return embeddingSpec(model, vocab);
  return linearSpec("lm_head.weight", model.vocab, model.hidden, vocab, all(model.hidden));
}

namespace {

// A tied LM head on a rank that holds the embedding is that tensor, held once.
bool lmHeadIsEmbedding(const ModelConfig& model, const ShardHoldings& h) {
  return model.tie_embeddings && h.embedding;
}

}  // namespace

std::vector<WeightSpec> shardWeightSpecs(const ModelConfig& model, const ShardHoldings& holdings) {
  std::vector<WeightSpec> specs;
  if (holdings.embedding) specs.push_back(embeddingSpec(model, holdings.tp_shard.vocab));
  for (int l = holdings.layers.begin; l < holdings.layers.end; ++l) {
    for (int w = 0; w < static_cast<int>(LayerWeight::Count); ++w) {
      if (hasWeight(model, l, LayerWeight(w))) {
        specs.push_back(layerWeightSpec(model, holdings.tp_shard, l, LayerWeight(w)));
      }
    }
    if (!model.isMoeLayer(l)) continue;
    for (int e : holdings.experts) {
      for (ExpertWeight w :
           {ExpertWeight::GateProj, ExpertWeight::UpProj, ExpertWeight::DownProj}) {
        if (hasExpertWeight(model, w)) specs.push_back(expertWeightSpec(model, l, e, w));
      }
    }
  }
  if (holdings.final_norm) {
    for (auto& spec : finalNormSpecs(model)) specs.push_back(std::move(spec));
  }
  if (holdings.lm_head && !lmHeadIsEmbedding(model, holdings)) {
    specs.push_back(lmHeadSpec(model, holdings.tp_shard.vocab));
  }
  return specs;
}

std::vector<float> generateSlice(const WeightSpec& spec, std::uint64_t seed) {
  std::vector<float> host(static_cast<std::size_t>(spec.localNumel()));
  WeightGenerator(seed, spec.name)
      .fillSlice(host.data(), spec.global_shape, spec.slice, spec.scale, spec.offset);
  return host;
}

Tensor materialise(Backend& backend, const WeightSpec& spec, const WeightSource& source,
                   DType dtype) {
  Tensor t = backend.empty(spec.localShape(), spec.fp32 ? DType::F32 : dtype);
  // A dry run has shapes and no memory: producing terabytes of values would be the whole cost.
  if (backend.device() != Device::Meta) uploadFloats(backend, t, source.slice(spec));
  return t;
}

ShardWeights materialiseShard(Backend& backend, const ModelConfig& model,
                              const ShardHoldings& holdings, const WeightSource& source,
                              DType dtype) {
  ShardWeights out;
  auto make = [&](const WeightSpec& spec) { return materialise(backend, spec, source, dtype); };
  if (holdings.embedding) out.embedding = make(embeddingSpec(model, holdings.tp_shard.vocab));
  for (int l = holdings.layers.begin; l < holdings.layers.end; ++l) {
    LayerWeights lw;
    lw.layer = l;
    for (int w = 0; w < static_cast<int>(LayerWeight::Count); ++w) {
      if (hasWeight(model, l, LayerWeight(w))) {
        lw.tensors[w] = make(layerWeightSpec(model, holdings.tp_shard, l, LayerWeight(w)));
      }
    }
    if (model.isMoeLayer(l)) {
      for (int e : holdings.experts) {
        ExpertWeights ew;
        ew.expert = e;
        for (ExpertWeight w :
             {ExpertWeight::GateProj, ExpertWeight::UpProj, ExpertWeight::DownProj}) {
          if (hasExpertWeight(model, w))
            ew.tensors[static_cast<int>(w)] = make(expertWeightSpec(model, l, e, w));
        }
        lw.experts.push_back(std::move(ew));
      }
    }
    out.layers.push_back(std::move(lw));
  }
  if (holdings.final_norm) {
    const auto specs = finalNormSpecs(model);
    out.final_norm_weight = make(specs[0]);
    if (specs.size() > 1) out.final_norm_bias = make(specs[1]);
  }
  if (holdings.lm_head && !lmHeadIsEmbedding(model, holdings)) {
    out.lm_head = make(lmHeadSpec(model, holdings.tp_shard.vocab));
  }
  return out;
}

bool isWeightName(const ModelConfig& model, const std::string& name) {
  for (const auto& spec : shardWeightSpecs(model, ShardHoldings::whole(model))) {
    if (spec.name == name) return true;
  }
  return false;
}

}  // namespace shardrt
