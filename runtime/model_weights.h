// Every weight of the model by its global name and global shape (Hugging Face Llama's names,
// stored [out_features, in_features] as nn.Linear stores them), the slice of it that one
// tensor-parallel shard holds, and the Tensors a rank materialises from that.
//
//   model.layers.{l}.input_layernorm.{weight,bias}        (hidden)      bias: layernorm only
//   model.layers.{l}.self_attn.{q,k,v}_proj.weight        (heads*head_dim | kv_heads*head_dim,
//   hidden) model.layers.{l}.self_attn.o_proj.weight              (hidden, heads*head_dim)
//   model.layers.{l}.post_attention_layernorm.{weight,bias}
//   model.layers.{l}.mlp.gate_proj.weight                 (ffn_hidden, hidden)   swiglu only
//   model.layers.{l}.mlp.up_proj.weight                   (ffn_hidden, hidden)
//   model.layers.{l}.mlp.down_proj.weight                 (hidden, ffn_hidden)
//   model.norm.{weight,bias}                              (hidden)      the final norm
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "planner/deployment.h"
#include "planner/plan.h"
#include "runtime/backend.h"

namespace shardrt {

enum class LayerWeight {
  AttnNormWeight,
  AttnNormBias,
  QProj,
  KProj,
  VProj,
  OProj,
  FfnNormWeight,
  FfnNormBias,
  GateProj,
  UpProj,
  DownProj,
  Count
};

// One weight as a rank holds it: the global tensor, the slice, and how it is generated.
struct WeightSpec {
  std::string name;
  std::vector<int> global_shape;      // 1-D or 2-D
  std::vector<planner::Range> slice;  // per dimension, what this rank holds
  float scale = 1.0f;                 // value = offset + scale * uniform[-1, 1)
  float offset = 0.0f;

  Shape localShape() const;  // named, with the global size where sharded
  std::int64_t localNumel() const;
};

// Does this model have the weight at all (biases only with layernorm, gate only with swiglu)?
bool hasWeight(const planner::ModelConfig& m, LayerWeight w);
WeightSpec layerWeightSpec(const planner::ModelConfig& m, const planner::TensorParallelShard& s,
                           int layer, LayerWeight w);
std::vector<WeightSpec> finalNormSpecs(const planner::ModelConfig& m);  // weight[, bias]

// Every weight this shard holds for the given layers (plus the final norm when
// includes_final_norm), in a fixed order: the list that weight bytes and --dump iterate.
std::vector<WeightSpec> shardWeightSpecs(const planner::ModelConfig& m,
                                         const planner::TensorParallelShard& s,
                                         planner::Range layers, bool includes_final_norm);

// A tensor-parallel shard's weights, materialised on a backend from the generator.
struct LayerWeights {
  std::array<Tensor, static_cast<int>(LayerWeight::Count)> tensors;
  const Tensor& operator[](LayerWeight w) const { return tensors[static_cast<int>(w)]; }
};

struct ShardWeights {
  std::vector<LayerWeights> layers;  // indexed from the stage's first layer
  Tensor final_norm_weight, final_norm_bias;
  std::size_t bytes = 0;  // everything this rank holds
};

// The slice's values on the host, row-major in the slice's own shape.
std::vector<float> generateSlice(const WeightSpec& spec, std::uint64_t seed);
Tensor materialise(Backend& backend, const WeightSpec& spec, std::uint64_t seed);

ShardWeights materialiseShard(Backend& backend, const planner::ModelConfig& m,
                              const planner::TensorParallelShard& s, planner::Range layers,
                              bool includes_final_norm, std::uint64_t seed);

}  // namespace shardrt
