#include "planner/cluster.h"

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "common/errors.h"
#include "config/deployment.h"
#include "config/json_limits.h"
#include "config/json_reader.h"

namespace shardrt::planner {
namespace {

using nlohmann::json;

// Files speak the units of datasheets (GiB, TFLOP/s, GB/s, microseconds); the planner, SI.
constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;
constexpr double kTera = 1e12;
constexpr double kGiga = 1e9;
constexpr double kMicro = 1e-6;

// A positive number in the datasheet unit the key names, refused above `most` with a hint at
// the unit it was probably given in: the planner would otherwise accept 8.6e10 "GiB" (bytes)
// and plan for a GPU of 80 EiB (issue 18, item 4).
double plausible(config::JsonReader& r, const char* key, double most, const char* hint) {
  const double x = r.positiveNumber(key);
  if (x > most) {
    char what[80];
    std::snprintf(what, sizeof what, "is %g, above %g: ", x, most);
    throw ConfigError(r.field(key), what + std::string(hint));
  }
  return x;
}

double shareOf(config::JsonReader& r, const char* key, double fallback) {
  const double x = r.positiveNumber(key, fallback);
  if (x > 1.0)
    throw ConfigError(r.field(key), "must be a share in (0, 1], got " + std::to_string(x));
  return x;
}

LinkRates readLink(config::JsonReader r) {
  LinkRates link;
  link.bytes_per_second =
      plausible(r, "bandwidth_gbps", 1e4,
                "GB/s (10^9 bytes) per GPU per direction; no link is faster than 10 TB/s (a "
                "figure in Gbit/s is 8 times the GB/s)") *
      kGiga;
  link.latency_seconds = r.positiveNumber("latency_us") * kMicro;
  r.finish();
  return link;
}

GpuSpec readGpu(config::JsonReader r, const std::string& base_dir) {
  GpuSpec g;
  g.memory_bytes = plausible(r, "memory_gib", 16384,
                             "GiB per GPU (80 for an 80 GB GPU), not bytes; no GPU holds 16 TiB") *
                   kGiB;
  if (r.has("profile")) {
    const std::filesystem::path path(r.string("profile"));
    g.profile =
        loadHardwareProfile(path.is_absolute() ? path.string() : (base_dir / path).string());
  }
  // A profile measures the rates; without one the datasheet's must be given.
  const bool need = !g.profile.has_value();
  auto rate = [&](const char* key, double unit, double most, const char* hint) {
    return need || r.has(key) ? plausible(r, key, most, hint) * unit : 0.0;
  };
  const char* tflops = "TFLOP/s (10^12), not FLOP/s; no GPU reaches 10^5 TFLOP/s";
  g.flops_fp32 = rate("fp32_tflops", kTera, 1e5, tflops);
  g.flops_bf16 = rate("bf16_tflops", kTera, 1e5, tflops);
  g.memory_bytes_per_second =
      rate("memory_bandwidth_gbps", kGiga, 1e5,
           "GB/s (10^9 bytes); no GPU's memory moves 100 TB/s (a figure in Gbit/s is 8 times "
           "the GB/s)");
  g.gemm_efficiency = shareOf(r, "gemm_efficiency", g.gemm_efficiency);
  g.memory_efficiency = shareOf(r, "memory_efficiency", g.memory_efficiency);
  r.finish();
  return g;
}

// The link's latency from the smallest measured send/recv, its bandwidth from the largest.
LinkRates linkFromProfile(const HardwareProfile& p, const std::string& field) {
  const CollectiveSample* small = nullptr;
  const CollectiveSample* large = nullptr;
  for (const auto& c : p.collectives) {
    if (c.op != "send_recv") continue;
    if (!small || c.bytes < small->bytes) small = &c;
    if (!large || c.bytes > large->bytes) large = &c;
  }
  if (!small || large->bytes <= small->bytes || large->seconds <= small->seconds) {
    throw ConfigError(field,
                      "is required: the group's profile measured no send_recv sizes to "
                      "derive it from");
  }
  return {(large->bytes - small->bytes) / (large->seconds - small->seconds), small->seconds};
}

GpuGroup readGroup(config::JsonReader r, const std::string& base_dir) {
  GpuGroup group;
  group.name = r.string("name", "gpu");
  group.nodes = r.positiveInt("nodes", 1);
  group.gpus_per_node = r.positiveInt("gpus_per_node");
  // gpus() multiplies the two in int: a pair past int must be refused before anything calls
  // it (readCluster refuses more than 2^20 GPUs in all, but after gpus()).
  if (static_cast<long long>(group.nodes) * group.gpus_per_node > INT_MAX) {
    throw ConfigError(r.field("nodes"),
                      "nodes * gpus_per_node is more than 2^20 GPUs: not a "
                      "cluster this planner plans for");
  }
  group.gpu = readGpu(r.object("gpu"), base_dir);
  if (r.has("intra_node") || !group.gpu.profile) {
    group.intra_node = readLink(r.object("intra_node"));
  } else {
    group.intra_node = linkFromProfile(*group.gpu.profile, r.field("intra_node"));
  }
  r.finish();
  return group;
}

ClusterConfig readCluster(config::JsonReader r, const std::string& base_dir) {
  ClusterConfig c;
  long total = 0;
  for (config::JsonReader g : r.objects("groups")) {
    c.groups.push_back(readGroup(g, base_dir));
    total += static_cast<long>(c.groups.back().gpus());
    if (total > (1L << 20)) {
      throw ConfigError(r.field("groups"),
                        "more than 2^20 GPUs in all: not a cluster this "
                        "planner plans for");
    }
  }
  // One node needs no inter-node link; several do.
  const bool multi_node = total > c.groups[0].gpus_per_node || c.groups.size() > 1;
  if (multi_node || r.has("inter_node")) c.inter_node = readLink(r.object("inter_node"));
  c.tp_across_nodes = r.boolean("tp_across_nodes", false);
  if (r.has("memory_reserve")) {
    const auto& v = r.positiveNumber("memory_reserve", 0.1);
    if (v >= 1.0) {
      throw ConfigError(r.field("memory_reserve"),
                        "must be a share below 1, got " + std::to_string(v));
    }
    c.memory_reserve = v;
  }
  r.finish();
  return c;
}

Objective readObjective(config::JsonReader r) {
  Objective o;
  const std::string kind = r.oneOf("optimize",
                                   {"latency", "throughput", "time_to_first_token",
                                    "time_per_output_token", "decode_throughput"},
                                   "latency");
  o.kind = kind == "latency"                 ? ObjectiveKind::Latency
           : kind == "throughput"            ? ObjectiveKind::Throughput
           : kind == "time_to_first_token"   ? ObjectiveKind::TimeToFirstToken
           : kind == "time_per_output_token" ? ObjectiveKind::TimePerOutputToken
                                             : ObjectiveKind::DecodeThroughput;
  if (r.has("max_latency_ms")) {
    if (o.kind != ObjectiveKind::Throughput) {
      throw ConfigError(r.field("max_latency_ms"),
                        "is a bound on throughput plans: set optimize to throughput");
    }
    o.max_latency_seconds = r.positiveNumber("max_latency_ms") * 1e-3;
  }
  if (r.has("max_time_per_output_token_ms")) {
    if (o.kind != ObjectiveKind::DecodeThroughput) {
      throw ConfigError(r.field("max_time_per_output_token_ms"),
                        "is a bound on decode_throughput plans: set optimize to "
                        "decode_throughput");
    }
    o.max_time_per_output_token_seconds = r.positiveNumber("max_time_per_output_token_ms") * 1e-3;
  }
  for (const char* field : {"prompt_tokens", "new_tokens"}) {
    if (!o.generation() && r.has(field)) {
      throw ConfigError(r.field(field),
                        "describes generation: set optimize to "
                        "time_to_first_token, time_per_output_token or "
                        "decode_throughput");
    }
    if (o.generation() && !r.has(field)) {
      throw ConfigError(r.field(field), "is required by optimize " + kind +
                                            " (the requests' prompt and new tokens)");
    }
  }
  if (o.generation()) {
    o.prompt_tokens = r.positiveInt("prompt_tokens");
    o.new_tokens = r.positiveInt("new_tokens");
  }
  r.finish();
  return o;
}

std::vector<double> readLoads(const json& v, const std::string& where, int experts) {
  if (!v.is_array() || static_cast<int>(v.size()) != experts) {
    throw ConfigError(where, "must list one load per expert (" + std::to_string(experts) + ")");
  }
  std::vector<double> loads;
  double sum = 0.0;
  for (const auto& x : v) {
    if (!x.is_number() || !(x.get<double>() >= 0.0) || !std::isfinite(x.get<double>())) {
      throw ConfigError(where, "loads must be non-negative numbers, got " + config::brief(x));
    }
    loads.push_back(x.get<double>());
    sum += loads.back();
  }
  if (!(sum > 0.0)) throw ConfigError(where, "loads must not all be zero");
  for (double& x : loads) x /= sum;  // shares: the file may give token counts
  return loads;
}

PlannerOptions readOptions(config::JsonReader r, int moe_layers, int experts) {
  PlannerOptions o;
  o.max_microbatches = r.positiveInt("max_microbatches", o.max_microbatches);
  o.redundant_experts = r.nonNegativeInt("redundant_experts", 0);
  if (r.has("expert_loads")) {
    const std::string where = r.field("expert_loads");
    if (experts == 0) throw ConfigError(where, "the model has no experts");
    const json& v = r.value("expert_loads");
    if (v.is_array() && !v.empty() && v[0].is_array()) {
      if (static_cast<int>(v.size()) != moe_layers) {
        throw ConfigError(where, "must hold one list for all MoE layers or one per MoE layer (" +
                                     std::to_string(moe_layers) + "), got " +
                                     std::to_string(v.size()));
      }
      for (std::size_t i = 0; i < v.size(); ++i) {
        o.expert_loads.push_back(readLoads(v[i], where + "[" + std::to_string(i) + "]", experts));
      }
    } else {
      o.expert_loads.push_back(readLoads(v, where, experts));
    }
  }
  if (o.redundant_experts > 0 && experts == 0) {
    throw ConfigError(r.field("redundant_experts"), "must be 0: the model has no experts");
  }
  r.finish();
  return o;
}

}  // namespace

double GpuSpec::gemmRate(DType dtype) const {
  if (profile && !profile->gemm(dtype).empty()) {
    double best = 0.0;
    for (const auto& g : profile->gemm(dtype)) best = std::max(best, g.flopsPerSecond());
    return best;
  }
  return peakFlops(dtype) * gemm_efficiency;
}

int ClusterConfig::gpus() const {
  int n = 0;
  for (const auto& g : groups) n += g.gpus();
  return n;
}

const GpuGroup& ClusterConfig::groupOf(int world_rank) const {
  for (const auto& g : groups) {
    if (world_rank < g.gpus()) return g;
    world_rank -= g.gpus();
  }
  throw std::out_of_range("ClusterConfig::groupOf: rank beyond the cluster");
}

int ClusterConfig::gpusPerNode(int world_rank) const { return groupOf(world_rank).gpus_per_node; }

int ClusterConfig::nodeOf(int world_rank) const {
  int node = 0;
  for (const auto& g : groups) {
    if (world_rank < g.gpus()) return node + world_rank / g.gpus_per_node;
    world_rank -= g.gpus();
    node += g.nodes;
  }
  throw std::out_of_range("ClusterConfig::nodeOf: rank beyond the cluster");
}

const GpuGroup& ClusterConfig::slowestIn(int first, int last, DType dtype) const {
  const GpuGroup* slowest = nullptr;
  int begin = 0;  // groups are contiguous rank ranges, in order
  for (const auto& g : groups) {
    const int end = begin + g.gpus();
    if (begin <= last && first < end) {
      if (!slowest || g.gpu.gemmRate(dtype) < slowest->gpu.gemmRate(dtype)) {
        slowest = &g;
      }
    }
    begin = end;
  }
  if (!slowest) throw std::out_of_range("ClusterConfig::slowestIn: ranks beyond the cluster");
  return *slowest;
}

PlanningInput parsePlanningInput(const json& doc, const std::string& base_dir, int moe_layers,
                                 int experts) {
  config::JsonReader root(doc, "");
  PlanningInput in;
  in.cluster = readCluster(root.object("cluster"), base_dir);
  if (root.has("objective")) in.objective = readObjective(root.object("objective"));
  if (root.has("planner")) in.options = readOptions(root.object("planner"), moe_layers, experts);
  return in;  // the other sections are the deployment's: parseDeployment reads them
}

std::optional<PlanningInput> planningInputOf(const json& doc, const std::string& base_dir,
                                             const config::Deployment& deployment) {
  if (!doc.is_object() || !doc.contains("cluster")) return std::nullopt;
  int moe_layers = 0;
  for (int l = 0; l < deployment.model.layers; ++l)
    moe_layers += deployment.model.isMoeLayer(l) ? 1 : 0;
  PlanningInput in = parsePlanningInput(doc, base_dir, moe_layers, deployment.model.moe.experts);
  const Objective& o = in.objective;
  if (o.generation()) {  // what `shardrt generate` would refuse, refused here too
    const int context = deployment.workload.seq_len;
    if (o.prompt_tokens + o.new_tokens > context) {
      throw ConfigError("objective.new_tokens",
                        "prompt_tokens + new_tokens (" + std::to_string(o.prompt_tokens) + " + " +
                            std::to_string(o.new_tokens) +
                            ") must fit the KV cache's context, workload.seq_len (" +
                            std::to_string(context) + ")");
    }
    if (deployment.model.vocab <= 0) {
      throw ConfigError("objective.optimize",
                        "generation needs the model's vocabulary: set model.vocab_size");
    }
    if (!deployment.model.causal) {
      throw ConfigError("objective.optimize", "generation needs a causal model (model.causal)");
    }
  }
  return in;
}

}  // namespace shardrt::planner
