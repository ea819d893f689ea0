#include "runtime/model_weights.h"

#include <cmath>

#include "runtime/weight_generator.h"

namespace shardrt {
namespace {

using planner::ModelConfig;
using planner::NormKind;
using planner::Range;
using planner::TensorParallelShard;

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

}  // namespace

Shape WeightSpec::localShape() const {
  static const char* kNames1d[] = {"hidden"};
  static const char* kNames2d[] = {"out_features", "in_features"};
  const char** names = global_shape.size() == 1 ? kNames1d : kNames2d;
  std::vector<Dim> dims;
  for (std::size_t i = 0; i < global_shape.size(); ++i) {
    dims.emplace_back(names[i], slice[i].size(), global_shape[i]);
  }
  return Shape(std::move(dims));
}

std::int64_t WeightSpec::localNumel() const { return localShape().numel(); }

bool hasWeight(const ModelConfig& m, LayerWeight w) {
  switch (w) {
    case LayerWeight::AttnNormBias:
    case LayerWeight::FfnNormBias:
      return m.norm == NormKind::LayerNorm;
    case LayerWeight::GateProj:
      return m.activation == planner::Activation::SwiGlu;
    case LayerWeight::Count:
      return false;
    default:
      return true;
  }
}

WeightSpec layerWeightSpec(const ModelConfig& m, const TensorParallelShard& s, int layer,
                           LayerWeight w) {
  const std::string p = layerPrefix(layer);
  const int hd = m.head_dim;
  switch (w) {
    case LayerWeight::AttnNormWeight:
      return normSpec(p + "input_layernorm.weight", m.hidden, false);
    case LayerWeight::AttnNormBias:
      return normSpec(p + "input_layernorm.bias", m.hidden, true);
    case LayerWeight::QProj:
      return linearSpec(p + "self_attn.q_proj.weight", m.heads * hd, m.hidden, times(s.q_heads, hd),
                        all(m.hidden));
    case LayerWeight::KProj:
      return linearSpec(p + "self_attn.k_proj.weight", m.kv_heads * hd, m.hidden,
                        times(s.kv_heads, hd), all(m.hidden));
    case LayerWeight::VProj:
      return linearSpec(p + "self_attn.v_proj.weight", m.kv_heads * hd, m.hidden,
                        times(s.kv_heads, hd), all(m.hidden));
    case LayerWeight::OProj:
      return linearSpec(p + "self_attn.o_proj.weight", m.hidden, m.heads * hd, all(m.hidden),
                        times(s.q_heads, hd));
    case LayerWeight::FfnNormWeight:
      return normSpec(p + "post_attention_layernorm.weight", m.hidden, false);
    case LayerWeight::FfnNormBias:
      return normSpec(p + "post_attention_layernorm.bias", m.hidden, true);
    case LayerWeight::GateProj:
      return linearSpec(p + "mlp.gate_proj.weight", m.ffn_hidden, m.hidden, s.ffn_columns,
                        all(m.hidden));
    case LayerWeight::UpProj:
      return linearSpec(p + "mlp.up_proj.weight", m.ffn_hidden, m.hidden, s.ffn_columns,
                        all(m.hidden));
    case LayerWeight::DownProj:
      return linearSpec(p + "mlp.down_proj.weight", m.hidden, m.ffn_hidden, all(m.hidden),
                        s.ffn_columns);
    case LayerWeight::Count:
      break;
  }
  throw std::logic_error("layerWeightSpec: no such weight");
}

std::vector<WeightSpec> finalNormSpecs(const ModelConfig& m) {
  std::vector<WeightSpec> specs{normSpec("model.norm.weight", m.hidden, false)};
  if (m.norm == NormKind::LayerNorm) specs.push_back(normSpec("model.norm.bias", m.hidden, true));
  return specs;
}

std::vector<WeightSpec> shardWeightSpecs(const ModelConfig& m, const TensorParallelShard& s,
                                         Range layers, bool includes_final_norm) {
  std::vector<WeightSpec> specs;
  for (int l = layers.begin; l < layers.end; ++l) {
    for (int w = 0; w < static_cast<int>(LayerWeight::Count); ++w) {
      if (hasWeight(m, LayerWeight(w))) specs.push_back(layerWeightSpec(m, s, l, LayerWeight(w)));
    }
  }
  if (includes_final_norm) {
    for (auto& spec : finalNormSpecs(m)) specs.push_back(std::move(spec));
  }
  return specs;
}

std::vector<float> generateSlice(const WeightSpec& spec, std::uint64_t seed) {
  std::vector<float> host(static_cast<std::size_t>(spec.localNumel()));
  WeightGenerator(seed, spec.name)
      .fillSlice(host.data(), spec.global_shape, spec.slice, spec.scale, spec.offset);
  return host;
}

Tensor materialise(Backend& backend, const WeightSpec& spec, std::uint64_t seed) {
  const std::vector<float> host = generateSlice(spec, seed);
  Tensor t = backend.empty(spec.localShape(), DType::F32);
  backend.copyFromHost(t, host.data());
  return t;
}

ShardWeights materialiseShard(Backend& backend, const ModelConfig& m, const TensorParallelShard& s,
                              Range layers, bool includes_final_norm, std::uint64_t seed) {
  ShardWeights out;
  for (int l = layers.begin; l < layers.end; ++l) {
    LayerWeights lw;
    for (int w = 0; w < static_cast<int>(LayerWeight::Count); ++w) {
      if (!hasWeight(m, LayerWeight(w))) continue;
      lw.tensors[w] = materialise(backend, layerWeightSpec(m, s, l, LayerWeight(w)), seed);
      out.bytes += lw.tensors[w].bytes();
    }
    out.layers.push_back(std::move(lw));
  }
  if (includes_final_norm) {
    const auto specs = finalNormSpecs(m);
    out.final_norm_weight = materialise(backend, specs[0], seed);
    out.bytes += out.final_norm_weight.bytes();
    if (specs.size() > 1) {
      out.final_norm_bias = materialise(backend, specs[1], seed);
      out.bytes += out.final_norm_bias.bytes();
    }
  }
  return out;
}

}  // namespace shardrt
