#include "config/deployment.h"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <functional>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/errors.h"
#include "config/hf_config.h"
#include "config/json_limits.h"
#include "config/json_reader.h"
#include "config/size_limits.h"

namespace shardrt::config {
namespace {

using nlohmann::json;

std::string ratio(const char* a, long long x, const char* b, long long y) {
  return std::string("(") + a + "=" + std::to_string(x) + ", " + b + "=" + std::to_string(y) + ")";
}

}  // namespace

void checkDenseLayers(const std::vector<int>& dense, int layers,
                      const std::function<std::string()>& field) {
  std::vector<int> sorted = dense;
  std::sort(sorted.begin(), sorted.end());
  if (!sorted.empty() && (sorted.front() < 0 || sorted.back() >= layers)) {
    throw ConfigError(field(), "every layer index must lie in 0.." + std::to_string(layers - 1));
  }
  if (std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end()) {
    throw ConfigError(field(), "names a layer twice");
  }
}

void checkExpertGroups(const MoeConfig& moe, const std::function<std::string(const char*)>& field) {
  if (moe.experts % moe.groups != 0) {
    throw ConfigError(field("groups"), "must divide the experts " +
                                           ratio("experts", moe.experts, "groups", moe.groups));
  }
  if (moe.top_groups > moe.groups) {
    throw ConfigError(
        field("top_groups"),
        "must not exceed the groups " + ratio("top_groups", moe.top_groups, "groups", moe.groups));
  }
  const int per_group = moe.experts / moe.groups;
  if (moe.groups > 1 && moe.group_score == GroupScore::TopTwoSum && per_group < 2) {
    throw ConfigError(field("groups"),
                      "leaves fewer than 2 experts per group, and a group is "
                      "scored by its best two " +
                          ratio("experts", moe.experts, "groups", moe.groups));
  }
  if (moe.top_k > moe.top_groups * per_group) {
    throw ConfigError(field("top_groups"),
                      "holds fewer experts than top_k: top_groups * experts / groups = " +
                          std::to_string(moe.top_groups * per_group) + " < top_k " +
                          std::to_string(moe.top_k));
  }
}

namespace {

MoeConfig readMoe(JsonReader r, int layers) {
  MoeConfig moe;
  moe.experts = r.positiveInt("experts");
  moe.top_k = r.positiveInt("top_k");
  moe.expert_ffn_hidden = r.positiveInt("expert_ffn_hidden");
  moe.scoring = r.oneOf("scoring", {"softmax", "sigmoid"}, "softmax") == "softmax"
                    ? RouterScoring::Softmax
                    : RouterScoring::Sigmoid;
  moe.normalize_top_k = r.boolean("normalize_top_k", moe.normalize_top_k);
  moe.shared_experts = r.nonNegativeInt("shared_experts", 0);
  moe.shared_ffn_hidden = r.nonNegativeInt("shared_ffn_hidden", 0);
  moe.shared_gate = r.boolean("shared_gate", false);
  if ((moe.shared_ffn_hidden > 0 || moe.shared_gate) && moe.shared_experts == 0) {
    throw ConfigError(r.field(moe.shared_gate ? "shared_gate" : "shared_ffn_hidden"),
                      "needs shared_experts of at least 1");
  }
  if (r.has("capacity_factor")) moe.capacity_factor = r.positiveNumber("capacity_factor", 1.0);
  moe.every = r.positiveInt("every", 1);
  moe.first_dense = r.nonNegativeInt("first_dense", 0);
  if (r.has("dense_layers")) {
    moe.dense_layers = r.intList("dense_layers");
    checkDenseLayers(moe.dense_layers, layers, [&] { return r.field("dense_layers"); });
  }
  moe.choice_bias = r.boolean("choice_bias", false);
  moe.groups = r.positiveInt("groups", 1);
  moe.top_groups = r.positiveInt("top_groups", moe.groups);
  moe.group_score = r.oneOf("group_score", {"top2_sum", "max"}, "top2_sum") == "max"
                        ? GroupScore::Max
                        : GroupScore::TopTwoSum;
  if (r.has("routed_scale")) moe.routed_scale = r.positiveNumber("routed_scale", 1.0);
  r.finish();
  if (moe.top_k > moe.experts) {
    throw ConfigError(r.field("top_k"), "must not exceed model.moe.experts " +
                                            ratio("top_k", moe.top_k, "experts", moe.experts));
  }
  checkExpertGroups(moe, [&](const char* key) { return r.field(key); });
  if (moe.every > layers) {
    throw ConfigError(r.field("every"), "must not exceed model.layers, or no layer is MoE " +
                                            ratio("every", moe.every, "layers", layers));
  }
  ModelConfig probe;
  probe.layers = layers;
  probe.moe = moe;
  if (probe.moeLayerCount() == 0) {
    throw ConfigError(r.field("first_dense"),
                      "leaves no MoE layer " +
                          ratio("first_dense", moe.first_dense, "layers", layers) + " with every " +
                          std::to_string(moe.every));
  }
  return moe;
}

LatentAttention readLatentAttention(JsonReader r) {
  LatentAttention a;
  a.q_rank = r.nonNegativeInt("q_rank", 0);
  a.kv_rank = r.positiveInt("kv_rank");
  a.nope_dim = r.positiveInt("nope_dim");
  a.rope_dim = r.positiveInt("rope_dim");
  a.v_dim = r.positiveInt("v_dim");
  a.interleaved = r.boolean("rope_interleave", true);
  a.latent_eps = r.positiveNumber("latent_eps", a.latent_eps);
  r.finish();
  if (a.rope_dim % 2 != 0) {
    throw ConfigError(r.field("rope_dim"), "must be even, got " + std::to_string(a.rope_dim));
  }
  return a;
}

RopeScaling readYarn(JsonReader& r) {
  RopeScaling s;
  s.type = RopeScalingType::Yarn;
  s.factor = r.positiveNumber("factor");
  s.original_max_position_embeddings = r.positiveInt("original_max_position_embeddings");
  s.beta_fast = r.positiveNumber("beta_fast", s.beta_fast);
  s.beta_slow = r.positiveNumber("beta_slow", s.beta_slow);
  s.attention_factor = r.positiveNumber("attention_factor", s.attention_factor);
  if (r.has("mscale_all_dim")) s.mscale_all_dim = r.positiveNumber("mscale_all_dim", 0.0);
  r.finish();
  return s;
}

RopeScaling readRopeScaling(JsonReader r) {
  RopeScaling s;
  if (r.oneOf("type", {"llama3", "yarn"}) == "yarn") return readYarn(r);
  s.factor = r.positiveNumber("factor");
  s.low_freq_factor = r.positiveNumber("low_freq_factor");
  s.high_freq_factor = r.positiveNumber("high_freq_factor");
  s.original_max_position_embeddings = r.positiveInt("original_max_position_embeddings");
  r.finish();
  if (!(s.high_freq_factor > s.low_freq_factor)) {
    throw ConfigError(r.field("high_freq_factor"), "must exceed low_freq_factor");
  }
  return s;
}

// model.hf_config: the model derived from a Hugging Face config.json (config/hf_config.h);
// beside it only `layers` may be given, to run the first layers of the model.
ModelConfig readHfModel(JsonReader& r) {
  const std::string path = r.string("hf_config");
  ModelConfig m = modelFromHfConfig(readJsonFile(path, "model.hf_config file"), path);
  if (r.has("layers")) {
    const int layers = r.positiveInt("layers");
    if (layers > m.layers) {
      throw ConfigError(r.field("layers"),
                        "must not exceed the config's num_hidden_layers " +
                            ratio("layers", layers, "num_hidden_layers", m.layers));
    }
    m.layers = layers;
  }
  for (const char* key : {"hidden",      "heads",        "kv_heads",
                          "head_dim",    "ffn_hidden",   "norm",
                          "norm_eps",    "activation",   "rope",
                          "rope_theta",  "rope_scaling", "sliding_window",
                          "causal",      "moe",          "weight_naming",
                          "qkv_bias",    "qk_norm",      "rotary_dim",
                          "mla",         "vocab_size",   "tie_word_embeddings",
                          "eos_token_id"}) {
    if (r.has(key)) {
      throw ConfigError(r.field(key),
                        "comes from model.hf_config; only layers may be given "
                        "beside it");
    }
  }
  r.finish();
  if (m.hasMoe() && m.moeLayerCount() == 0) {
    throw ConfigError(r.field("layers"), "leaves no MoE layer");
  }
  return m;
}

// vocab_size, tie_word_embeddings and eos_token_id (one id or a list), as config.json names them.
void readTokenLevel(JsonReader& r, ModelConfig& m) {
  m.vocab = r.nonNegativeInt("vocab_size", 0);
  m.tie_embeddings = r.boolean("tie_word_embeddings", false);
  if (r.has("eos_token_id")) {
    const nlohmann::json& v = r.value("eos_token_id");
    if (!v.is_array() && !v.is_number_integer()) {
      throw ConfigError(r.field("eos_token_id"), "must be a token id or a list of them");
    }
    m.eos_tokens = v.is_array() ? r.intList("eos_token_id") : std::vector<int>{v.get<int>()};
  }
  if (m.tie_embeddings && m.vocab == 0) {
    throw ConfigError(r.field("tie_word_embeddings"), "needs model.vocab_size");
  }
  for (int id : m.eos_tokens) {
    if (id < 0 || id >= m.vocab) {
      throw ConfigError(r.field("eos_token_id"), "must be token ids within model.vocab_size " +
                                                     std::to_string(m.vocab) + ", got " +
                                                     std::to_string(id));
    }
  }
}

ModelConfig readModel(JsonReader r) {
  if (r.has("hf_config")) return readHfModel(r);
  ModelConfig m;
  m.layers = r.positiveInt("layers");
  m.hidden = r.positiveInt("hidden");
  m.heads = r.positiveInt("heads");
  m.kv_heads = r.positiveInt("kv_heads", m.heads);
  m.head_dim = r.positiveInt("head_dim");
  m.ffn_hidden = r.positiveInt("ffn_hidden");
  m.norm = r.oneOf("norm", {"rmsnorm", "layernorm"}) == "rmsnorm" ? NormKind::RmsNorm
                                                                  : NormKind::LayerNorm;
  m.norm_eps = r.positiveNumber("norm_eps", m.norm_eps);
  m.activation =
      r.oneOf("activation", {"swiglu", "gelu"}) == "swiglu" ? Activation::SwiGlu : Activation::Gelu;
  m.rope = r.boolean("rope", m.rope);
  m.rope_theta = r.positiveNumber("rope_theta", m.rope_theta);
  m.causal = r.boolean("causal", m.causal);
  if (r.has("rope_scaling")) m.rope_scaling = readRopeScaling(r.object("rope_scaling"));
  m.sliding_window = r.nonNegativeInt("sliding_window", 0);
  m.qkv_bias = r.boolean("qkv_bias", false);
  m.qk_norm = r.boolean("qk_norm", false);
  m.rotary_dim = r.nonNegativeInt("rotary_dim", 0);
  readTokenLevel(r, m);
  if (r.has("mla")) m.mla = readLatentAttention(r.object("mla"));
  if (r.has("moe")) m.moe = readMoe(r.object("moe"), m.layers);
  const std::string naming = r.oneOf("weight_naming", {"llama", "mixtral", "qwen2_moe"}, "llama");
  m.weight_naming = naming == "mixtral"     ? WeightNaming::Mixtral
                    : naming == "qwen2_moe" ? WeightNaming::Qwen2Moe
                                            : WeightNaming::Llama;
  r.finish();

  if (m.heads % m.kv_heads != 0) {
    throw ConfigError(r.field("kv_heads"),
                      "must divide model.heads " + ratio("heads", m.heads, "kv_heads", m.kv_heads));
  }
  if (m.rope && m.head_dim % 2 != 0) {
    throw ConfigError(r.field("head_dim"),
                      "must be even when rope is on, got " + std::to_string(m.head_dim));
  }
  if (m.mla.on()) {
    const auto& a = m.mla;
    const char* broken = m.head_dim != a.nope_dim + a.rope_dim ? "head_dim"
                         : m.kv_heads != m.heads               ? "kv_heads"
                         : !m.rope                             ? "rope"
                         : m.rotary_dim != 0                   ? "rotary_dim"
                         : m.qkv_bias || m.qk_norm ? (m.qkv_bias ? "qkv_bias" : "qk_norm")
                                                   : nullptr;
    if (broken) {
      throw ConfigError(r.field(broken),
                        "with model.mla, head_dim must be nope_dim + rope_dim " +
                            ratio("nope_dim", a.nope_dim, "rope_dim", a.rope_dim) +
                            ", kv_heads equal heads, rope on, and rotary_dim, qkv_bias, qk_norm "
                            "absent (the latent attention has its own)");
    }
  }
  if (m.rope_scaling.yarn() && !m.mla.on()) {
    throw ConfigError(r.field("rope_scaling"),
                      "yarn is implemented with model.mla only (DeepSeek's latent attention)");
  }
  if (m.rotary_dim % 2 != 0 || m.rotary_dim > m.head_dim || (m.rotary_dim > 0 && !m.rope)) {
    throw ConfigError(r.field("rotary_dim"),
                      "must be even, at most head_dim, and needs rope on " +
                          ratio("rotary_dim", m.rotary_dim, "head_dim", m.head_dim));
  }
  return m;
}

WorkloadConfig readWorkload(JsonReader r) {
  WorkloadConfig w;
  w.batch_size = r.positiveInt("batch_size");
  w.seq_len = r.positiveInt("seq_len");
  w.dtype = r.oneOf("dtype", {"fp32", "bf16"}, "fp32") == "bf16" ? DType::BF16 : DType::F32;
  r.finish();
  return w;
}

StrategyConfig readStrategy(JsonReader r) {
  StrategyConfig s;
  s.tp = r.positiveInt("tp", 1);
  s.pp = r.positiveInt("pp", 1);
  s.ep = r.positiveInt("ep", 1);
  s.dp = r.positiveInt("dp", 1);
  s.microbatches = r.positiveInt("microbatches", 1);
  r.finish();
  return s;
}

ExplicitPlan readExplicitPlan(JsonReader r) {
  // An empty list given is a mistake, not a request for the default: say so.
  auto nonEmpty = [&](const char* key, auto list) {
    if (list.empty()) throw ConfigError(r.field(key), "is empty; leave it out for the default");
    return list;
  };
  ExplicitPlan p;
  if (r.has("stage_layers")) p.stage_layers = nonEmpty("stage_layers", r.intLists("stage_layers"));
  if (r.has("expert_placement")) {
    p.expert_placement = nonEmpty("expert_placement", r.intLists("expert_placement"));
  }
  if (r.has("dp_batch")) p.dp_batch = nonEmpty("dp_batch", r.intList("dp_batch"));
  r.finish();
  return p;
}

// Every index in [0, n) at least once over the lists, which number `parts`. With `copies`
// an index may sit in several lists (redundant copies of an expert) but twice in none:
// a second copy on the same part would hold the same weights and share nothing.
void checkCover(const std::vector<std::vector<int>>& lists, int n, int parts,
                const std::string& field, const char* part_name, const char* item, bool copies) {
  if (static_cast<int>(lists.size()) != parts) {
    throw ConfigError(field, "must have one list per " + std::string(part_name) + " (" +
                                 std::to_string(parts) + "), got " + std::to_string(lists.size()));
  }
  std::vector<int> seen(n, 0);
  // One flag per index, cleared after each part by walking the part's own list: a fresh
  // vector per part would cost parts * n (2^20 ep ranks * 2^24 experts from a hostile file).
  std::vector<char> in_part(n, 0);
  for (std::size_t part = 0; part < lists.size(); ++part) {
    for (int x : lists[part]) {
      if (x >= n) {
        throw ConfigError(field, std::string(item) + " " + std::to_string(x) +
                                     " does not exist (there are " + std::to_string(n) + ")");
      }
      if (copies && in_part[x]++) {
        throw ConfigError(field, std::string(item) + " " + std::to_string(x) +
                                     " is listed twice on " + part_name + " " +
                                     std::to_string(part) + " (copies go on different ranks)");
      }
      if (seen[x]++ && !copies)
        throw ConfigError(field, std::string(item) + " " + std::to_string(x) + " is listed twice");
    }
    for (int x : lists[part]) in_part[x] = 0;
  }
  for (int x = 0; x < n; ++x) {
    if (!seen[x])
      throw ConfigError(field, std::string(item) + " " + std::to_string(x) + " is missing");
  }
}

void checkExplicitPlan(const Deployment& d) {
  const auto& p = d.plan;
  const auto& s = d.strategy;
  if (!p.stage_layers.empty()) {
    checkCover(p.stage_layers, d.model.layers, s.pp, "plan.stage_layers", "pipeline stage", "layer",
               false);
    int next = 0;  // stages hold consecutive layers, in order
    for (std::size_t i = 0; i < p.stage_layers.size(); ++i) {
      const auto& list = p.stage_layers[i];
      if (list.empty()) {
        throw ConfigError("plan.stage_layers", "stage " + std::to_string(i) + " holds no layer");
      }
      for (int layer : list) {
        if (layer != next++) {
          throw ConfigError("plan.stage_layers",
                            "stage " + std::to_string(i) + " must continue with layer " +
                                std::to_string(next - 1) +
                                " (stages hold consecutive layers in order), got " +
                                std::to_string(layer));
        }
      }
    }
  }
  if (!p.expert_placement.empty()) {
    if (!d.model.hasMoe()) throw ConfigError("plan.expert_placement", "the model has no experts");
    checkCover(p.expert_placement, d.model.moe.experts, s.ep, "plan.expert_placement", "ep rank",
               "expert", true);
  }
  if (!p.dp_batch.empty()) {
    if (static_cast<int>(p.dp_batch.size()) != s.dp) {
      throw ConfigError("plan.dp_batch", "must have one share per dp replica (" +
                                             std::to_string(s.dp) + "), got " +
                                             std::to_string(p.dp_batch.size()));
    }
    std::int64_t total = 0;  // dp (up to 2^20) shares of up to 2^31-1 each
    for (int share : p.dp_batch) {
      if (share <= 0) throw ConfigError("plan.dp_batch", "every share must be positive");
      if (share % s.microbatches) {
        throw ConfigError("plan.dp_batch", "share " + std::to_string(share) +
                                               " must be divisible by strategy.microbatches (" +
                                               std::to_string(s.microbatches) + ")");
      }
      total += share;
    }
    if (total != d.workload.batch_size) {
      throw ConfigError("plan.dp_batch",
                        "shares must add up to workload.batch_size " +
                            ratio("sum", total, "batch_size", d.workload.batch_size));
    }
  }
}

// Rules that tie the strategy to the model and workload. The general rules come first, so
// that a user learns the general rule before the one specific to an explicit plan.
void checkStrategy(const Deployment& d) {
  // Sizes first: every product below is then known to fit (config/size_limits.h).
  checkSizes(d);
  const auto& m = d.model;
  const auto& s = d.strategy;
  // Mistral's window masks key j for query i when i - j >= window (Hugging Face's
  // sliding_window_overlay), on top of the causal mask; alone it would be another mask.
  if (m.sliding_window > 0 && !m.causal) {
    throw ConfigError("model.sliding_window",
                      "needs model.causal: the window is a band below the causal mask's diagonal");
  }
  if (m.heads % s.tp != 0) {
    throw ConfigError("strategy.tp",
                      "must divide model.heads " + ratio("heads", m.heads, "tp", s.tp));
  }
  if (m.ffn_hidden % s.tp != 0) {
    throw ConfigError("strategy.tp", "must divide model.ffn_hidden " +
                                         ratio("ffn_hidden", m.ffn_hidden, "tp", s.tp));
  }
  if (s.pp > m.layers) {
    throw ConfigError("strategy.pp",
                      "must not exceed model.layers " + ratio("layers", m.layers, "pp", s.pp));
  }
  // dp and microbatches are each up to 2^20: their product needs 64 bits.
  const std::int64_t rows_per_step = std::int64_t{s.dp} * s.microbatches;
  if (d.plan.dp_batch.empty() && d.workload.batch_size % rows_per_step != 0) {
    throw ConfigError("workload.batch_size", "must be divisible by microbatches * dp " +
                                                 ratio("batch_size", d.workload.batch_size,
                                                       "microbatches*dp", rows_per_step));
  }
  if ((s.tp * s.dp) % s.ep != 0) {
    throw ConfigError("strategy.ep", "must divide tp*dp, the ranks of one pipeline stage " +
                                         ratio("tp*dp", s.tp * s.dp, "ep", s.ep));
  }
  if (s.ep > 1 && !m.hasMoe()) {
    throw ConfigError("strategy.ep", "must be 1: the model has no MoE layers to split");
  }
  if (m.hasMoe()) {
    if (d.plan.expert_placement.empty() && m.moe.experts % s.ep != 0) {
      throw ConfigError("strategy.ep", "must divide model.moe.experts " +
                                           ratio("experts", m.moe.experts, "ep", s.ep));
    }
    const int shared_ffn = m.moe.sharedWidth();
    if (shared_ffn % s.tp != 0) {
      throw ConfigError("strategy.tp", "must divide the shared experts' width " +
                                           ratio("shared_ffn", shared_ffn, "tp", s.tp));
    }
  }
  checkExplicitPlan(d);
}

json applyOverride(json doc, const std::string& assignment) {
  const auto eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0) {
    throw ConfigError("--set " + assignment, "must have the form dotted.path=value");
  }
  const std::string path = assignment.substr(0, eq);
  const std::string text = assignment.substr(eq + 1);
  // The value is held to the file's limits (depth, duplicate keys); a bare word such as
  // layernorm, which is no JSON, is a string.
  json value;
  try {
    value = parseJsonLimited(text, "--set " + path);
  } catch (const ConfigError& e) {
    // Only a bare word is a string: a value that starts as a number and does not parse
    // (1e400: past a double's range) is refused, not taken for the string "1e400".
    const bool numeric = !text.empty() && std::strchr("0123456789+-.", text[0]) != nullptr;
    if (e.rule().rfind("malformed JSON", 0) != 0 || numeric) throw;
    value = text;
  }

  std::vector<std::string> keys;
  std::stringstream parts(path);
  for (std::string k; std::getline(parts, k, '.');) keys.push_back(k);
  json* node = &doc;
  std::string walked;
  for (std::size_t i = 0; i < keys.size(); ++i) {
    if (node->is_null()) *node = json::object();  // --set strategy.tp=2 with no "strategy" yet
    if (!node->is_object()) {
      throw ConfigError(walked.empty() ? "deployment" : walked,
                        "is not an object, so --set " + path + " cannot apply");
    }
    walked += (i ? "." : "") + keys[i];
    node = &(*node)[keys[i]];
  }
  *node = value;
  return doc;
}

// Names are printed in summaries and graph titles and become file names: a control character
// (a newline, an escape sequence) could forge a line of output or drive a terminal.
std::string printable(const std::string& field, std::string name) {
  for (const char c : name) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      throw ConfigError(field, "must hold no control characters (a newline, an escape), got " +
                                   json(name).dump());
    }
  }
  return name;
}

}  // namespace

const char* toString(NormKind norm) { return norm == NormKind::RmsNorm ? "rmsnorm" : "layernorm"; }
const char* toString(Activation activation) {
  return activation == Activation::SwiGlu ? "swiglu" : "gelu";
}
const char* toString(WeightNaming naming) {
  return naming == WeightNaming::Mixtral    ? "mixtral"
         : naming == WeightNaming::Qwen2Moe ? "qwen2_moe"
                                            : "llama";
}
const char* toString(RouterScoring scoring) {
  return scoring == RouterScoring::Softmax ? "softmax" : "sigmoid";
}

const char* toString(GroupScore score) { return score == GroupScore::Max ? "max" : "top2_sum"; }

int ModelConfig::moeLayerCount() const {
  int count = 0;
  for (int l = 0; l < layers; ++l) count += isMoeLayer(l) ? 1 : 0;
  return count;
}

int MoeConfig::capacity(int seq_len) const {
  const double exact = capacity_factor * seq_len * top_k / experts;
  // cf = 1.1, seq 14, top_k 5, experts 7 is 11 exactly but 11.000000000000002 in doubles:
  // a product within rounding noise of an integer is that integer, not the next one.
  // A factor from the file may be huge: past INT_MAX slots nothing is ever dropped, so the
  // capacity is clamped there rather than cast out of int's range.
  if (!(exact < std::numeric_limits<int>::max())) return std::numeric_limits<int>::max();
  const double nearest = std::round(exact);
  if (std::abs(exact - nearest) <= 1e-9 * std::max(1.0, exact)) return static_cast<int>(nearest);
  return static_cast<int>(std::ceil(exact));
}

Deployment parseDeployment(const json& doc, const std::string& default_name) {
  JsonReader root(doc, "");
  Deployment d;
  d.name = printable(root.field("name"), root.string("name", default_name));
  d.seed = root.unsignedInt("seed", 0);
  d.model = readModel(root.object("model"));
  d.workload = readWorkload(root.object("workload"));
  d.strategy = root.has("strategy") ? readStrategy(root.object("strategy")) : StrategyConfig{};
  if (root.has("plan")) d.plan = readExplicitPlan(root.object("plan"));
  if (root.has("strategies")) {
    for (JsonReader s : root.objects("strategies")) {
      NamedStrategy n;
      n.name = printable(s.field("name"), s.string("name"));
      for (const auto& other : d.strategies) {
        if (other.name == n.name) {
          throw ConfigError(s.field("name"), "\"" + n.name + "\" names two strategies");
        }
      }
      n.strategy = s.has("strategy") ? readStrategy(s.object("strategy")) : StrategyConfig{};
      if (s.has("plan")) n.plan = readExplicitPlan(s.object("plan"));
      s.finish();
      d.strategies.push_back(std::move(n));
    }
    if (!root.has("strategy") && !root.has("plan")) {
      d.strategy = d.strategies[0].strategy;
      d.plan = d.strategies[0].plan;
    }
  }
  // The condition file's planner sections: `shardrt plan` reads them (planner/cluster.h).
  for (const char* key : {"cluster", "objective", "planner"}) root.skip(key);
  root.finish();
  checkStrategy(d);
  for (std::size_t i = 0; i < d.strategies.size(); ++i) {
    try {
      checkStrategy(withStrategy(d, d.strategies[i].name));
    } catch (const ConfigError& e) {  // name the list entry the rule was broken in
      throw ConfigError("strategies[" + std::to_string(i) + "] (" + d.strategies[i].name + ")",
                        e.what());
    }
  }
  return d;
}

Deployment withStrategy(const Deployment& deployment, const std::string& name) {
  for (const auto& n : deployment.strategies) {
    if (n.name != name) continue;
    Deployment one = deployment;
    one.strategy = n.strategy;
    one.plan = n.plan;
    return one;
  }
  std::string names;
  for (const auto& n : deployment.strategies) names += (names.empty() ? "" : ", ") + n.name;
  throw ConfigError("--strategy", "no strategy named \"" + name + "\" (the file names: " +
                                      (names.empty() ? "none" : names) + ")");
}

Deployment loadDeployment(const std::string& path, const std::vector<std::string>& overrides) {
  return parseDeployment(readDeploymentJson(path, overrides),
                         std::filesystem::path(path).stem().string());
}

json readDeploymentJson(const std::string& path, const std::vector<std::string>& overrides) {
  json doc = readJsonFile(path, "deployment file");
  // model.hf_config is relative to the deployment file (a --set value, to where shardrt runs).
  if (doc.is_object() && doc.contains("model") && doc["model"].is_object() &&
      doc["model"].contains("hf_config") && doc["model"]["hf_config"].is_string()) {
    const std::filesystem::path given = doc["model"]["hf_config"].get<std::string>();
    if (given.is_relative() && !given.empty()) {
      doc["model"]["hf_config"] =
          (std::filesystem::path(path).parent_path() / given).lexically_normal().string();
    }
  }
  for (const auto& o : overrides) doc = applyOverride(std::move(doc), o);
  return doc;
}

json toJson(const Deployment& deployment) {
  const auto& m = deployment.model;
  json model = {{"layers", m.layers},
                {"hidden", m.hidden},
                {"heads", m.heads},
                {"kv_heads", m.kv_heads},
                {"head_dim", m.head_dim},
                {"ffn_hidden", m.ffn_hidden},
                {"norm", toString(m.norm)},
                {"norm_eps", m.norm_eps},
                {"activation", toString(m.activation)},
                {"rope", m.rope},
                {"rope_theta", m.rope_theta},
                {"causal", m.causal}};
  if (m.rope_scaling.yarn()) {
    const auto& s = m.rope_scaling;
    model["rope_scaling"] = {
        {"type", "yarn"},
        {"factor", s.factor},
        {"original_max_position_embeddings", s.original_max_position_embeddings},
        {"beta_fast", s.beta_fast},
        {"beta_slow", s.beta_slow},
        {"attention_factor", s.attention_factor}};
    if (s.mscale_all_dim > 0.0) model["rope_scaling"]["mscale_all_dim"] = s.mscale_all_dim;
  } else if (m.rope_scaling.on()) {
    const auto& s = m.rope_scaling;
    model["rope_scaling"] = {
        {"type", "llama3"},
        {"factor", s.factor},
        {"low_freq_factor", s.low_freq_factor},
        {"high_freq_factor", s.high_freq_factor},
        {"original_max_position_embeddings", s.original_max_position_embeddings}};
  }
  if (m.sliding_window > 0) model["sliding_window"] = m.sliding_window;
  if (m.vocab > 0) model["vocab_size"] = m.vocab;
  if (m.tie_embeddings) model["tie_word_embeddings"] = true;
  if (!m.eos_tokens.empty()) model["eos_token_id"] = m.eos_tokens;
  if (m.qkv_bias) model["qkv_bias"] = true;
  if (m.qk_norm) model["qk_norm"] = true;
  if (m.rotary_dim > 0) model["rotary_dim"] = m.rotary_dim;
  if (m.mla.on()) {
    const auto& a = m.mla;
    model["mla"] = {{"q_rank", a.q_rank},        {"kv_rank", a.kv_rank},
                    {"nope_dim", a.nope_dim},    {"rope_dim", a.rope_dim},
                    {"v_dim", a.v_dim},          {"rope_interleave", a.interleaved},
                    {"latent_eps", a.latent_eps}};
  }
  if (m.weight_naming != WeightNaming::Llama) model["weight_naming"] = toString(m.weight_naming);
  if (m.hasMoe()) {
    const auto& moe = m.moe;
    model["moe"] = {{"experts", moe.experts},
                    {"top_k", moe.top_k},
                    {"expert_ffn_hidden", moe.expert_ffn_hidden},
                    {"scoring", toString(moe.scoring)},
                    {"normalize_top_k", moe.normalize_top_k},
                    {"shared_experts", moe.shared_experts},
                    {"every", moe.every}};
    if (moe.shared_ffn_hidden > 0) model["moe"]["shared_ffn_hidden"] = moe.shared_ffn_hidden;
    if (moe.shared_gate) model["moe"]["shared_gate"] = true;
    if (moe.first_dense > 0) model["moe"]["first_dense"] = moe.first_dense;
    if (!moe.dense_layers.empty()) model["moe"]["dense_layers"] = moe.dense_layers;
    if (moe.choice_bias) model["moe"]["choice_bias"] = true;
    if (moe.groups > 1) {
      model["moe"]["groups"] = moe.groups;
      model["moe"]["top_groups"] = moe.top_groups;
      model["moe"]["group_score"] = toString(moe.group_score);
    }
    if (moe.routed_scale != 1.0) model["moe"]["routed_scale"] = moe.routed_scale;
    if (!moe.dropless()) model["moe"]["capacity_factor"] = moe.capacity_factor;
  }
  json doc = {{"name", deployment.name},
              {"seed", deployment.seed},
              {"model", model},
              {"workload",
               {{"batch_size", deployment.workload.batch_size},
                {"seq_len", deployment.workload.seq_len},
                {"dtype", dtypeName(deployment.workload.dtype)}}},
              {"strategy",
               {{"tp", deployment.strategy.tp},
                {"pp", deployment.strategy.pp},
                {"ep", deployment.strategy.ep},
                {"dp", deployment.strategy.dp},
                {"microbatches", deployment.strategy.microbatches}}}};
  const auto& p = deployment.plan;
  if (!p.stage_layers.empty()) doc["plan"]["stage_layers"] = p.stage_layers;
  if (!p.expert_placement.empty()) doc["plan"]["expert_placement"] = p.expert_placement;
  if (!p.dp_batch.empty()) doc["plan"]["dp_batch"] = p.dp_batch;
  return doc;
}

void checkRules(const Deployment& deployment) { checkStrategy(deployment); }

void checkWorldSize(const Deployment& deployment, int world_size) {
  const auto& s = deployment.strategy;
  if (s.worldSize() != world_size) {
    throw ConfigError("strategy", "tp*pp*dp = " + std::to_string(s.tp) + "*" +
                                      std::to_string(s.pp) + "*" + std::to_string(s.dp) + " = " +
                                      std::to_string(s.worldSize()) +
                                      " must equal the number of ranks launched (" +
                                      std::to_string(world_size) + ")");
  }
}

}  // namespace shardrt::config
