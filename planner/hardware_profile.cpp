#include "planner/hardware_profile.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "common/atomic_file.h"
#include "common/errors.h"
#include "config/json_limits.h"
#include "config/json_reader.h"

namespace shardrt::planner {
namespace {

using nlohmann::json;

// Points (x, y) sorted by x, equal x merged into their mean y: two shapes of one FLOP count,
// or two runs of one size, must not make a zero-width segment.
std::vector<std::pair<double, double>> mergedByX(std::vector<std::pair<double, double>> pts) {
  std::sort(pts.begin(), pts.end());
  std::vector<std::pair<double, double>> out;
  int same = 0;
  for (const auto& p : pts) {
    if (!out.empty() && out.back().first == p.first) {
      out.back().second = (out.back().second * same + p.second) / (same + 1);
      ++same;
    } else {
      out.push_back(p);
      same = 1;
    }
  }
  return out;
}

// y at x on the polyline through pts (sorted, distinct x), for x within [front, back].
double along(const std::vector<std::pair<double, double>>& pts, double x) {
  const auto hi = std::lower_bound(pts.begin(), pts.end(), std::make_pair(x, -HUGE_VAL));
  if (hi == pts.begin()) return hi->second;
  const auto lo = hi - 1;
  const double t = (x - lo->first) / (hi->first - lo->first);
  return lo->second + t * (hi->second - lo->second);
}

std::string field(const std::string& path, const std::string& key) {
  return path.empty() ? key : path + "." + key;
}

// Takes `key` out of `obj` (so that a JsonReader over the rest never sees it), or throws.
json takeField(json& obj, const std::string& path, const std::string& key) {
  const auto it = obj.find(key);
  if (it == obj.end()) throw ConfigError(field(path, key), "required field is missing");
  json v = std::move(*it);
  obj.erase(key);
  return v;
}

double requiredPositive(config::JsonReader& r, const std::string& key) {
  if (!r.has(key)) throw ConfigError(r.field(key), "required field is missing");
  return r.positiveNumber(key, 0.0);
}

// A list of objects that may be empty (no bf16 GEMM on a CPU): each object, path "key[i]".
std::vector<std::pair<json, std::string>> objectList(json& obj, const std::string& key) {
  const json v = takeField(obj, "", key);
  if (!v.is_array()) throw ConfigError(key, "must be a list, got " + config::brief(v));
  std::vector<std::pair<json, std::string>> out;
  for (std::size_t i = 0; i < v.size(); ++i) {
    out.emplace_back(v[i], key + "[" + std::to_string(i) + "]");
  }
  return out;
}

std::vector<GemmSample> readGemms(json& doc, const std::string& key) {
  std::vector<GemmSample> out;
  for (auto& [obj, path] : objectList(doc, key)) {
    if (obj.is_object()) obj.erase("gflops");  // for people reading the file; derived
    config::JsonReader s(obj, path);
    GemmSample g;
    g.m = s.positiveInt("m");
    g.n = s.positiveInt("n");
    g.k = s.positiveInt("k");
    g.seconds = requiredPositive(s, "seconds");
    s.finish();
    out.push_back(g);
  }
  return out;
}

std::vector<AttentionSample> readAttention(json& doc, const std::string& key) {
  std::vector<AttentionSample> out;
  for (auto& [obj, path] : objectList(doc, key)) {
    if (obj.is_object()) obj.erase("gflops");  // derived, for people reading the file
    config::JsonReader s(obj, path);
    AttentionSample a;
    a.batch = s.positiveInt("batch");
    a.seq = s.positiveInt("seq");
    a.heads = s.positiveInt("heads");
    a.head_dim = s.positiveInt("head_dim");
    a.seconds = requiredPositive(s, "seconds");
    s.finish();
    out.push_back(a);
  }
  return out;
}

std::map<std::string, double> readElementwise(json& doc, const std::string& key) {
  const json v = takeField(doc, "", key);
  if (!v.is_object()) throw ConfigError(key, "must be an object of op: bytes per second");
  std::map<std::string, double> out;
  config::JsonReader r(v, key);
  for (const char* op : {"rmsnorm", "layernorm", "rope", "swiglu", "gelu", "add"}) {
    if (r.has(op)) out[op] = r.positiveNumber(op);
  }
  r.finish();
  return out;
}

json attentionJson(const std::vector<AttentionSample>& samples) {
  json out = json::array();
  for (const auto& a : samples) {
    out.push_back({{"batch", a.batch},
                   {"seq", a.seq},
                   {"heads", a.heads},
                   {"head_dim", a.head_dim},
                   {"seconds", a.seconds},
                   {"gflops", a.flops() / a.seconds / 1e9}});
  }
  return out;
}

json ratesJson(const std::map<std::string, double>& rates) {
  json out = json::object();
  for (const auto& [op, rate] : rates) out[op] = rate;
  return out;
}

// Rate at log(flops) on the polyline through (log FLOPs, FLOP/s) points, clamped at the ends.
double rateAt(std::vector<std::pair<double, double>> pts, double flops) {
  pts = mergedByX(std::move(pts));
  const double x = std::clamp(std::log(flops), pts.front().first, pts.back().first);
  return along(pts, x);
}

json gemmsJson(const std::vector<GemmSample>& samples) {
  json out = json::array();
  for (const auto& g : samples) {
    out.push_back({{"m", g.m},
                   {"n", g.n},
                   {"k", g.k},
                   {"seconds", g.seconds},
                   {"gflops", g.flopsPerSecond() / 1e9}});
  }
  return out;
}

HardwareProfile parse(json doc) {
  if (!doc.is_object())
    throw ConfigError("profile", "must be a JSON object, got " + config::brief(doc));
  HardwareProfile p;
  p.gemm_fp32 = readGemms(doc, "gemm_fp32");
  p.gemm_bf16 = readGemms(doc, "gemm_bf16");
  p.attention_fp32 = readAttention(doc, "attention_fp32");
  p.attention_bf16 = readAttention(doc, "attention_bf16");
  p.elementwise_fp32 = readElementwise(doc, "elementwise_fp32");
  p.elementwise_bf16 = readElementwise(doc, "elementwise_bf16");
  for (auto& [obj, path] : objectList(doc, "collectives")) {
    config::JsonReader s(obj, path);
    CollectiveSample c;
    c.op = s.oneOf("op", {"all_reduce", "all_gather", "reduce_scatter", "all_to_all", "send_recv"});
    c.ranks = s.positiveInt("ranks");
    if (c.ranks < 2) throw ConfigError(s.field("ranks"), "must be at least 2, got 1");
    c.bytes = requiredPositive(s, "bytes");
    c.seconds = requiredPositive(s, "seconds");
    s.finish();
    p.collectives.push_back(c);
  }
  config::JsonReader r(doc, "");  // what is left: the scalar fields
  p.machine = r.string("machine");
  p.date = r.string("date");
  p.backend = r.oneOf("backend", {"cpu", "cuda"});
  p.ranks = r.positiveInt("ranks");
  p.memory_bytes_per_second = requiredPositive(r, "memory_bytes_per_second");
  p.op_overhead_seconds = requiredPositive(r, "op_overhead_seconds");
  // Optional: profiles from before generation lack them, a CPU has no bf16 rate.
  for (auto [field, value] : {std::pair{"gemm_stream_fp32", &p.gemm_stream_fp32},
                              std::pair{"gemm_stream_bf16", &p.gemm_stream_bf16},
                              std::pair{"cached_attention_fp32", &p.cached_attention_fp32},
                              std::pair{"cached_attention_bf16", &p.cached_attention_bf16}}) {
    if (r.has(field)) *value = requiredPositive(r, field);
  }
  r.finish();
  return p;
}

}  // namespace

double profiledGemmSeconds(const HardwareProfile& profile, DType dtype, double m, double n,
                           double k) {
  const double flops = 2.0 * m * n * k;
  if (profile.gemm(dtype).empty() || !(flops > 0.0)) return 0.0;
  std::vector<std::pair<double, double>> pts;  // (log FLOPs, FLOP/s)
  for (const auto& g : profile.gemm(dtype))
    pts.emplace_back(std::log(2.0 * g.m * g.n * g.k), g.flopsPerSecond());
  return flops / rateAt(std::move(pts), flops);
}

double profiledAttentionSeconds(const HardwareProfile& profile, DType dtype, double flops) {
  if (profile.attention(dtype).empty() || !(flops > 0.0)) return 0.0;
  std::vector<std::pair<double, double>> pts;
  for (const auto& a : profile.attention(dtype))
    pts.emplace_back(std::log(a.flops()), a.flops() / a.seconds);
  return flops / rateAt(std::move(pts), flops);
}

double profiledElementwiseSeconds(const HardwareProfile& profile, DType dtype,
                                  const std::string& op, double bytes) {
  const auto it = profile.elementwise(dtype).find(op);
  return it == profile.elementwise(dtype).end() ? 0.0 : bytes / it->second;
}

double profiledCollectiveSeconds(const HardwareProfile& profile, const std::string& op, int ranks,
                                 double bytes) {
  std::vector<std::pair<double, double>> pts;  // (bytes, seconds)
  for (const auto& c : profile.collectives) {
    if (c.op == op && c.ranks == ranks) pts.emplace_back(c.bytes, c.seconds);
  }
  if (pts.empty()) return -1.0;
  pts = mergedByX(std::move(pts));
  // Below the smallest size the time is latency, which a smaller message does not shrink.
  if (bytes <= pts.front().first) return pts.front().second;
  if (bytes <= pts.back().first) return along(pts, bytes);
  if (pts.size() == 1) return pts.back().second * bytes / pts.back().first;
  // Beyond the largest: the last segment's slope, never falling (noise can make it negative).
  const auto& [x0, y0] = pts[pts.size() - 2];
  const auto& [x1, y1] = pts.back();
  return y1 + std::max(0.0, (y1 - y0) / (x1 - x0)) * (bytes - x1);
}

namespace {

HardwareProfile parseNaming(const json& doc, const std::string& source) {
  try {
    return parse(doc);
  } catch (const ConfigError& e) {
    throw ConfigError(source + ": " + e.field(), e.rule());
  }
}

}  // namespace

HardwareProfile loadHardwareProfile(const std::string& path) {
  return parseNaming(config::readJsonFile(path, "hardware profile"), path);
}

HardwareProfile parseHardwareProfile(std::string_view text, const std::string& source) {
  return parseNaming(config::parseJsonLimited(text, source), source);
}

void writeHardwareProfile(const HardwareProfile& profile, const std::string& path) {
  json collectives = json::array();
  for (const auto& c : profile.collectives) {
    collectives.push_back(
        {{"op", c.op}, {"ranks", c.ranks}, {"bytes", c.bytes}, {"seconds", c.seconds}});
  }
  json doc = {{"machine", profile.machine},
              {"date", profile.date},
              {"backend", profile.backend},
              {"ranks", profile.ranks},
              {"gemm_fp32", gemmsJson(profile.gemm_fp32)},
              {"gemm_bf16", gemmsJson(profile.gemm_bf16)},
              {"attention_fp32", attentionJson(profile.attention_fp32)},
              {"attention_bf16", attentionJson(profile.attention_bf16)},
              {"elementwise_fp32", ratesJson(profile.elementwise_fp32)},
              {"elementwise_bf16", ratesJson(profile.elementwise_bf16)},
              {"memory_bytes_per_second", profile.memory_bytes_per_second},
              {"op_overhead_seconds", profile.op_overhead_seconds},
              {"collectives", collectives}};
  for (auto [field, value] : {std::pair{"gemm_stream_fp32", profile.gemm_stream_fp32},
                              std::pair{"gemm_stream_bf16", profile.gemm_stream_bf16},
                              std::pair{"cached_attention_fp32", profile.cached_attention_fp32},
                              std::pair{"cached_attention_bf16", profile.cached_attention_bf16}}) {
    if (value > 0.0) doc[field] = value;
  }
  try {
    writeFileAtomically(path, [&](std::ostream& out) { out << doc.dump(2) << "\n"; });
  } catch (const FileWriteError& e) {
    throw ConfigError(path, std::string("cannot write the hardware profile (") + e.what() + ")");
  }
}

}  // namespace shardrt::planner
