#include "planner/deployment.h"

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/errors.h"
#include "planner/json_reader.h"

namespace shardrt::planner {
namespace {

using nlohmann::json;

std::string ratio(const char* a, int x, const char* b, int y) {
  return std::string("(") + a + "=" + std::to_string(x) + ", " + b + "=" + std::to_string(y) + ")";
}

ModelConfig readModel(JsonReader r) {
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
  r.finish();

  if (m.heads % m.kv_heads != 0) {
    throw ConfigError(r.field("kv_heads"),
                      "must divide model.heads " + ratio("heads", m.heads, "kv_heads", m.kv_heads));
  }
  if (m.rope && m.head_dim % 2 != 0) {
    throw ConfigError(r.field("head_dim"),
                      "must be even when rope is on, got " + std::to_string(m.head_dim));
  }
  return m;
}

WorkloadConfig readWorkload(JsonReader r) {
  WorkloadConfig w;
  w.batch_size = r.positiveInt("batch_size");
  w.seq_len = r.positiveInt("seq_len");
  r.oneOf("dtype", {"fp32"}, "fp32");  // bf16 arrives with the CUDA backend
  w.dtype = DType::F32;
  r.finish();
  return w;
}

StrategyConfig readStrategy(JsonReader r) {
  StrategyConfig s;
  s.tp = r.positiveInt("tp", 1);
  s.pp = r.positiveInt("pp", 1);
  s.ep = r.positiveInt("ep", 1);
  s.dp = r.positiveInt("dp", 1);
  r.finish();
  return s;
}

// Rules that tie the strategy to the model and workload. The general rules come first, so
// that a user learns what a valid pp/ep/dp would be before learning it is not built yet.
void checkStrategy(const Deployment& d) {
  const auto& m = d.model;
  const auto& s = d.strategy;
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
  if (d.workload.batch_size % s.dp != 0) {
    throw ConfigError("strategy.dp", "must divide workload.batch_size " +
                                         ratio("batch_size", d.workload.batch_size, "dp", s.dp));
  }
  if ((s.tp * s.dp) % s.ep != 0) {
    throw ConfigError("strategy.ep", "must divide tp*dp, the ranks of one pipeline stage " +
                                         ratio("tp*dp", s.tp * s.dp, "ep", s.ep));
  }
  if (s.ep != 1) {
    throw ConfigError("strategy.ep", "must be 1: the model has no MoE layers to split");
  }
  if (s.pp != 1) {
    throw ConfigError("strategy.pp", "must be 1: pipeline stages are not implemented yet");
  }
  if (s.dp != 1) {
    throw ConfigError("strategy.dp", "must be 1: data-parallel replicas are not implemented yet");
  }
}

json applyOverride(json doc, const std::string& assignment) {
  const auto eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0) {
    throw ConfigError("--set " + assignment, "must have the form dotted.path=value");
  }
  const std::string path = assignment.substr(0, eq);
  const std::string text = assignment.substr(eq + 1);
  json value = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded()) value = text;  // a bare word such as layernorm is a string

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

}  // namespace

const char* toString(NormKind n) { return n == NormKind::RmsNorm ? "rmsnorm" : "layernorm"; }
const char* toString(Activation a) { return a == Activation::SwiGlu ? "swiglu" : "gelu"; }

Deployment parseDeployment(const json& doc, const std::string& default_name) {
  JsonReader root(doc, "");
  Deployment d;
  d.name = root.string("name", default_name);
  d.seed = root.unsignedInt("seed", 0);
  d.model = readModel(root.object("model"));
  d.workload = readWorkload(root.object("workload"));
  d.strategy = root.has("strategy") ? readStrategy(root.object("strategy")) : StrategyConfig{};
  root.finish();
  checkStrategy(d);
  return d;
}

Deployment loadDeployment(const std::string& path, const std::vector<std::string>& overrides) {
  std::ifstream in(path);
  if (!in) throw ConfigError(path, "cannot open the deployment file");
  json doc;
  try {
    doc = json::parse(in);
  } catch (const json::parse_error& e) {
    // Keep nlohmann's "parse error at line L, column C: ...", less its exception id.
    const std::string what = e.what();
    const auto id_end = what.find("] ");
    throw ConfigError(
        path, "malformed JSON: " + (id_end == std::string::npos ? what : what.substr(id_end + 2)));
  }
  for (const auto& o : overrides) doc = applyOverride(std::move(doc), o);
  return parseDeployment(doc, std::filesystem::path(path).stem().string());
}

json toJson(const Deployment& d) {
  const auto& m = d.model;
  return {{"name", d.name},
          {"seed", d.seed},
          {"model",
           {{"layers", m.layers},
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
            {"causal", m.causal}}},
          {"workload",
           {{"batch_size", d.workload.batch_size},
            {"seq_len", d.workload.seq_len},
            {"dtype", dtypeName(d.workload.dtype)}}},
          {"strategy",
           {{"tp", d.strategy.tp},
            {"pp", d.strategy.pp},
            {"ep", d.strategy.ep},
            {"dp", d.strategy.dp}}}};
}

void checkWorldSize(const Deployment& d, int world_size) {
  const auto& s = d.strategy;
  if (s.worldSize() != world_size) {
    throw ConfigError("strategy", "tp*pp*dp = " + std::to_string(s.tp) + "*" +
                                      std::to_string(s.pp) + "*" + std::to_string(s.dp) + " = " +
                                      std::to_string(s.worldSize()) +
                                      " must equal the number of ranks launched (" +
                                      std::to_string(world_size) + ")");
  }
}

}  // namespace shardrt::planner
