// A deployment: the model, the workload and the parallel strategy, as read from the user's
// JSON file (docs/config.md documents every field). Reading it checks every field and rule
// before anything is allocated; a broken rule throws ConfigError naming the field.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "common/dtype.h"

namespace shardrt::config {

enum class NormKind { LayerNorm, RmsNorm };
enum class Activation { Gelu, SwiGlu };
enum class RouterScoring { Softmax, Sigmoid };
// How group-limited routing scores a group of experts: by its best choice score (DeepSeek-V2's
// group_limited_greedy) or by the sum of its best two (DeepSeek-V3's and GLM-4.5's noaux_tc).
enum class GroupScore { Max, TopTwoSum };

const char* toString(NormKind norm);
const char* toString(Activation activation);
const char* toString(RouterScoring scoring);
const char* toString(GroupScore score);

// A Mixture-of-Experts FFN in place of the dense one, in every `every`-th layer.
struct MoeConfig {
  int experts = 0;
  int top_k = 0;
  int expert_ffn_hidden = 0;
  RouterScoring scoring = RouterScoring::Softmax;
  bool normalize_top_k = true;   // rescale the top-k weights to sum to 1
  int shared_experts = 0;        // experts every token goes through (one MLP of this many)
  double capacity_factor = 0.0;  // 0: dropless
  int every = 1;                 // layer l >= first_dense is MoE when (l + 1) % every == 0
  int shared_ffn_hidden =
      0;                     // the shared experts' MLP width; 0: shared_experts * expert_ffn_hidden
  bool shared_gate = false;  // Qwen2-MoE: scaled per token by sigmoid(n Wg^T), Wg (1, hidden)
  // DeepSeek-V3 / GLM-4.5 routing (kernels/router_rule.h has the whole rule):
  bool choice_bias = false;  // a per-expert bias (e_score_correction_bias) added for choosing only
  int groups = 1;            // n_group: the experts in this many equal groups, in index order
  int top_groups = 1;        // topk_group: a token's experts come from its best this-many groups
  GroupScore group_score = GroupScore::TopTwoSum;
  double routed_scale = 1.0;  // routed_scaling_factor: the routed experts' weights times this
  int first_dense = 0;        // first_k_dense_replace: layers 0..first_dense-1 keep the dense FFN
  std::vector<int> dense_layers{};  // Qwen-MoE's mlp_only_layers: these keep the dense FFN too

  bool dropless() const { return capacity_factor <= 0.0; }
  int sharedWidth() const {
    return shared_ffn_hidden > 0 ? shared_ffn_hidden : shared_experts * expert_ffn_hidden;
  }
  // Token slots one expert may take from one sequence: ceil(cf * seq_len * top_k / experts).
  int capacity(int seq_len) const;
};

// Llama 3.1's RoPE scaling (Hugging Face rope_scaling, rope_type "llama3"): the rotary
// frequencies whose wavelength exceeds the original context are slowed by `factor`, with a
// smooth band between (kernels/rope_frequencies.h has the formula). factor 0: none.
// Or YaRN (rope_type "yarn"; DeepSeek-V2/V3, Kimi-K2): the frequencies ramped between kept and
// slowed by factor over the correction range of beta_fast/beta_slow, cos and sin times
// attention_factor, and with latent attention the scores' scale times
// mscale(factor, mscale_all_dim)^2, mscale(s, m) = 0.1 m ln s + 1 (kernels/rope_frequencies.h).
enum class RopeScalingType { Llama3, Yarn };
struct RopeScaling {
  RopeScalingType type = RopeScalingType::Llama3;
  double factor = 0.0;
  double low_freq_factor = 1.0;
  double high_freq_factor = 4.0;
  int original_max_position_embeddings = 8192;
  double beta_fast = 32.0;
  double beta_slow = 1.0;
  double attention_factor = 1.0;
  double mscale_all_dim = 0.0;  // 0: the scores' scale is not changed
  bool on() const { return factor > 0.0; }
  bool yarn() const { return on() && type == RopeScalingType::Yarn; }
};

// DeepSeek-V2/V3's multi-head latent attention (kv_rank 0: none; Liu et al. 2024, DeepSeek-V2,
// section 2.1). Each head's query and key are nope_dim position-free dims then rope_dim rotary
// dims (the model's head_dim is their sum), its value v_dim dims. Keys and values come up from
// one kv_rank latent per token; the rotary key part is one per token, shared by every head.
struct LatentAttention {
  int q_rank = 0;            // q_lora_rank; 0: q_proj straight from the hidden state
  int kv_rank = 0;           // kv_lora_rank
  int nope_dim = 0;          // qk_nope_head_dim
  int rope_dim = 0;          // qk_rope_head_dim
  int v_dim = 0;             // v_head_dim
  bool interleaved = true;   // rope_interleave: rotary pairs (2i, 2i + 1)
  double latent_eps = 1e-6;  // q_a_layernorm's and kv_a_layernorm's eps (DeepseekV3RMSNorm's)
  bool on() const { return kv_rank > 0; }
};

// How a family names its tensors in a checkpoint (docs/config.md, "Weights and their names").
// Llama's names are the default; Mixtral's MoE layers say block_sparse_moe.gate and
// experts.E.w1 (gate), w3 (up), w2 (down).
// Qwen2-MoE's shared expert is mlp.shared_expert (singular) with mlp.shared_expert_gate.
enum class WeightNaming { Llama, Mixtral, Qwen2Moe };
const char* toString(WeightNaming naming);

// Where the model came from when a deployment names a Hugging Face config.json
// (model.hf_config): the file, its model_type, and what was read and not used, for the report.
struct ModelSource {
  std::string hf_config;              // empty: spelt out in the deployment file
  std::string model_type;             // "llama", "mixtral", ...
  std::vector<std::string> not_used;  // "vocab_size 32000 (...)", keys that change no layer
  // Layers num_hidden_layers .. num_hidden_layers + mtp_layers - 1 of the checkpoint are
  // multi-token-prediction modules (GLM-4.5's and DeepSeek-V3's num_nextn_predict_layers): the
  // model's forward never runs them, so their tensors are expected and not loaded.
  int config_layers = 0;
  int mtp_layers = 0;
};

struct ModelConfig {
  int layers = 0;
  int hidden = 0;
  int heads = 0;
  int kv_heads = 0;  // == heads: multi-head attention; fewer: grouped-query attention
  int head_dim = 0;
  int ffn_hidden = 0;
  NormKind norm = NormKind::RmsNorm;
  double norm_eps = 1e-5;
  Activation activation = Activation::SwiGlu;
  bool rope = true;
  double rope_theta = 10000.0;
  bool causal = true;
  RopeScaling rope_scaling;
  bool qkv_bias = false;  // Qwen2: biases on the q, k and v projections (split with their rows)
  bool qk_norm = false;   // Qwen3: RMSNorm over head_dim on each query and key head, before rope
  int rotary_dim = 0;     // GLM-4.5: rope on the first rotary_dim dims of each head; 0: head_dim
  LatentAttention mla;    // DeepSeek: head_dim = mla.nope_dim + mla.rope_dim, kv_heads = heads
  // Mistral's sliding window (0: none): query i sees the keys j with i - window < j <= i.
  int sliding_window = 0;
  MoeConfig moe;  // moe.experts == 0: a dense model
  // The token level, which `generate` runs (runtime/generation_executor.h) and `run` does not:
  // the vocabulary (0: the layers only), whether the LM head is the embedding's own matrix
  // (tie_word_embeddings), and the tokens that end a sequence (eos_token_id).
  int vocab = 0;
  bool tie_embeddings = false;
  std::vector<int> eos_tokens;
  WeightNaming weight_naming = WeightNaming::Llama;
  ModelSource source;

  int groupSize() const { return heads / kv_heads; }  // query heads per kv head
  bool hasMoe() const { return moe.experts > 0; }
  bool isMoeLayer(int layer) const {
    return hasMoe() && layer >= moe.first_dense && (layer + 1) % moe.every == 0 &&
           std::find(moe.dense_layers.begin(), moe.dense_layers.end(), layer) ==
               moe.dense_layers.end();
  }
  // Layers isMoeLayer calls MoE among 0..layers-1.
  int moeLayerCount() const;
};

struct WorkloadConfig {
  int batch_size = 0;
  int seq_len = 0;
  DType dtype = DType::F32;
};

struct StrategyConfig {
  int tp = 1;
  int pp = 1;
  int ep = 1;
  int dp = 1;
  int microbatches = 1;  // pipeline microbatches per data-parallel replica
  int worldSize() const { return tp * pp * dp; }
};

// An expert-parallel group wider than tp spans data-parallel replicas (an ep group is ep
// adjacent ranks of a stage, tp fastest): a replica then joins the others' MoE exchanges even
// with nothing to compute, so generation runs such a plan's rounds in lockstep
// (runtime/generation_executor.h, RoundSchedule) and the planner prices them so.
inline bool expertGroupSpansReplicas(const ModelConfig& model, const StrategyConfig& strategy) {
  return model.moeLayerCount() > 0 && strategy.ep > strategy.tp;
}

// Explicit placements that override the even defaults of makePlan(); empty = not given.
struct ExplicitPlan {
  std::vector<std::vector<int>> stage_layers;      // per pipeline stage, its layers (contiguous)
  std::vector<std::vector<int>> expert_placement;  // per ep rank, its experts (may be uneven)
  std::vector<int> dp_batch;                       // per dp replica, its share of batch_size
};

// One of several strategies a deployment file names (a baseline and a proposal, say): each
// is drawn as its own graph by `shardrt dag`, and `shardrt run --strategy NAME` runs one.
struct NamedStrategy {
  std::string name;
  StrategyConfig strategy;
  ExplicitPlan plan;
};

struct Deployment {
  std::string name;
  std::uint64_t seed = 0;
  ModelConfig model;
  WorkloadConfig workload;
  StrategyConfig strategy;  // the one run (the first of `strategies` when there is no other)
  ExplicitPlan plan;
  std::vector<NamedStrategy> strategies;  // "strategies" in the file; may be empty
};

// The deployment with strategy `name` of its list as the one it runs; ConfigError naming
// --strategy when there is none of that name.
Deployment withStrategy(const Deployment& deployment, const std::string& name);

// Reads and checks a deployment. `overrides` are "dotted.path=value" strings applied to the
// JSON before it is read (value parsed as JSON, else taken as a string), as `--set` passes them.
Deployment loadDeployment(const std::string& path, const std::vector<std::string>& overrides = {});
// The file's JSON with the overrides applied, before any rule is checked.
nlohmann::json readDeploymentJson(const std::string& path,
                                  const std::vector<std::string>& overrides = {});
Deployment parseDeployment(const nlohmann::json& doc, const std::string& default_name);

// The deployment as read, every default filled in: what result.json and --dump record.
nlohmann::json toJson(const Deployment& deployment);

// Every rule that ties the strategy and its explicit plan to the model and workload (what
// parseDeployment checks): ConfigError naming the field of the first rule broken.
void checkRules(const Deployment& deployment);

// Group-limited routing's rules: groups divide the experts, top_groups <= groups, at least two
// experts a group when a group is scored by its best two, and top_k experts within top_groups.
// ConfigError naming field(key) for key "groups" or "top_groups" (the caller's own names).
void checkExpertGroups(const MoeConfig& moe, const std::function<std::string(const char*)>& field);

// dense_layers (Qwen-MoE's mlp_only_layers): each in 0..layers-1, none twice; ConfigError
// naming field() otherwise.
void checkDenseLayers(const std::vector<int>& dense, int layers,
                      const std::function<std::string()>& field);

// The strategy must use exactly the ranks that were launched.
void checkWorldSize(const Deployment& deployment, int world_size);

}  // namespace shardrt::config
