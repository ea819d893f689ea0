// A model from a Hugging Face config.json (config/hf_config.h): what each family derives, and
// that every key that could change the math is read, checked or refused, never ignored.
#include <gtest/gtest.h>

#include <string>

#include "common/errors.h"
#include "config/hf_config.h"
#include "config/json_limits.h"

namespace shardrt::config {
namespace {

using nlohmann::json;

// Llama-3.1-8B's config.json, as published (meta-llama/Llama-3.1-8B).
json llama31() {
  return json::parse(R"({
    "architectures": ["LlamaForCausalLM"], "attention_bias": false, "attention_dropout": 0.0,
    "bos_token_id": 128000, "eos_token_id": 128001, "hidden_act": "silu", "hidden_size": 4096,
    "initializer_range": 0.02, "intermediate_size": 14336, "max_position_embeddings": 131072,
    "mlp_bias": false, "model_type": "llama", "num_attention_heads": 32,
    "num_hidden_layers": 32, "num_key_value_heads": 8, "pretraining_tp": 1,
    "rms_norm_eps": 1e-05,
    "rope_scaling": {"factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                     "original_max_position_embeddings": 8192, "rope_type": "llama3"},
    "rope_theta": 500000.0, "tie_word_embeddings": false, "torch_dtype": "bfloat16",
    "transformers_version": "4.43.0.dev0", "use_cache": true, "vocab_size": 128256})");
}

// Mixtral-8x7B's, with transformers v5's rope_parameters in place of rope_theta.
json mixtral() {
  return json::parse(R"({
    "architectures": ["MixtralForCausalLM"], "attention_dropout": 0.0, "bos_token_id": 1,
    "eos_token_id": 2, "hidden_act": "silu", "hidden_size": 4096, "initializer_range": 0.02,
    "intermediate_size": 14336, "max_position_embeddings": 32768, "model_type": "mixtral",
    "num_attention_heads": 32, "num_experts_per_tok": 2, "num_hidden_layers": 32,
    "num_key_value_heads": 8, "num_local_experts": 8, "output_router_logits": false,
    "rms_norm_eps": 1e-05, "rope_parameters": {"rope_theta": 1000000.0, "rope_type": "default"},
    "router_aux_loss_coef": 0.02, "sliding_window": null, "tie_word_embeddings": false,
    "dtype": "bfloat16", "transformers_version": "5.0.0", "use_cache": true,
    "vocab_size": 32000})");
}

// The ConfigError's text, or "" when the config is accepted.
std::string refusal(const json& config) {
  try {
    modelFromHfConfig(config, "c.json");
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

// The config is refused with a reason holding `want`.
void refusedAs(const json& config, const char* want) {
  const std::string why = refusal(config);
  EXPECT_NE(why.find(want), std::string::npos) << why;
}

TEST(HfConfig, Llama31DerivesEveryDimensionAndItsRopeScaling) {
  const ModelConfig m = modelFromHfConfig(llama31(), "c.json");
  EXPECT_EQ(m.layers, 32);
  EXPECT_EQ(m.hidden, 4096);
  EXPECT_EQ(m.heads, 32);
  EXPECT_EQ(m.kv_heads, 8);
  EXPECT_EQ(m.head_dim, 128);  // hidden_size / num_attention_heads: no head_dim key
  EXPECT_EQ(m.ffn_hidden, 14336);
  EXPECT_EQ(m.norm, NormKind::RmsNorm);
  EXPECT_DOUBLE_EQ(m.norm_eps, 1e-5);
  EXPECT_EQ(m.activation, Activation::SwiGlu);
  EXPECT_DOUBLE_EQ(m.rope_theta, 500000.0);
  EXPECT_TRUE(m.rope_scaling.on());
  EXPECT_DOUBLE_EQ(m.rope_scaling.factor, 8.0);
  EXPECT_DOUBLE_EQ(m.rope_scaling.low_freq_factor, 1.0);
  EXPECT_DOUBLE_EQ(m.rope_scaling.high_freq_factor, 4.0);
  EXPECT_EQ(m.rope_scaling.original_max_position_embeddings, 8192);
  EXPECT_FALSE(m.hasMoe());
  EXPECT_EQ(m.weight_naming, WeightNaming::Llama);
  EXPECT_EQ(m.source.model_type, "llama");
  // Read and reported, not silently dropped: the vocabulary, the tying, the dtype.
  std::string notes;
  for (const auto& n : m.source.not_used) notes += n + "\n";
  EXPECT_NE(notes.find("vocab_size 128256"), std::string::npos) << notes;
  EXPECT_NE(notes.find("tie_word_embeddings false"), std::string::npos) << notes;
  EXPECT_NE(notes.find("torch_dtype \"bfloat16\""), std::string::npos) << notes;
}

TEST(HfConfig, MixtralIsAnMoeInEveryLayerWithItsOwnTensorNames) {
  const ModelConfig m = modelFromHfConfig(mixtral(), "c.json");
  EXPECT_DOUBLE_EQ(m.rope_theta, 1e6);  // from rope_parameters
  EXPECT_FALSE(m.rope_scaling.on());
  ASSERT_TRUE(m.hasMoe());
  EXPECT_EQ(m.moe.experts, 8);
  EXPECT_EQ(m.moe.top_k, 2);
  EXPECT_EQ(m.moe.expert_ffn_hidden, 14336);
  EXPECT_EQ(m.moe.every, 1);
  EXPECT_EQ(m.moe.shared_experts, 0);
  EXPECT_EQ(m.moe.scoring, RouterScoring::Softmax);
  EXPECT_TRUE(m.moe.normalize_top_k);
  EXPECT_TRUE(m.moe.dropless());
  EXPECT_EQ(m.weight_naming, WeightNaming::Mixtral);
  EXPECT_EQ(m.sliding_window, 0);  // null
  EXPECT_DOUBLE_EQ(modelFromHfConfig(
                       [] {
                         json c = mixtral();
                         c.erase("rope_parameters");
                         return c;
                       }(),
                       "c.json")
                       .rope_theta,
                   1e6);  // MixtralConfig's own default
}

TEST(HfConfig, MistralKeepsItsSlidingWindowForTheWorkloadToCheck) {
  json c = llama31();
  c["model_type"] = "mistral";
  c.erase("rope_scaling");
  c.erase("attention_bias");
  c.erase("mlp_bias");
  c.erase("pretraining_tp");
  c["sliding_window"] = 4096;
  EXPECT_EQ(modelFromHfConfig(c, "c.json").sliding_window, 4096);
}

// Qwen2: q/k/v biases from the family itself (Qwen2Attention has no key for them); its window
// only with use_sliding_window. Qwen2-0.5B's published config.
TEST(HfConfig, Qwen2HasQkvBiasesAndNoWindowUnlessUsed) {
  json c = json::parse(R"({
    "architectures": ["Qwen2ForCausalLM"], "attention_dropout": 0.0, "bos_token_id": 151643,
    "eos_token_id": 151643, "hidden_act": "silu", "hidden_size": 896, "initializer_range": 0.02,
    "intermediate_size": 4864, "max_position_embeddings": 131072, "max_window_layers": 24,
    "model_type": "qwen2", "num_attention_heads": 14, "num_hidden_layers": 24,
    "num_key_value_heads": 2, "rms_norm_eps": 1e-06, "rope_theta": 1000000.0,
    "sliding_window": 131072, "tie_word_embeddings": true, "torch_dtype": "bfloat16",
    "transformers_version": "4.40.1", "use_cache": true, "use_sliding_window": false,
    "vocab_size": 151936})");
  ModelConfig m = modelFromHfConfig(c, "c.json");
  EXPECT_TRUE(m.qkv_bias);
  EXPECT_FALSE(m.qk_norm);
  EXPECT_EQ(m.head_dim, 64);
  EXPECT_EQ(m.sliding_window, 0);  // use_sliding_window false
  // use_sliding_window windows the layers from max_window_layers on: here none of the 24,
  c["use_sliding_window"] = true;
  EXPECT_EQ(modelFromHfConfig(c, "c.json").sliding_window, 0);
  c["max_window_layers"] = 0;  // every one,
  EXPECT_EQ(modelFromHfConfig(c, "c.json").sliding_window, 131072);
  c["max_window_layers"] = 12;  // or some only: refused, not applied to every layer
  EXPECT_NE(refusal(c).find("max_window_layers: a sliding window on some layers only"),
            std::string::npos)
      << refusal(c);
  c["use_sliding_window"] = false;
  c["layer_types"] = json::array({"full_attention", "sliding_attention"});
  EXPECT_NE(refusal(c).find("layer_types: a sliding window on some layers only"), std::string::npos)
      << refusal(c);
  c["layer_types"] = json::array({"sliding_attention", "sliding_attention"});
  EXPECT_EQ(modelFromHfConfig(c, "c.json").sliding_window, 131072);
  c["layer_types"] = json::array({"chunked_attention"});
  EXPECT_NE(refusal(c).find("layer_types: \"chunked_attention\""), std::string::npos) << refusal(c);
}

// Qwen3-30B-A3B's published config: q/k norm, 128 experts, top 8 renormalised, every layer MoE.
TEST(HfConfig, Qwen3MoeHasQkNormAndItsRouting) {
  json c = json::parse(R"({
    "architectures": ["Qwen3MoeForCausalLM"], "attention_bias": false, "attention_dropout": 0.0,
    "bos_token_id": 151643, "decoder_sparse_step": 1, "eos_token_id": 151645, "head_dim": 128,
    "hidden_act": "silu", "hidden_size": 2048, "initializer_range": 0.02,
    "intermediate_size": 6144, "max_position_embeddings": 40960, "max_window_layers": 48,
    "mlp_only_layers": [], "model_type": "qwen3_moe", "moe_intermediate_size": 768,
    "norm_topk_prob": true, "num_attention_heads": 32, "num_experts": 128,
    "num_experts_per_tok": 8, "num_hidden_layers": 48, "num_key_value_heads": 4,
    "output_router_logits": false, "rms_norm_eps": 1e-06, "rope_scaling": null,
    "rope_theta": 1000000.0, "router_aux_loss_coef": 0.001, "sliding_window": null,
    "tie_word_embeddings": false, "torch_dtype": "bfloat16", "transformers_version": "4.51.0",
    "use_cache": true, "use_sliding_window": false, "vocab_size": 151936})");
  const ModelConfig m = modelFromHfConfig(c, "c.json");
  EXPECT_TRUE(m.qk_norm);
  EXPECT_FALSE(m.qkv_bias);
  EXPECT_EQ(m.head_dim, 128);  // given: not hidden_size / heads (64)
  ASSERT_TRUE(m.hasMoe());
  EXPECT_EQ(m.moe.experts, 128);
  EXPECT_EQ(m.moe.top_k, 8);
  EXPECT_EQ(m.moe.expert_ffn_hidden, 768);
  EXPECT_TRUE(m.moe.normalize_top_k);
  EXPECT_EQ(m.moe.every, 1);
  EXPECT_EQ(m.weight_naming, WeightNaming::Llama);  // mlp.gate, mlp.experts.E.gate_proj
  c["norm_topk_prob"] = "yes";                      // not a boolean: refused, not read as false
  EXPECT_NE(refusal(c).find("norm_topk_prob: must be true or false, got \"yes\""),
            std::string::npos)
      << refusal(c);
  c.erase("norm_topk_prob");  // Qwen3MoeConfig's default: the top-k weights as they are
  EXPECT_FALSE(modelFromHfConfig(c, "c.json").moe.normalize_top_k);
  // mlp_only_layers keep the dense MLP (Qwen3MoeDecoderLayer): layers 0 and 47 here.
  c["mlp_only_layers"] = json::array({0, 47});
  const ModelConfig dense = modelFromHfConfig(c, "c.json");
  EXPECT_FALSE(dense.isMoeLayer(0));
  EXPECT_TRUE(dense.isMoeLayer(1));
  EXPECT_FALSE(dense.isMoeLayer(47));
  EXPECT_EQ(dense.moeLayerCount(), 46);
  c["mlp_only_layers"] = json::array({0, 48});
  EXPECT_NE(refusal(c).find("mlp_only_layers: 48: every entry must be a layer index below"),
            std::string::npos)
      << refusal(c);
  c["mlp_only_layers"] = json::array({3, 3});
  EXPECT_NE(refusal(c).find("mlp_only_layers: names a layer twice"), std::string::npos)
      << refusal(c);
}

// Qwen1.5-MoE-A2.7B's published config: q/k/v biases, 60 experts top 4 not renormalised, and a
// shared expert 4x an expert's width, gated by a sigmoid.
TEST(HfConfig, Qwen2MoeHasAGatedSharedExpertOfItsOwnWidth) {
  const json c = json::parse(R"({
    "architectures": ["Qwen2MoeForCausalLM"], "attention_dropout": 0.0, "bos_token_id": 151643,
    "decoder_sparse_step": 1, "eos_token_id": 151643, "hidden_act": "silu", "hidden_size": 2048,
    "initializer_range": 0.02, "intermediate_size": 5632, "max_position_embeddings": 8192,
    "max_window_layers": 21, "model_type": "qwen2_moe", "moe_intermediate_size": 1408,
    "norm_topk_prob": false, "num_attention_heads": 16, "num_experts": 60,
    "num_experts_per_tok": 4, "num_hidden_layers": 24, "num_key_value_heads": 16,
    "output_router_logits": false, "rms_norm_eps": 1e-06, "rope_theta": 1000000.0,
    "router_aux_loss_coef": 0.001, "shared_expert_intermediate_size": 5632,
    "sliding_window": 8192, "tie_word_embeddings": false, "torch_dtype": "bfloat16",
    "transformers_version": "4.39.0.dev0", "use_cache": true, "use_sliding_window": false,
    "vocab_size": 151936})");
  const ModelConfig m = modelFromHfConfig(c, "c.json");
  EXPECT_TRUE(m.qkv_bias);
  EXPECT_FALSE(m.qk_norm);
  ASSERT_TRUE(m.hasMoe());
  EXPECT_EQ(m.moe.experts, 60);
  EXPECT_EQ(m.moe.top_k, 4);
  EXPECT_FALSE(m.moe.normalize_top_k);
  EXPECT_EQ(m.moe.expert_ffn_hidden, 1408);
  EXPECT_EQ(m.moe.shared_experts, 1);
  EXPECT_EQ(m.moe.sharedWidth(), 5632);
  EXPECT_TRUE(m.moe.shared_gate);
  EXPECT_EQ(m.weight_naming, WeightNaming::Qwen2Moe);
  EXPECT_EQ(m.sliding_window, 0);
}

// GLM-4.5-Air's published config.json (zai-org/GLM-4.5-Air, transformers 4.54 layout).
json glm45Air() {
  return json::parse(R"({
    "architectures": ["Glm4MoeForCausalLM"], "attention_bias": true, "attention_dropout": 0.0,
    "pad_token_id": 151329, "eos_token_id": [151329, 151336, 151338], "head_dim": 128,
    "hidden_act": "silu", "hidden_size": 4096, "partial_rotary_factor": 0.5,
    "initializer_range": 0.02, "intermediate_size": 10944, "max_position_embeddings": 131072,
    "model_type": "glm4_moe", "moe_intermediate_size": 1408, "norm_topk_prob": true,
    "num_attention_heads": 96, "n_group": 1, "topk_group": 1, "n_routed_experts": 128,
    "n_shared_experts": 1, "routed_scaling_factor": 1.0, "num_experts_per_tok": 8,
    "first_k_dense_replace": 1, "num_hidden_layers": 46, "num_key_value_heads": 8,
    "rms_norm_eps": 1e-05, "rope_scaling": null, "rope_theta": 1000000,
    "num_nextn_predict_layers": 1, "tie_word_embeddings": false, "torch_dtype": "bfloat16",
    "transformers_version": "4.54.0", "use_cache": true, "use_qk_norm": false,
    "vocab_size": 151552})");
}

TEST(HfConfig, Glm45AirIsDerivedWithItsRoutingAndPartialRotary) {
  const ModelConfig m = modelFromHfConfig(glm45Air(), "c.json");
  EXPECT_EQ(m.layers, 46);
  EXPECT_EQ(m.head_dim, 128);
  EXPECT_EQ(m.rotary_dim, 64);  // int(128 * 0.5)
  EXPECT_TRUE(m.qkv_bias);
  EXPECT_FALSE(m.qk_norm);
  EXPECT_EQ(m.norm_eps, 1e-5);
  EXPECT_EQ(m.rope_theta, 1e6);
  ASSERT_TRUE(m.hasMoe());
  EXPECT_EQ(m.moe.experts, 128);
  EXPECT_EQ(m.moe.top_k, 8);
  EXPECT_EQ(m.moe.expert_ffn_hidden, 1408);
  EXPECT_EQ(m.moe.scoring, RouterScoring::Sigmoid);
  EXPECT_TRUE(m.moe.choice_bias);
  EXPECT_TRUE(m.moe.normalize_top_k);
  EXPECT_EQ(m.moe.groups, 1);
  EXPECT_EQ(m.moe.routed_scale, 1.0);
  EXPECT_EQ(m.moe.sharedWidth(), 1408);
  EXPECT_EQ(m.moe.first_dense, 1);
  EXPECT_FALSE(m.isMoeLayer(0));
  EXPECT_TRUE(m.isMoeLayer(1));
  EXPECT_EQ(m.moeLayerCount(), 45);
  EXPECT_EQ(m.source.config_layers, 46);
  EXPECT_EQ(m.source.mtp_layers, 1);
  bool mtp_noted = false;
  for (const auto& note : m.source.not_used)
    mtp_noted |= note.rfind("num_nextn_predict_layers 1", 0) == 0;
  EXPECT_TRUE(mtp_noted);
}

TEST(HfConfig, Glm4MoeKeysAreReadInBothLayoutsAndCheckedAgainstEachOther) {
  // transformers v5 writes the factor into rope_parameters and the experts as
  // num_local_experts; DeepSeek-V3-style groups are read and held to their rules.
  json v5 = glm45Air();
  v5.erase("partial_rotary_factor");
  v5.erase("rope_theta");
  v5.erase("n_routed_experts");
  v5["num_local_experts"] = 128;
  v5["rope_parameters"] =
      json::parse(R"({"rope_type": "default", "rope_theta": 1e6, "partial_rotary_factor": 0.25})");
  v5["n_group"] = 8;
  v5["topk_group"] = 4;
  v5["routed_scaling_factor"] = 2.5;
  const ModelConfig m = modelFromHfConfig(v5, "c.json");
  EXPECT_EQ(m.rotary_dim, 32);
  EXPECT_EQ(m.moe.experts, 128);
  EXPECT_EQ(m.moe.groups, 8);
  EXPECT_EQ(m.moe.top_groups, 4);
  EXPECT_EQ(m.moe.routed_scale, 2.5);
  // Absent everywhere: Glm4MoeConfig's default 0.5.
  json bare = glm45Air();
  bare.erase("partial_rotary_factor");
  EXPECT_EQ(modelFromHfConfig(bare, "c.json").rotary_dim, 64);
  // Refusals, each naming its key.
  json both = glm45Air();
  both["rope_parameters"] =
      json::parse(R"({"rope_type": "default", "partial_rotary_factor": 0.25})");
  both.erase("rope_scaling");
  refusedAs(
      both,
      "rope_parameters.partial_rotary_factor: 0.25: disagrees with partial_rotary_factor 0.5");
  json groups = glm45Air();
  groups["n_group"] = 3;  // does not divide 128
  refusedAs(groups, "model.hf_config (c.json) n_group: must divide the experts");
  groups["n_group"] = 8;
  groups["topk_group"] = 9;
  refusedAs(groups, "model.hf_config (c.json) topk_group: must not exceed the groups");
  json method = glm45Air();
  method["topk_method"] = "greedy";
  refusedAs(method, "topk_method: \"greedy\": Glm4MoeTopkRouter runs noaux_tc only");
  json odd = glm45Air();
  odd["partial_rotary_factor"] = 0.3;  // int(128 * 0.3) = 38 dims: even, allowed
  EXPECT_EQ(modelFromHfConfig(odd, "c.json").rotary_dim, 38);
  odd["partial_rotary_factor"] = 0.01;  // 1 dim
  refusedAs(odd, "partial_rotary_factor: 0.01 of head_dim 128 rotates 1 dimensions");
  json dense = glm45Air();
  dense["first_k_dense_replace"] = 46;
  refusedAs(dense, "first_k_dense_replace: must be an integer from 0 to 45");
  json window = glm45Air();
  window["sliding_window"] = 4096;  // Glm4MoeModel applies no window: refused, not dropped
  refusedAs(window, "sliding_window: 4096: not a key shardrt knows for model_type glm4_moe");
}

json deepseekV3() {
  return readJsonFile(std::string(SHARDRT_EXAMPLES) + "/hf/deepseek-v3/config.json", "test");
}

// DeepSeek-V3's published config.json (deepseek-ai/DeepSeek-V3, less its FP8
// quantization_config): latent attention, YaRN, its router and MoE.
TEST(HfConfig, DeepSeekV3IsDerivedWithLatentAttentionYarnAndItsRouter) {
  const ModelConfig m = modelFromHfConfig(deepseekV3(), "c.json");
  EXPECT_EQ(m.layers, 61);
  EXPECT_EQ(m.heads, 128);
  EXPECT_EQ(m.kv_heads, 128);
  EXPECT_EQ(m.head_dim, 192);  // 128 nope + 64 rope
  ASSERT_TRUE(m.mla.on());
  EXPECT_EQ(m.mla.q_rank, 1536);
  EXPECT_EQ(m.mla.kv_rank, 512);
  EXPECT_EQ(m.mla.v_dim, 128);
  EXPECT_TRUE(m.mla.interleaved);
  ASSERT_TRUE(m.rope_scaling.yarn());
  EXPECT_EQ(m.rope_scaling.factor, 40.0);
  EXPECT_EQ(m.rope_scaling.original_max_position_embeddings, 4096);
  EXPECT_DOUBLE_EQ(m.rope_scaling.attention_factor, 1.0);  // mscale / mscale_all_dim
  EXPECT_EQ(m.rope_scaling.mscale_all_dim, 1.0);
  EXPECT_EQ(m.moe.experts, 256);
  EXPECT_EQ(m.moe.top_k, 8);
  EXPECT_EQ(m.moe.scoring, RouterScoring::Sigmoid);
  EXPECT_TRUE(m.moe.choice_bias);
  EXPECT_EQ(m.moe.groups, 8);
  EXPECT_EQ(m.moe.top_groups, 4);
  EXPECT_EQ(m.moe.routed_scale, 2.5);
  EXPECT_EQ(m.moe.first_dense, 3);
  EXPECT_EQ(m.moe.sharedWidth(), 2048);
  EXPECT_EQ(m.moeLayerCount(), 58);
  EXPECT_EQ(m.source.mtp_layers, 1);
}

// Kimi-K2 ships DeepSeek-V3's architecture under model_type kimi_k2 (its own modelling code, not
// in transformers 5.25, so not cross-checked): a config of its shape (384 experts in one group,
// 64 heads, its routed scale) derives as DeepSeek-V3's does.
TEST(HfConfig, KimiK2ShapedConfigDerivesAsDeepSeekV3) {
  json c = deepseekV3();
  c["model_type"] = "kimi_k2";
  c["n_routed_experts"] = 384;
  c["n_group"] = 1;
  c["topk_group"] = 1;
  c["num_attention_heads"] = 64;
  c["num_key_value_heads"] = 64;
  c["routed_scaling_factor"] = 2.827;
  c["first_k_dense_replace"] = 1;
  const ModelConfig m = modelFromHfConfig(c, "c.json");
  EXPECT_TRUE(m.mla.on());
  EXPECT_EQ(m.heads, 64);
  EXPECT_EQ(m.moe.experts, 384);
  EXPECT_EQ(m.moe.groups, 1);
  EXPECT_TRUE(m.moe.choice_bias);
  EXPECT_EQ(m.moe.routed_scale, 2.827);
  EXPECT_EQ(m.moeLayerCount(), 60);
}

TEST(HfConfig, DeepSeekKeysAreHeldToWhatIsImplemented) {
  json kv = deepseekV3();
  kv["num_key_value_heads"] = 16;
  refusedAs(kv, "num_key_value_heads: must equal num_attention_heads");
  json method = deepseekV3();
  method["topk_method"] = "greedy";
  refusedAs(method, "topk_method: \"greedy\": DeepseekV3TopkRouter runs noaux_tc only");
  // Found by fuzz_hf_config (2026-12-05): a context beyond int's range was cast before it was
  // checked (undefined behaviour); it is refused now, as a fraction is.
  for (const double context : {4.09622e10, 4096.5}) {
    json yarn = deepseekV3();
    yarn["rope_scaling"]["original_max_position_embeddings"] = context;
    refusedAs(yarn, "rope_scaling.original_max_position_embeddings: must be a positive integer up "
                    "to 2^30 for rope_type yarn");
  }
  json truncate = deepseekV3();
  truncate["rope_scaling"]["truncate"] = false;
  refusedAs(truncate, "rope_scaling.truncate: false: only truncate true is implemented");
  json llama3 = deepseekV3();
  llama3["rope_scaling"] = json::parse(R"({"rope_type": "llama3", "factor": 8.0,
      "low_freq_factor": 1.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 8192})");
  refusedAs(llama3, "rope_scaling: llama3 scaling with latent attention is not implemented");
  json v2 = deepseekV3();
  v2["model_type"] = "deepseek_v2";
  v2.erase("scoring_func");
  v2["topk_method"] = "group_limited_greedy";
  refusedAs(v2, "norm_topk_prob: true: DeepseekV2TopkRouter never renormalises");
  v2["norm_topk_prob"] = false;
  const ModelConfig m2 = modelFromHfConfig(v2, "c.json");
  EXPECT_EQ(m2.moe.scoring, RouterScoring::Softmax);
  EXPECT_EQ(m2.moe.group_score, GroupScore::Max);
  EXPECT_FALSE(m2.moe.choice_bias);
  EXPECT_FALSE(m2.moe.normalize_top_k);
  // Llama's yarn is not: only latent attention applies its scores' mscale.
  json llama = llama31();
  llama["rope_scaling"] = deepseekV3()["rope_scaling"];
  refusedAs(llama, "rope_type yarn is not implemented (null, default and llama3 are)");
}

TEST(HfConfig, FamiliesNotImplementedAreRefusedSayingWhatTheyNeed) {
  for (const auto& [type, need] :
       {std::pair<const char*, const char*>{"deepseek_v32", "sparse attention"},
        {"gpt2", "not a family shardrt implements"}}) {
    json c = llama31();
    c["model_type"] = type;
    const std::string why = refusal(c);
    EXPECT_NE(why.find(std::string("model_type: \"") + type + "\""), std::string::npos) << why;
    EXPECT_NE(why.find(need), std::string::npos) << why;
  }
}

TEST(HfConfig, MathChangingValuesNotImplementedAreRefusedNamingKeyAndValue) {
  const auto refused = [](const char* key, const json& value, const char* expect) {
    json c = llama31();
    c[key] = value;
    const std::string why = refusal(c);
    EXPECT_NE(why.find(std::string("model.hf_config (c.json) ") + key), std::string::npos) << why;
    EXPECT_NE(why.find(expect), std::string::npos) << why;
  };
  refused("attention_bias", true, "true: biases on q/k/v/o are not implemented");
  refused("mlp_bias", true, "true: biases on the MLP");
  refused("hidden_act", "gelu", "\"gelu\": only silu");
  refused("rope_scaling", json::parse(R"({"rope_type": "yarn", "factor": 4.0})"),
          "rope_type yarn is not implemented");
  refused("rope_scaling", json::parse(R"({"rope_type": "dynamic", "factor": 2.0})"),
          "rope_type dynamic is not implemented");
  refused("partial_rotary_factor", 0.5, "0.5: this family's reference rotates all of head_dim");
  refused("quantization_config", json::parse(R"({"quant_method": "fp8"})"),
          "not a key shardrt knows for model_type llama");
  refused("num_hidden_layers", 0, "must be a positive integer");
  refused("num_key_value_heads", 5, "must divide num_attention_heads");
  // transformers v5's rope_parameters: a key its type does not use, or a theta that disagrees
  // with the top-level one, is refused, not dropped.
  json v5 = llama31();
  v5.erase("rope_scaling");
  v5["rope_parameters"] = json::parse(R"({"rope_type": "default", "rope_theta": 500000.0,
                                          "partial_rotary_factor": 0.5})");
  EXPECT_NE(refusal(v5).find("rope_parameters.partial_rotary_factor: 0.5: not used by rope_type "
                             "default"),
            std::string::npos)
      << refusal(v5);
  v5["rope_parameters"].erase("partial_rotary_factor");
  EXPECT_EQ(refusal(v5), "");  // rope_theta given twice, equal
  v5["rope_parameters"]["rope_theta"] = 10000.0;
  EXPECT_NE(refusal(v5).find("rope_parameters.rope_theta: 10000.0: disagrees with rope_theta"),
            std::string::npos)
      << refusal(v5);
  v5.erase("rope_theta");
  EXPECT_DOUBLE_EQ(modelFromHfConfig(v5, "c.json").rope_theta, 10000.0);
  v5["rope_scaling"] = llama31()["rope_scaling"];
  EXPECT_NE(refusal(v5).find("given beside rope_parameters"), std::string::npos) << refusal(v5);
  // A llama3 scaling missing a parameter names it.
  json c = llama31();
  c["rope_scaling"].erase("low_freq_factor");
  EXPECT_NE(refusal(c).find("rope_scaling.low_freq_factor: must be a positive number"),
            std::string::npos)
      << refusal(c);
}

TEST(HfConfig, KeysWithoutEffectAndDefaultsAreAccepted) {
  json c = llama31();
  c["attention_bias"] = nullptr;  // null: the family's default (false)
  c["num_beams"] = 4;             // a generation setting older versions saved in config.json
  c["_name_or_path"] = "meta-llama/Llama-3.1-8B";
  c.erase("rope_scaling");
  c.erase("num_key_value_heads");
  c.erase("rms_norm_eps");
  const ModelConfig m = modelFromHfConfig(c, "c.json");
  EXPECT_EQ(m.kv_heads, 32);           // LlamaConfig: num_key_value_heads defaults to the heads
  EXPECT_DOUBLE_EQ(m.norm_eps, 1e-6);  // LlamaConfig's default
  EXPECT_FALSE(m.rope_scaling.on());
  EXPECT_EQ(refusal(json::array()), "model.hf_config (c.json): must hold a JSON object");
}

}  // namespace
}  // namespace shardrt::config
