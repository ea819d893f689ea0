// Every weight of the model by its global name and global shape (Hugging Face Llama's and
// Qwen-MoE/DeepSeek-MoE's names, stored [out_features, in_features] as nn.Linear stores them),
// the slice of it that one rank holds, and the Tensors a rank materialises from that.
//
//   model.layers.{l}.input_layernorm.{weight,bias}        (hidden)      bias: layernorm only
//   model.layers.{l}.self_attn.{q,k,v}_proj.weight        (heads*head_dim | kv_heads*head_dim,
//   hidden) model.layers.{l}.self_attn.o_proj.weight              (hidden, heads*head_dim)
//   model.layers.{l}.post_attention_layernorm.{weight,bias}
//   dense layers:
//   model.layers.{l}.mlp.gate_proj.weight                 (ffn_hidden, hidden)   swiglu only
//   model.layers.{l}.mlp.up_proj.weight                   (ffn_hidden, hidden)
//   model.layers.{l}.mlp.down_proj.weight                 (hidden, ffn_hidden)
//   MoE layers:
//   model.layers.{l}.mlp.gate.weight                      (experts, hidden)      the router
//   model.layers.{l}.mlp.gate.e_score_correction_bias     (experts)       DeepSeek-V3's choice bias
//   with mla: self_attn.q_a_proj, q_a_layernorm, q_b_proj (or q_proj), kv_a_proj_with_mqa,
//   kv_a_layernorm, kv_b_proj in place of q/k/v_proj; o_proj (hidden, heads*v_dim)
//   model.layers.{l}.mlp.experts.{e}.{gate,up,down}_proj.weight   as above, expert_ffn_hidden
//   model.layers.{l}.mlp.shared_experts.{gate,up,down}_proj.weight shared_experts*expert_ffn_hidden
//   model.norm.{weight,bias}                              (hidden)      the final norm
//   model.embed_tokens.weight                             (vocab, hidden)   generate only,
//   lm_head.weight                                        (vocab, hidden)   rows by tp rank;
//                                                         tied: embed_tokens is the LM head
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "config/deployment.h"
#include "config/plan.h"
#include "runtime/backend.h"

namespace shardrt {

// The weights of one layer that are not per-expert.
enum class LayerWeight {
  AttnNormWeight,
  AttnNormBias,
  QProj,
  KProj,
  VProj,
  OProj,
  FfnNormWeight,
  FfnNormBias,
  GateProj,  // dense FFN
  UpProj,
  DownProj,
  Router,  // MoE
  SharedGateProj,
  SharedUpProj,
  SharedDownProj,
  QBias,  // Qwen2's q/k/v biases
  KBias,
  VBias,
  QNorm,  // Qwen3's per-head RMSNorm weights on q and k (head_dim each, on every rank)
  KNorm,
  SharedGate,        // Qwen2-MoE's gate on the shared expert, (1, hidden)
  RouterChoiceBias,  // DeepSeek-V3's e_score_correction_bias, (experts), f32 on every rank
  // DeepSeek's multi-head latent attention (in place of q/k/v_proj; q_proj without q_rank):
  QAProj,   // (q_rank, hidden), on every rank
  QANorm,   // (q_rank)
  QBProj,   // (heads*head_dim, q_rank), rows of the rank's heads
  KvAProj,  // (kv_rank + rope_dim, hidden), on every rank
  KvANorm,  // (kv_rank)
  KvBProj,  // (heads*(nope_dim + v_dim), kv_rank), rows of the rank's heads
  Count
};

enum class ExpertWeight { GateProj, UpProj, DownProj };

// One weight as a rank holds it: the global tensor, the slice, and how it is generated.
struct WeightSpec {
  std::string name;
  std::vector<int> global_shape;     // 1-D or 2-D
  std::vector<config::Range> slice;  // per dimension, what this rank holds
  float scale = 1.0f;                // value = offset + scale * uniform[-1, 1)
  float offset = 0.0f;
  // Kept in fp32 whatever the workload's dtype (the router's choice bias: transformers keeps
  // e_score_correction_bias in fp32, and the router's scores are fp32).
  bool fp32 = false;

  Shape localShape() const;  // named, with the global size where sharded
  std::int64_t localNumel() const;
};

// What one rank holds: its tensor-parallel shard of every layer of its stage, the experts of
// its ep rank, and the final norm when it is in the last stage.
// With token_level (generate), also the embedding on the first stage and the LM head on the
// last, rows tp_shard.vocab of each (Megatron's vocab-parallel embedding and output layer).
struct ShardHoldings {
  config::TensorParallelShard tp_shard;
  config::Range layers;
  std::vector<int> experts;
  bool final_norm = false;
  bool embedding = false;
  bool lm_head = false;

  static ShardHoldings of(const config::Plan& plan, int tp_rank, int pp_rank, int ep_rank,
                          bool token_level = false);
  // Everything, unsharded: what the reference and --dump hold.
  static ShardHoldings whole(const config::ModelConfig& model, bool token_level = false);
};

// Does layer l have the weight at all (biases only with layernorm, gates only with swiglu,
// the dense FFN only in dense layers, router and shared experts only in MoE layers)?
bool hasWeight(const config::ModelConfig& model, int layer, LayerWeight weight);
bool hasExpertWeight(const config::ModelConfig& model, ExpertWeight weight);
WeightSpec layerWeightSpec(const config::ModelConfig& model,
                           const config::TensorParallelShard& shard, int layer, LayerWeight weight);
WeightSpec expertWeightSpec(const config::ModelConfig& model, int layer, int expert,
                            ExpertWeight weight);
std::vector<WeightSpec> finalNormSpecs(const config::ModelConfig& model);  // weight[, bias]
// model.embed_tokens.weight's rows `vocab`; the LM head's rows `vocab`, which is that same
// tensor when the model ties them.
WeightSpec embeddingSpec(const config::ModelConfig& model, config::Range vocab);
WeightSpec lmHeadSpec(const config::ModelConfig& model, config::Range vocab);

// Every weight a rank holds, in a fixed order: the list that weight bytes and --dump iterate.
std::vector<WeightSpec> shardWeightSpecs(const config::ModelConfig& model,
                                         const ShardHoldings& holdings);

struct ExpertWeights {
  int expert = 0;  // global index
  std::array<Tensor, 3> tensors;
  const Tensor& operator[](ExpertWeight w) const { return tensors[static_cast<int>(w)]; }
};

struct LayerWeights {
  int layer = 0;  // global index
  std::array<Tensor, static_cast<int>(LayerWeight::Count)> tensors;
  std::vector<ExpertWeights> experts;  // MoE layers: this rank's experts, in placement order
  const Tensor& operator[](LayerWeight w) const { return tensors[static_cast<int>(w)]; }
};

struct ShardWeights {
  std::vector<LayerWeights> layers;  // the stage's layers, in order
  Tensor final_norm_weight, final_norm_bias;
  Tensor embedding;  // (vocab shard, hidden) with token_level on the first stage
  Tensor lm_head;    // the same on the last stage; empty where it is `embedding` (tied, pp 1)
  const Tensor& lmHead() const { return lm_head.shape().rank() > 0 ? lm_head : embedding; }
};

// The slice's values on the host, row-major in the slice's own shape.
std::vector<float> generateSlice(const WeightSpec& spec, std::uint64_t seed);

// Where the values of the weights come from: generated from the deployment's seed, or read
// from a checkpoint (runtime/weight_files.h, `run --weights`). Each rank asks only for its
// slices, so no rank ever holds a whole weight it shards.
class WeightSource {
 public:
  virtual ~WeightSource() = default;
  // The slice's values as fp32, row-major in the slice's own shape.
  virtual std::vector<float> slice(const WeightSpec& spec) const = 0;
};

class GeneratedWeights final : public WeightSource {
 public:
  explicit GeneratedWeights(std::uint64_t seed) : seed_(seed) {}
  std::vector<float> slice(const WeightSpec& spec) const override {
    return generateSlice(spec, seed_);
  }

 private:
  std::uint64_t seed_;
};

// Read in fp32, stored as dtype (fp32, or bf16 rounded to nearest even).
Tensor materialise(Backend& backend, const WeightSpec& spec, const WeightSource& source,
                   DType dtype);

ShardWeights materialiseShard(Backend& backend, const config::ModelConfig& model,
                              const ShardHoldings& holdings, const WeightSource& source,
                              DType dtype);

// Is `name` the global name of one of the model's weights?
bool isWeightName(const config::ModelConfig& model, const std::string& name);

}  // namespace shardrt
