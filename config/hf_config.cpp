#include "config/hf_config.h"

#include <cmath>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "common/errors.h"
#include "config/json_limits.h"

namespace shardrt::config {
namespace {

using nlohmann::json;

// Families whose layers shardrt computes as their reference implementation does.
const std::set<std::string> kImplemented = {"llama",       "mistral",     "mixtral",   "qwen2",
                                            "qwen3",       "qwen3_moe",   "qwen2_moe", "glm4_moe",
                                            "deepseek_v2", "deepseek_v3", "kimi_k2"};

// Families known and refused, with what is missing.
const std::map<std::string, std::string> kNotYet = {
    {"deepseek_v32", "DeepSeek sparse attention (its indexer) is not implemented"},
};

// Keys every PretrainedConfig may carry that change nothing the layers compute: bookkeeping,
// token ids, generation settings saved by older versions, training-only regularisers.
const std::set<std::string> kNoEffect = {
    "architectures", "model_type", "transformers_version", "_name_or_path", "use_cache",
    "bos_token_id", "pad_token_id", "sep_token_id", "decoder_start_token_id", "initializer_range",
    "attention_dropout", "return_dict", "output_hidden_states", "output_attentions", "torchscript",
    "use_bfloat16", "tf_legacy_loss", "pruned_heads", "chunk_size_feed_forward",
    "is_encoder_decoder", "is_decoder", "add_cross_attention", "tie_encoder_decoder",
    "cross_attention_hidden_size", "problem_type", "id2label", "label2id", "finetuning_task",
    "tokenizer_class", "prefix", "task_specific_params", "max_length", "min_length", "do_sample",
    "early_stopping", "num_beams", "num_beam_groups", "diversity_penalty", "temperature", "top_k",
    "top_p", "typical_p", "repetition_penalty", "length_penalty", "no_repeat_ngram_size",
    "encoder_no_repeat_ngram_size", "bad_words_ids", "num_return_sequences", "output_scores",
    "return_dict_in_generate", "forced_bos_token_id", "forced_eos_token_id",
    "remove_invalid_values", "exponential_decay_length_penalty", "suppress_tokens",
    "begin_suppress_tokens",
    // DeepSeek's and Kimi's own code: where it lives, and its training-only balance losses.
    "auto_map", "aux_loss_alpha", "seq_aux",
    // Mixtral's router in training only: the auxiliary loss and the jitter noise
    // (MixtralSparseMoeBlock applies jitter when self.training).
    "output_router_logits", "router_aux_loss_coef", "router_jitter_noise"};

// Keys read and reported as not used by the layers shardrt runs.
const std::map<std::string, std::string> kNotUsed = {
    {"vocab_size", "run computes the layers alone; generate reads it"},
    {"tie_word_embeddings", "run computes the layers alone; generate reads it"},
    {"max_position_embeddings", "positions are those of workload.seq_len"},
    {"torch_dtype", "the workload's dtype is used"},
    {"dtype", "the workload's dtype is used"},
    {"pretraining_tp", "Llama's sliced projections compute the same product"},
    {"num_nextn_predict_layers",
     "multi-token-prediction modules serve speculative decoding; the next-token output does not "
     "use them, and their tensors are not loaded"},
    {"ep_size", "DeepSeek's own code's expert-parallel hint; the deployment's strategy decides"},
    {"num_mtp_layers",
     "multi-token-prediction modules serve speculative decoding; the next-token output does not "
     "use them, and their tensors are not loaded"}};

class HfReader {
 public:
  HfReader(const json& config, std::string path) : config_(config), path_(std::move(path)) {}

  std::string field(const std::string& key) const {
    return "model.hf_config (" + path_ + ") " + key;
  }
  bool has(const std::string& key) const {
    return config_.contains(key) && !config_.at(key).is_null();
  }
  const json& at(const std::string& key) {
    read_.insert(key);
    return config_.at(key);
  }
  void markRead(const std::string& key) { read_.insert(key); }
  [[noreturn]] void refuse(const std::string& key, const std::string& rule) const {
    throw ConfigError(field(key), rule);
  }

  int positiveInt(const std::string& key) {
    if (!has(key)) refuse(key, "required, and missing");
    return positiveIntValue(key, at(key));
  }
  int positiveInt(const std::string& key, int fallback) {
    read_.insert(key);
    return has(key) ? positiveIntValue(key, at(key)) : fallback;
  }
  int intFromZero(const std::string& key, int fallback, int max) {
    read_.insert(key);
    if (!has(key)) return fallback;
    const json& v = at(key);
    if (!v.is_number_integer() || v.get<long long>() < 0 || v.get<long long>() > max) {
      refuse(key, "must be an integer from 0 to " + std::to_string(max) + ", got " + brief(v));
    }
    return static_cast<int>(v.get<long long>());
  }
  double positiveNumber(const std::string& key, double fallback) {
    read_.insert(key);
    if (!has(key)) return fallback;
    const json& v = at(key);
    if (!v.is_number() || !(v.get<double>() > 0.0) || !std::isfinite(v.get<double>())) {
      refuse(key, "must be a positive number, got " + brief(v));
    }
    return v.get<double>();
  }
  bool boolean(const std::string& key, bool fallback) {
    markRead(key);
    if (!has(key)) return fallback;
    const json& v = at(key);
    if (!v.is_boolean()) refuse(key, "must be true or false, got " + brief(v));
    return v.get<bool>();
  }
  std::string string(const std::string& key, const std::string& fallback) {
    markRead(key);
    if (!has(key)) return fallback;
    const json& v = at(key);
    if (!v.is_string()) refuse(key, "must be a string, got " + brief(v));
    return v.get<std::string>();
  }
  // A key whose only implemented value is `want` (false, null, 0, ...): refused otherwise.
  void mustBe(const std::string& key, const json& want, const std::string& why) {
    read_.insert(key);
    if (!config_.contains(key)) return;
    const json& v = config_.at(key);
    if (!v.is_null() && v != want) {  // null: the family's default, which is `want`
      refuse(key, brief(v) + ": " + why);
    }
  }
  void noted(const std::string& key, ModelSource& source) {
    read_.insert(key);
    if (!config_.contains(key)) return;
    source.not_used.push_back(key + " " + brief(config_.at(key)) + " (" + kNotUsed.at(key) + ")");
  }
  // Every key not read, not without effect: refused.
  void finish(const std::string& model_type) const {
    for (const auto& [key, value] : config_.items()) {
      if (read_.count(key) || kNoEffect.count(key)) continue;
      refuse(key, brief(value) + ": not a key shardrt knows for model_type " + model_type +
                      "; it may change the model's math, so it is refused rather than ignored");
    }
  }

 private:
  int positiveIntValue(const std::string& key, const json& v) const {
    if (!v.is_number_integer() || v.get<long long>() <= 0 || v.get<long long>() > (1 << 30)) {
      refuse(key, "must be a positive integer up to 2^30, got " + brief(v));
    }
    return static_cast<int>(v.get<long long>());
  }

  const json& config_;
  std::string path_;
  std::set<std::string> read_;
};

// The token level that `generate` runs: the vocabulary, the tied LM head (the families' own
// default, false, when absent), and eos_token_id (an id, a list of ids, or null).
void readTokenLevel(HfReader& r, ModelConfig& m) {
  m.vocab = r.positiveInt("vocab_size", 0);
  m.tie_embeddings = r.boolean("tie_word_embeddings", false);
  r.markRead("eos_token_id");
  if (!r.has("eos_token_id")) return;
  const json& v = r.at("eos_token_id");
  const json list = v.is_array() ? v : json::array({v});
  for (const json& id : list) {
    if (!id.is_number_integer() || id.get<long long>() < 0 || id.get<long long>() >= m.vocab) {
      r.refuse("eos_token_id", "must be token ids below vocab_size " + std::to_string(m.vocab) +
                                   ", got " + brief(v));
    }
    m.eos_tokens.push_back(id.get<int>());
  }
}

// YaRN's keys as transformers' _compute_yarn_parameters reads them: factor, the original
// context, beta_fast/beta_slow (default 32/1), and the cos/sin magnitude attention_factor, given
// or mscale(factor, mscale) / mscale(factor, mscale_all_dim) when both are, else
// mscale(factor, 1); mscale_all_dim also scales the latent attention's scores
// (yarn_apply_mscale). truncate must be true (the default).
RopeScaling readYarn(HfReader& r, const std::string& key, const json& v) {
  RopeScaling s;
  s.type = RopeScalingType::Yarn;
  auto number = [&](const char* name, double fallback) {
    if (!v.contains(name) || v.at(name).is_null()) return fallback;
    if (!v.at(name).is_number() || !(v.at(name).get<double>() > 0.0)) {
      r.refuse(key + "." + name,
               "must be a positive number for rope_type yarn, got " + brief(v.at(name)));
    }
    return v.at(name).get<double>();
  };
  s.factor = number("factor", 0.0);
  if (!(s.factor > 0.0)) r.refuse(key + ".factor", "required for rope_type yarn");
  const double context = number("original_max_position_embeddings", 0.0);
  // The range before the cast: a double beyond int's is undefined behaviour to convert.
  if (!(context >= 1.0 && context <= (1 << 30)) || context != std::floor(context)) {
    r.refuse(key + ".original_max_position_embeddings",
             "must be a positive integer up to 2^30 for rope_type yarn");
  }
  s.original_max_position_embeddings = static_cast<int>(context);
  s.beta_fast = number("beta_fast", 32.0);
  s.beta_slow = number("beta_slow", 1.0);
  const auto get_mscale = [&](double m) {
    return s.factor <= 1.0 ? 1.0 : 0.1 * m * std::log(s.factor) + 1.0;
  };
  const double mscale = number("mscale", 0.0), mscale_all_dim = number("mscale_all_dim", 0.0);
  s.attention_factor = number("attention_factor", 0.0);
  if (!(s.attention_factor > 0.0)) {
    s.attention_factor = mscale > 0.0 && mscale_all_dim > 0.0
                             ? get_mscale(mscale) / get_mscale(mscale_all_dim)
                             : get_mscale(1.0);
  }
  s.mscale_all_dim = mscale_all_dim;
  if (v.contains("truncate") && v.at("truncate") != true) {
    r.refuse(key + ".truncate", brief(v.at("truncate")) + ": only truncate true is implemented");
  }
  return s;
}

// rope_scaling, or transformers v5's rope_parameters (which also holds rope_theta, read by the
// caller): none, "default", Llama 3.1's "llama3", or (for DeepSeek's latent attention) "yarn".
// Every key of the object is one its type uses, or it is refused: a partial_rotary_factor or
// a yarn setting here changes the math too.
RopeScaling readRopeScaling(HfReader& r, const std::string& key, bool partial_rotary,
                            bool yarn = false) {
  RopeScaling s;
  r.markRead(key);
  if (!r.has(key)) return s;  // absent or null: none
  const json& v = r.at(key);
  if (!v.is_object()) r.refuse(key, "must be an object or null, got " + brief(v));
  std::string type;
  for (const char* name : {"rope_type", "type"}) {
    if (v.contains(name) && v.at(name).is_string()) type = v.at(name).get<std::string>();
  }
  const bool parameters = key == "rope_parameters";
  const bool none = type == "default" || (type.empty() && parameters);
  if (!none && type != "llama3" && !(yarn && type == "yarn")) {
    r.refuse(key, brief(v) + ": rope_type " + (type.empty() ? "(none)" : type) +
                      " is not implemented (null, default and llama3 are" +
                      (yarn ? ", and yarn" : "") + ")");
  }
  std::set<std::string> known = {"rope_type", "type"};
  if (parameters) known.insert("rope_theta");
  if (parameters && partial_rotary) known.insert("partial_rotary_factor");  // read by the caller
  if (type == "yarn") {
    known.insert({"factor", "original_max_position_embeddings", "beta_fast", "beta_slow", "mscale",
                  "mscale_all_dim", "attention_factor", "truncate"});
  } else if (!none) {
    known.insert(
        {"factor", "low_freq_factor", "high_freq_factor", "original_max_position_embeddings"});
  }
  for (const auto& [name, value] : v.items()) {
    if (!known.count(name)) {
      r.refuse(key + "." + name, brief(value) + ": not used by rope_type " +
                                     (none ? std::string("default") : type) +
                                     ", so refused rather than ignored");
    }
  }
  if (none) return s;
  if (type == "yarn") return readYarn(r, key, v);
  auto number = [&](const char* name) {
    if (!v.contains(name) || !v.at(name).is_number() || !(v.at(name).get<double>() > 0.0)) {
      r.refuse(key + "." + name, "must be a positive number for rope_type llama3, got " +
                                     (v.contains(name) ? brief(v.at(name)) : "nothing"));
    }
    return v.at(name).get<double>();
  };
  s.factor = number("factor");
  s.low_freq_factor = number("low_freq_factor");
  s.high_freq_factor = number("high_freq_factor");
  const json& context = v.contains("original_max_position_embeddings")
                            ? v.at("original_max_position_embeddings")
                            : json();
  if (!context.is_number_integer() || context.get<long long>() <= 0 ||
      context.get<long long>() > (1 << 30)) {
    r.refuse(key + ".original_max_position_embeddings",
             "must be a positive integer up to 2^30 for rope_type llama3, got " + brief(context));
  }
  s.original_max_position_embeddings = static_cast<int>(context.get<long long>());
  if (!(s.high_freq_factor > s.low_freq_factor)) {
    r.refuse(key, brief(v) + ": high_freq_factor must exceed low_freq_factor");
  }
  return s;
}

// The routed experts under the family's own key (own_key) or transformers v5's
// num_local_experts (its attribute map writes that name), both given agreeing; then
// num_experts_per_tok, at most the experts.
void readRoutedExperts(HfReader& r, MoeConfig& moe, const std::string& own_key) {
  const bool own = r.has(own_key);
  moe.experts = r.positiveInt(own ? own_key : "num_local_experts");
  if (own && own_key != "num_local_experts" && r.has("num_local_experts") &&
      r.positiveInt("num_local_experts") != moe.experts) {
    r.refuse("num_local_experts", "disagrees with " + own_key);
  }
  moe.top_k = r.positiveInt("num_experts_per_tok");
  if (moe.top_k > moe.experts) r.refuse("num_experts_per_tok", "must not exceed " + own_key);
}

// partial_rotary_factor, at the top level (transformers v4) or in rope_parameters (v5), both
// given agreeing; glm4_moe's default 0.5 (Glm4MoeConfig). The rotated dims, int(head_dim *
// factor) as Glm4MoeRotaryEmbedding takes them; 0 when all of head_dim is rotated.
int partialRotaryDims(HfReader& r, const json& config, int head_dim) {
  double factor = r.positiveNumber("partial_rotary_factor", 0.5);
  if (config.contains("rope_parameters") && config.at("rope_parameters").is_object() &&
      config.at("rope_parameters").contains("partial_rotary_factor")) {
    const json& v = config.at("rope_parameters").at("partial_rotary_factor");
    if (!v.is_number() || !(v.get<double>() > 0.0) || v.get<double>() > 1.0) {
      r.refuse("rope_parameters.partial_rotary_factor",
               "must be a number in (0, 1], got " + brief(v));
    }
    if (r.has("partial_rotary_factor") && v.get<double>() != factor) {
      r.refuse("rope_parameters.partial_rotary_factor",
               brief(v) + ": disagrees with partial_rotary_factor " +
                   brief(config.at("partial_rotary_factor")));
    }
    factor = v.get<double>();
  }
  if (factor > 1.0) r.refuse("partial_rotary_factor", "must be at most 1, got " + brief(factor));
  const int dims = static_cast<int>(head_dim * factor);
  if (dims < 2 || dims % 2 != 0) {
    r.refuse("partial_rotary_factor", brief(factor) + " of head_dim " + std::to_string(head_dim) +
                                          " rotates " + std::to_string(dims) +
                                          " dimensions; an even number of at least 2 is needed");
  }
  return dims == head_dim ? 0 : dims;
}

// DeepSeek-V2/V3 and Kimi-K2 (transformers' DeepseekV2/V3 modeling; Kimi-K2 is DeepSeek-V3's
// architecture): multi-head latent attention and DeepSeek's MoE. V3: sigmoid scores with the
// choice bias, groups scored by their best two, top-k renormalised when norm_topk_prob; V2:
// softmax, `greedy` or `group_limited_greedy` (groups scored by their best), never
// renormalised (DeepseekV2TopkRouter has no such step). Both: routed_scaling_factor, the first
// first_k_dense_replace layers dense, n_shared_experts shared experts.
void readDeepseek(HfReader& r, const json& config, ModelConfig& m, bool v2) {
  auto& a = m.mla;
  a.kv_rank = r.positiveInt("kv_lora_rank");
  r.markRead("q_lora_rank");
  a.q_rank = r.has("q_lora_rank") ? r.positiveInt("q_lora_rank") : 0;  // null: q_proj
  a.nope_dim = r.positiveInt("qk_nope_head_dim");
  a.rope_dim = r.positiveInt("qk_rope_head_dim");
  a.v_dim = r.positiveInt("v_head_dim");
  a.interleaved = v2 || r.boolean("rope_interleave", true);  // V2 rotates pairs always
  if (v2) r.mustBe("rope_interleave", true, "DeepseekV2 rotates interleaved pairs only");
  if (a.rope_dim % 2 != 0) r.refuse("qk_rope_head_dim", "must be even for the rotary embedding");
  // transformers v5 writes head_dim (the rotary dims, for its rope) and qk_head_dim.
  if (r.has("head_dim") && r.positiveInt("head_dim") != a.rope_dim) {
    r.refuse("head_dim", brief(config.at("head_dim")) + ": must equal qk_rope_head_dim " +
                             std::to_string(a.rope_dim) + " (transformers' rotary width)");
  }
  if (r.has("qk_head_dim") && r.positiveInt("qk_head_dim") != a.nope_dim + a.rope_dim) {
    r.refuse("qk_head_dim", "must equal qk_nope_head_dim + qk_rope_head_dim");
  }
  m.head_dim = a.nope_dim + a.rope_dim;
  if (m.rope_scaling.on() && !m.rope_scaling.yarn()) {
    r.refuse("rope_scaling", "llama3 scaling with latent attention is not implemented (yarn is)");
  }
  if (m.kv_heads != m.heads) {
    r.refuse("num_key_value_heads",
             "must equal num_attention_heads: latent attention expands "
             "its keys and values to every head");
  }
  auto& moe = m.moe;
  readRoutedExperts(r, moe, "n_routed_experts");
  moe.expert_ffn_hidden = r.positiveInt("moe_intermediate_size");
  moe.routed_scale = r.positiveNumber("routed_scaling_factor", v2 ? 1.0 : 2.5);
  moe.groups = r.positiveInt("n_group", v2 ? 1 : 8);
  moe.top_groups = r.positiveInt("topk_group", v2 ? 1 : 4);
  if (v2) {
    moe.scoring = RouterScoring::Softmax;
    moe.normalize_top_k = false;
    r.mustBe("norm_topk_prob", false,
             "DeepseekV2TopkRouter never renormalises (DeepSeek's own code does): refused "
             "rather than guessed");
    r.mustBe("scoring_func", "softmax", "DeepseekV2TopkRouter scores by softmax only");
    const std::string method = r.string("topk_method", "greedy");
    if (method != "greedy" && method != "group_limited_greedy") {
      r.refuse("topk_method",
               "\"" + method + "\": greedy and group_limited_greedy are implemented");
    }
    moe.group_score = GroupScore::Max;
    if (method == "greedy") moe.top_groups = moe.groups;  // no group limit
  } else {
    moe.scoring = RouterScoring::Sigmoid;
    moe.choice_bias = true;
    moe.normalize_top_k = r.boolean("norm_topk_prob", true);
    moe.group_score = GroupScore::TopTwoSum;
    r.mustBe("topk_method", "noaux_tc", "DeepseekV3TopkRouter runs noaux_tc only");
    r.mustBe("scoring_func", "sigmoid", "DeepseekV3TopkRouter scores by sigmoid only");
  }
  checkExpertGroups(moe, [&](const char* key) {
    return r.field(std::string(key) == "groups" ? "n_group" : "topk_group");
  });
  moe.shared_experts = r.intFromZero("n_shared_experts", v2 ? 2 : 1, 1 << 20);
  moe.first_dense = r.intFromZero("first_k_dense_replace", v2 ? 0 : 3, m.layers - 1);
  moe.every = 1;
  r.mustBe("moe_layer_freq", 1,
           "every layer from first_k_dense_replace on is MoE in "
           "transformers' DeepSeek; another frequency is not implemented");
}

// Glm4MoeMoE and Glm4MoeTopkRouter (transformers): layers from first_k_dense_replace on are
// MoE; n_routed_experts experts of moe_intermediate_size, the top num_experts_per_tok chosen
// by sigmoid score + e_score_correction_bias within the best topk_group of n_group groups,
// weighted by the sigmoid scores (renormalised when norm_topk_prob), times
// routed_scaling_factor; n_shared_experts shared experts as one MLP beside them.
void readGlm4Moe(HfReader& r, ModelConfig& m) {
  auto& moe = m.moe;
  readRoutedExperts(r, moe, "n_routed_experts");
  moe.expert_ffn_hidden = r.positiveInt("moe_intermediate_size");
  moe.scoring = RouterScoring::Sigmoid;
  moe.choice_bias = true;  // the router's e_score_correction_bias buffer, always there
  moe.normalize_top_k = r.boolean("norm_topk_prob", true);
  moe.routed_scale = r.positiveNumber("routed_scaling_factor", 1.0);
  moe.groups = r.positiveInt("n_group", 1);
  moe.top_groups = r.positiveInt("topk_group", 1);
  moe.group_score = GroupScore::TopTwoSum;
  checkExpertGroups(moe, [&](const char* key) {
    return r.field(std::string(key) == "groups" ? "n_group" : "topk_group");
  });
  moe.shared_experts = r.intFromZero("n_shared_experts", 1, 1 << 20);
  // first_k_dense_replace up to num_hidden_layers - 1: at least one MoE layer.
  moe.first_dense = r.intFromZero("first_k_dense_replace", 1, m.layers - 1);
  moe.every = 1;
  // Older configs name the router's method; this is the only one Glm4MoeTopkRouter runs.
  r.mustBe("topk_method", "noaux_tc", "Glm4MoeTopkRouter runs noaux_tc only");
  r.mustBe("scoring_func", "sigmoid", "Glm4MoeTopkRouter scores by sigmoid only");
}

}  // namespace

ModelConfig modelFromHfConfig(const json& config, const std::string& path) {
  if (!config.is_object()) {
    throw ConfigError("model.hf_config (" + path + ")", "must hold a JSON object");
  }
  HfReader r(config, path);
  const std::string type = r.string("model_type", "");
  if (type.empty()) r.refuse("model_type", "required: the family to compute (llama, ...)");
  if (kNotYet.count(type)) r.refuse("model_type", "\"" + type + "\": " + kNotYet.at(type));
  if (!kImplemented.count(type)) {
    r.refuse("model_type",
             "\"" + type +
                 "\" is not a family shardrt implements (llama, mistral, mixtral, qwen2, qwen3, "
                 "qwen2_moe, qwen3_moe, glm4_moe)");
  }
  const bool mixtral = type == "mixtral";
  const bool qwen = type.rfind("qwen", 0) == 0;
  const bool glm = type == "glm4_moe";
  const bool deepseek = type == "deepseek_v2" || type == "deepseek_v3" || type == "kimi_k2";
  ModelConfig m;
  m.source.hf_config = path;
  m.source.model_type = type;
  m.layers = r.positiveInt("num_hidden_layers");
  m.hidden = r.positiveInt("hidden_size");
  m.heads = r.positiveInt("num_attention_heads");
  m.kv_heads = r.positiveInt("num_key_value_heads", m.heads);
  if (!deepseek) {  // DeepSeek's head dims come from its latent attention's keys
    if (m.hidden % m.heads != 0 && !r.has("head_dim")) {
      r.refuse("hidden_size",
               "must be a multiple of num_attention_heads when head_dim is not given");
    }
    m.head_dim = r.positiveInt("head_dim", m.hidden / m.heads);
  }
  m.ffn_hidden = r.positiveInt("intermediate_size");
  m.norm = NormKind::RmsNorm;
  // The families' own defaults (LlamaConfig, MistralConfig, MixtralConfig).
  m.norm_eps = r.positiveNumber("rms_norm_eps", mixtral || glm ? 1e-5 : 1e-6);
  // Qwen2Attention: biases on q, k and v always (no config key); Qwen3Attention: RMSNorm over
  // head_dim on each q and k head (q_norm, k_norm), always.
  // (transformers v5 writes Qwen2-MoE's as a qkv_bias key, true.)
  m.qkv_bias = type == "qwen2" || type == "qwen2_moe";
  if (m.qkv_bias) m.qkv_bias = r.boolean("qkv_bias", true);
  m.qk_norm = type == "qwen3" || type == "qwen3_moe";
  if (glm) {
    // Glm4MoeAttention: attention_bias puts biases on q, k and v (o_proj has none); use_qk_norm
    // an RMSNorm over head_dim on each query and key head, as Qwen3's.
    m.qkv_bias = r.boolean("attention_bias", false);
    m.qk_norm = r.boolean("use_qk_norm", false);
  }
  const std::string act = r.string("hidden_act", "silu");
  if (act != "silu") {
    r.refuse("hidden_act", "\"" + act + "\": only silu (the gated SwiGLU MLP) is implemented");
  }
  m.activation = Activation::SwiGlu;
  m.rope = true;
  m.causal = true;
  // The families' default theta (MixtralConfig's 1e6), then the file's: top-level rope_theta
  // and rope_scaling, or transformers v5's rope_parameters holding both. Given in both places
  // they must agree; one is not silently preferred to the other.
  m.rope_theta = r.positiveNumber("rope_theta", mixtral ? 1e6 : 10000.0);
  if (r.has("rope_parameters")) {
    const json& p = config.at("rope_parameters");
    if (p.is_object() && p.contains("rope_theta")) {
      const json& t = p.at("rope_theta");
      if (!t.is_number() || !(t.get<double>() > 0.0)) {
        r.refuse("rope_parameters.rope_theta", "must be a positive number, got " + brief(t));
      }
      if (r.has("rope_theta") && t.get<double>() != m.rope_theta) {
        r.refuse("rope_parameters.rope_theta",
                 brief(t) + ": disagrees with rope_theta " + brief(config.at("rope_theta")));
      }
      m.rope_theta = t.get<double>();
    }
    m.rope_scaling = readRopeScaling(r, "rope_parameters", glm, deepseek);
    if (r.has("rope_scaling")) {
      r.refuse("rope_scaling", brief(config.at("rope_scaling")) +
                                   ": given beside rope_parameters, which holds the scaling");
    }
    r.markRead("rope_scaling");  // null beside rope_parameters: nothing
  } else {
    m.rope_scaling = readRopeScaling(r, "rope_scaling", glm, deepseek);
  }
  if (glm) {
    m.rotary_dim = partialRotaryDims(r, config, m.head_dim);
    if (m.rotary_dim > 0 && m.rope_scaling.on()) {
      r.refuse("rope_parameters",
               "llama3 scaling with a partial rotary embedding is not "
               "implemented");
    }
  }
  if (!glm) r.mustBe("attention_bias", false, "biases on q/k/v/o are not implemented");
  r.mustBe("mlp_bias", false, "biases on the MLP's projections are not implemented");
  if (!glm) {
    r.mustBe("partial_rotary_factor", 1.0,
             "this family's reference rotates all of head_dim; only glm4_moe's partial rotary "
             "is implemented");
  }
  if (qwen) {
    // Qwen's window applies only with use_sliding_window (then to the layers from
    // max_window_layers on; transformers v5 lists them in layer_types).
    // The window is one for every layer here: a config that windows some layers only is
    // refused (it would otherwise be applied to all of them).
    // Without layer_types, Qwen2Config windows the layers from max_window_layers on.
    bool windowed = r.boolean("use_sliding_window", false);
    const int first_windowed = r.intFromZero("max_window_layers", 0, 1 << 30);
    bool some_full = windowed && first_windowed > 0;
    if (windowed && first_windowed >= m.layers) windowed = some_full = false;  // none windowed
    if (r.has("layer_types")) {
      const json& types = r.at("layer_types");
      if (!types.is_array()) r.refuse("layer_types", "must be a list, got " + brief(types));
      windowed = some_full = false;  // the list, when given, says it layer by layer
      for (const json& t : types) {
        if (t == "sliding_attention") {
          windowed = true;
        } else if (t == "full_attention") {
          some_full = true;
        } else {
          r.refuse("layer_types", brief(t) + ": full_attention and sliding_attention are known");
        }
      }
    }
    if (windowed && some_full) {
      r.refuse(r.has("layer_types") ? "layer_types" : "max_window_layers",
               "a sliding window on some layers only is not implemented (every layer or none)");
    }
    if (windowed) {
      m.sliding_window = r.positiveInt("sliding_window");
    } else {
      r.markRead("sliding_window");  // without use_sliding_window, no layer applies it
    }
  } else if (type == "mistral" || type == "mixtral") {
    m.sliding_window = r.positiveInt("sliding_window", 0);
  }
  if (mixtral) {
    readRoutedExperts(r, m.moe, "num_local_experts");
    m.moe.expert_ffn_hidden = m.ffn_hidden;
    // MixtralSparseMoeBlock: softmax over every expert, top-k, the k weights renormalised.
    m.moe.scoring = RouterScoring::Softmax;
    m.moe.normalize_top_k = true;
    m.moe.every = 1;
    m.weight_naming = WeightNaming::Mixtral;
  }
  if (type == "qwen3_moe" || type == "qwen2_moe") {
    readRoutedExperts(r, m.moe, "num_experts");  // published configs' name
    m.moe.expert_ffn_hidden = r.positiveInt("moe_intermediate_size");
    // Qwen3MoeSparseMoeBlock: softmax over every expert, top-k, renormalised when
    // norm_topk_prob (Qwen3MoeConfig's default: false); MoE in layer l when
    // (l + 1) % decoder_sparse_step == 0 and l is not in mlp_only_layers.
    m.moe.scoring = RouterScoring::Softmax;
    m.moe.normalize_top_k = r.boolean("norm_topk_prob", false);
    m.moe.every = r.positiveInt("decoder_sparse_step", 1);
    if (m.moe.every > m.layers) r.refuse("decoder_sparse_step", "leaves no MoE layer");
    r.markRead("mlp_only_layers");
    if (r.has("mlp_only_layers")) {  // these layers keep the dense MLP (moe.dense_layers)
      const json& list = r.at("mlp_only_layers");
      if (!list.is_array()) r.refuse("mlp_only_layers", "must be a list, got " + brief(list));
      for (const json& l : list) {
        if (!l.is_number_integer() || l.get<long long>() < 0 || l.get<long long>() >= m.layers) {
          r.refuse("mlp_only_layers",
                   brief(l) + ": every entry must be a layer index below num_hidden_layers");
        }
        m.moe.dense_layers.push_back(static_cast<int>(l.get<long long>()));
      }
      checkDenseLayers(m.moe.dense_layers, m.layers, [&] { return r.field("mlp_only_layers"); });
      if (m.moeLayerCount() == 0) r.refuse("mlp_only_layers", "leaves no MoE layer");
    }
    // Qwen2MoeSparseMoeBlock: one shared expert of its own width beside the routed ones,
    // scaled per token by sigmoid(shared_expert_gate(n)).
    if (type == "qwen2_moe") {
      const int shared = r.positiveInt("shared_expert_intermediate_size", 0);
      if (shared > 0) {
        m.moe.shared_experts = 1;
        m.moe.shared_ffn_hidden = shared;
        m.moe.shared_gate = true;
      }
      m.weight_naming = WeightNaming::Qwen2Moe;
    }
  }
  if (glm) readGlm4Moe(r, m);
  if (deepseek) readDeepseek(r, config, m, type == "deepseek_v2");
  m.source.config_layers = m.layers;
  for (const char* key : {"num_nextn_predict_layers", "num_mtp_layers"}) {
    if (r.has(key)) m.source.mtp_layers = r.intFromZero(key, 0, 64);
  }
  readTokenLevel(r, m);
  for (const auto& [key, why] : kNotUsed) r.noted(key, m.source);
  r.finish(type);
  if (m.heads % m.kv_heads != 0) {
    r.refuse("num_key_value_heads", "must divide num_attention_heads");
  }
  if (!m.mla.on() && m.head_dim % 2 != 0) {
    r.refuse("head_dim", "must be even for the rotary embedding");
  }
  return m;
}

}  // namespace shardrt::config
