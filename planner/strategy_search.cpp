#include "planner/strategy_search.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <sstream>
#include <tuple>

#include "common/errors.h"
#include "planner/expert_balance.h"
#include "planner/layer_partition.h"
#include "planner/memory_split.h"
#include "planner/near_ties.h"

namespace shardrt::planner {
namespace {

std::vector<int> divisors(int n) {
  std::vector<int> out;
  for (int d = 1; d <= n; ++d) {
    if (n % d == 0) out.push_back(d);
  }
  return out;
}

// Rules of the model alone; the cluster's come after.
std::string modelRuleBroken(const config::ModelConfig& m, const config::WorkloadConfig& w,
                            const PlannerOptions& o, const config::StrategyConfig& s) {
  std::ostringstream why;
  if (m.heads % s.tp) {
    why << "tp " << s.tp << " does not divide heads " << m.heads;
  } else if (m.ffn_hidden % s.tp) {
    why << "tp " << s.tp << " does not divide ffn_hidden " << m.ffn_hidden;
  } else if (m.hasMoe() && m.moe.sharedWidth() % s.tp) {
    why << "tp " << s.tp << " does not divide the shared experts' columns " << m.moe.sharedWidth();
  } else if (s.pp > m.layers) {
    why << "pp " << s.pp << " exceeds layers " << m.layers;
  } else if (!m.hasMoe() && s.ep != 1) {
    why << "ep must be 1 for a dense model";
  } else if ((s.tp * s.dp) % s.ep) {
    why << "ep " << s.ep << " does not divide tp*dp " << s.tp * s.dp;
  } else if (m.hasMoe() && s.ep > m.moe.experts) {
    why << "ep " << s.ep << " exceeds experts " << m.moe.experts;
  } else if (s.microbatches > o.max_microbatches) {
    why << "microbatches " << s.microbatches << " exceeds planner.max_microbatches "
        << o.max_microbatches;
  } else if (w.batch_size % s.microbatches || w.batch_size / s.microbatches < s.dp) {
    why << "batch " << w.batch_size << " does not give " << s.dp << " replicas whole "
        << s.microbatches << " microbatches";
  }
  return why.str();
}

std::string clusterRuleBroken(const ClusterConfig& c, const config::StrategyConfig& s) {
  std::ostringstream why;
  if (s.worldSize() != c.gpus()) {
    why << "tp*pp*dp " << s.worldSize() << " is not the cluster's " << c.gpus() << " GPUs";
    return why.str();
  }
  if (c.tp_across_nodes) return "";
  for (int first = 0; first < c.gpus(); first += s.tp) {
    if (c.nodeOf(first) != c.nodeOf(first + s.tp - 1)) {
      why << "tp " << s.tp << " puts ranks " << first << "-" << first + s.tp - 1
          << " on two nodes (cluster.tp_across_nodes is false)";
      return why.str();
    }
  }
  return "";
}

// What a plan is ranked by: smaller is better.

// Within the objective's bound, if it has one.
bool withinBound(const PlanCost& c, const Objective& o) {
  if (o.max_latency_seconds > 0.0 && c.latency_seconds > o.max_latency_seconds) return false;
  return !(o.max_time_per_output_token_seconds > 0.0 &&
           c.generation->time_per_output_token > o.max_time_per_output_token_seconds);
}

std::string gib(double bytes) {
  std::ostringstream s;
  s.precision(bytes >= 1e10 ? 0 : 2);
  s << std::fixed << bytes / (1024.0 * 1024.0 * 1024.0) << " GiB";
  return s.str();
}

}  // namespace

std::string ruleBroken(const config::ModelConfig& model, const config::WorkloadConfig& workload,
                       const ClusterConfig& cluster, const PlannerOptions& options,
                       const config::StrategyConfig& strategy) {
  const std::string why = modelRuleBroken(model, workload, options, strategy);
  return why.empty() ? clusterRuleBroken(cluster, strategy) : why;
}

std::vector<config::StrategyConfig> validStrategies(const config::ModelConfig& model,
                                                    const config::WorkloadConfig& workload,
                                                    const ClusterConfig& cluster,
                                                    const PlannerOptions& options) {
  const int gpus = cluster.gpus();
  std::vector<config::StrategyConfig> out;
  for (int tp : divisors(gpus)) {
    bool tp_fits_cluster = true;  // the same for every pp, dp, ep and m: test it once
    for (int pp : divisors(gpus / tp)) {
      const int dp = gpus / (tp * pp);
      for (int ep : divisors(tp * dp)) {
        // Beyond the batch no count gives every replica whole microbatches: a huge
        // planner.max_microbatches must not turn into a huge loop.
        const int most = std::min(options.max_microbatches, workload.batch_size);
        for (int m = 1; m <= most; ++m) {
          const config::StrategyConfig s{tp, pp, ep, dp, m};
          if (!modelRuleBroken(model, workload, options, s).empty()) continue;
          if (out.empty() || out.back().tp != tp) {
            tp_fits_cluster = clusterRuleBroken(cluster, s).empty();
          }
          if (tp_fits_cluster) out.push_back(s);
        }
      }
    }
  }
  return out;
}

Candidate buildCandidate(const PlanCostModel& costs, const config::ModelConfig& model,
                         const config::WorkloadConfig& workload, const ClusterConfig& cluster,
                         const PlannerOptions& options, const config::StrategyConfig& strategy,
                         PlacementCache* placements) {
  Candidate c;
  c.strategy = strategy;
  if (model.hasMoe()) {
    if (placements && placements->count(strategy.ep)) {
      c.expert_placement = placements->at(strategy.ep);
    } else {
      const bool measured = !options.expert_loads.empty() || options.redundant_experts > 0;
      c.expert_placement =
          (measured ? balanceExperts(costs.expertLoads(), strategy.ep, options.redundant_experts)
                    : contiguousPlacement(model.moe.experts, strategy.ep))
              .ranks;
      if (placements) (*placements)[strategy.ep] = c.expert_placement;
    }
  }
  const PlanCostModel::ExpertShares experts = costs.expertShares(c);
  const std::vector<double>& share = experts.share;
  const std::vector<int>& per_rank = experts.per_rank;

  // Dense and MoE layer times on the slowest GPU of a rank range (one per GPU kind).
  const int nominal_rows = std::max(1, workload.batch_size / (strategy.dp * strategy.microbatches));
  std::vector<std::pair<const GpuGroup*, LayerSeconds[2]>> by_group;
  auto layerTime = [&](int first, int last, bool moe) {
    const GpuGroup& g = cluster.slowestIn(first, last, workload.dtype);
    auto it = std::find_if(by_group.begin(), by_group.end(),
                           [&](const auto& x) { return x.first == &g; });
    if (it == by_group.end()) {
      by_group.emplace_back();
      it = by_group.end() - 1;
      it->first = &g;
      for (int kind = 0; kind < (model.hasMoe() ? 2 : 1); ++kind) {
        it->second[kind] =
            costs.layerSeconds(g, strategy, nominal_rows, kind == 1, false, false, share, per_rank);
      }
    }
    return it->second[moe ? 1 : 0].total();
  };
  int moe_layers = 0;
  for (int l = 0; l < model.layers; ++l) moe_layers += model.isMoeLayer(l) ? 1 : 0;
  auto modelTime = [&](int first, int last) {
    return (model.layers - moe_layers) * layerTime(first, last, false) +
           (moe_layers ? moe_layers * layerTime(first, last, true) : 0.0);
  };

  // Rows per replica in proportion to each replica's speed: its slowest stage's GPUs.
  const int stage_ranks = strategy.tp * strategy.dp;
  std::vector<double> replica_speed(strategy.dp);
  for (int r = 0; r < strategy.dp; ++r) {
    double slowest = 0.0;
    for (int st = 0; st < strategy.pp; ++st) {
      const int first = strategy.tp * (r + strategy.dp * st);
      slowest = std::max(slowest, modelTime(first, first + strategy.tp - 1));
    }
    replica_speed[r] = 1.0 / slowest;
  }
  c.dp_batch = splitRows(workload.batch_size, strategy.microbatches, replica_speed);

  // Layers over stages by predicted stage time, each stage as fast as its slowest GPU.
  std::vector<double> cost(model.layers), speed(strategy.pp), fixed(strategy.pp, 0.0);
  for (int l = 0; l < model.layers; ++l) {
    cost[l] = layerTime(0, stage_ranks - 1, model.isMoeLayer(l));
  }
  const double reference = modelTime(0, stage_ranks - 1);
  // Every stage but the last also sends each microbatch on, as the cost model prices it.
  const double sent = static_cast<double>(nominal_rows) * workload.seq_len * model.hidden *
                      static_cast<double>(dtypeSize(workload.dtype));
  for (int st = 0; st < strategy.pp; ++st) {
    const int first = st * stage_ranks;
    speed[st] = reference / modelTime(first, first + stage_ranks - 1);
    if (st + 1 == strategy.pp) continue;
    const bool same_node = cluster.nodeOf(first) == cluster.nodeOf(first + stage_ranks);
    fixed[st] =
        collectiveSeconds(Collective::SendRecv, sent, 2,
                          same_node ? cluster.groupOf(first).intra_node : cluster.inter_node);
  }
  // Within each stage's memory where that is possible; then rows within each replica's.
  c.stages = partitionLayers(cost, speed, fixed, layerMemory(costs, model, cluster, c));
  const std::vector<long> caps = replicaRowCaps(costs, cluster, c);
  if (!caps.empty())
    c.dp_batch = splitRows(workload.batch_size, strategy.microbatches, replica_speed, caps);
  return c;
}

double objectiveValue(const PlanCost& c, const Objective& o) {
  switch (o.kind) {
    case ObjectiveKind::Latency:
      return c.latency_seconds;
    case ObjectiveKind::Throughput:
      return 1.0 / c.tokens_per_second;
    case ObjectiveKind::TimeToFirstToken:
      return c.generation->time_to_first_token;
    case ObjectiveKind::TimePerOutputToken:
      return c.generation->time_per_output_token;
    case ObjectiveKind::DecodeThroughput:
      return 1.0 / c.generation->decode_tokens_per_second;
  }
  return 0.0;
}

bool betterPlan(const RankedPlan& a, const RankedPlan& b, const Objective& objective) {
  const double x = objectiveValue(a.cost, objective), y = objectiveValue(b.cost, objective);
  if (x != y) return x < y;
  const auto& s = a.candidate.strategy;
  const auto& t = b.candidate.strategy;
  return std::tie(s.tp, s.pp, s.ep, s.dp, s.microbatches) <
         std::tie(t.tp, t.pp, t.ep, t.dp, t.microbatches);
}

SearchResult searchPlans(const config::Deployment& deployment, const PlanningInput& in, int top_k) {
  const PlanCostModel costs(deployment.model, deployment.workload, in.cluster, in.options,
                            generationWorkload(in.objective));
  SearchResult result;
  const auto strategies =
      validStrategies(deployment.model, deployment.workload, in.cluster, in.options);
  result.strategies = static_cast<long>(strategies.size());
  if (strategies.empty()) {
    // Say which rule stopped the simplest splits: plain data parallelism, then tensor.
    const int gpus = in.cluster.gpus();
    const std::string dp_only = ruleBroken(deployment.model, deployment.workload, in.cluster,
                                           in.options, {1, 1, 1, gpus, 1});
    throw ConfigError("deployment", "no parallel strategy for " + std::to_string(gpus) +
                                        " GPUs satisfies the rules (e.g. tp 1 x dp " +
                                        std::to_string(gpus) + ": " + dp_only + ")");
  }
  double least_memory = -1.0, least_limit = 0.0;
  int least_gpu = 0;
  std::vector<RankedPlan> kept;
  PlacementCache placements;
  for (const auto& s : strategies) {
    RankedPlan p{buildCandidate(costs, deployment.model, deployment.workload, in.cluster,
                                in.options, s, &placements),
                 {}};
    p.cost = costs.estimate(p.candidate);
    // The plan nearest to fitting: the lowest share of its own limit on its fullest GPU.
    if (least_memory < 0.0 ||
        p.cost.max_memory_bytes * least_limit < least_memory * p.cost.max_memory_limit_bytes) {
      least_memory = p.cost.max_memory_bytes;
      least_limit = p.cost.max_memory_limit_bytes;
      least_gpu = p.cost.max_memory_gpu;
    }
    if (!p.cost.fits) continue;
    ++result.fit;
    if (!withinBound(p.cost, in.objective)) continue;
    ++result.within_bound;
    kept.push_back(std::move(p));  // every one: any may be within noise of the best
  }
  if (result.fit == 0) {
    // Weights alone, each expert once, against all usable memory: the plainest statement.
    const config::StrategyConfig whole{1, 1, 1, 1, 1};
    const double weights =
        costs.weightBytes(whole, {0, deployment.model.layers},
                          deployment.model.hasMoe() ? deployment.model.moe.experts : 0);
    double usable = 0.0;
    for (const auto& g : in.cluster.groups) {
      usable += g.gpus() * g.gpu.memory_bytes * (1.0 - in.cluster.memory_reserve);
    }
    if (weights > usable) {
      throw ConfigError(
          "cluster",
          "no plan fits: the weights need " + gib(weights) + " and the cluster has " + gib(usable) +
              " after its " +
              std::to_string(static_cast<int>(std::round(100 * in.cluster.memory_reserve))) +
              "% reserve");
    }
    throw ConfigError("cluster", "no plan fits: the nearest of " +
                                     std::to_string(result.strategies) + " strategies needs " +
                                     gib(least_memory) + " on GPU " + std::to_string(least_gpu) +
                                     " (" + in.cluster.groupOf(least_gpu).name + "), which has " +
                                     gib(least_limit) + " usable");
  }
  if (kept.empty()) {
    throw ConfigError(in.objective.max_latency_seconds > 0.0
                          ? "objective.max_latency_ms"
                          : "objective.max_time_per_output_token_ms",
                      "no plan that fits meets the bound (" + std::to_string(result.fit) +
                          " plans fit; raise the bound or the cluster)");
  }
  std::sort(kept.begin(), kept.end(),
            [&](const auto& a, const auto& b) { return betterPlan(a, b, in.objective); });
  result.ties = breakNearTies(costs, in.objective, kept);
  if (static_cast<int>(kept.size()) > top_k) kept.resize(top_k);
  result.top = std::move(kept);
  if (deployment.model.hasMoe()) {
    const int ep = result.top.front().candidate.strategy.ep;
    result.imbalance_before =
        loadImbalance(costs.expertLoads(), contiguousPlacement(deployment.model.moe.experts, ep));
  }
  return result;
}

config::Deployment withCandidate(const config::Deployment& deployment, const Candidate& candidate) {
  config::Deployment out = deployment;
  out.strategies.clear();
  out.strategy = candidate.strategy;
  out.plan = config::ExplicitPlan{};
  for (const auto& r : candidate.stages) {
    std::vector<int> layers(r.size());
    std::iota(layers.begin(), layers.end(), r.begin);
    out.plan.stage_layers.push_back(layers);
  }
  out.plan.expert_placement = candidate.expert_placement;
  out.plan.dp_batch = candidate.dp_batch;
  return out;
}

}  // namespace shardrt::planner
