#include "planner/plan_cost.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "planner/expert_balance.h"

namespace shardrt::planner {
namespace {

// Without a profile: what one launched op costs however small it is (a CUDA kernel launch
// and its scheduling are a few microseconds), and the share of the peak an attention kernel
// reaches (FlashAttention-2 reports 50-73% of peak forward on A100: Dao, 2023; 0.5 leaves
// room for less tuned kernels).
constexpr double kDefaultOpOverhead = 5e-6;
constexpr double kAttentionShareOfPeak = 0.5;

const char* profileName(Collective op) {
  switch (op) {
    case Collective::AllReduce:
      return "all_reduce";
    case Collective::AllGather:
      return "all_gather";
    case Collective::ReduceScatter:
      return "reduce_scatter";
    case Collective::AllToAll:
      return "all_to_all";
    case Collective::SendRecv:
      return "send_recv";
  }
  return "";
}

}  // namespace

PlanCostModel::PlanCostModel(const config::ModelConfig& model,
                             const config::WorkloadConfig& workload, const ClusterConfig& cluster,
                             const PlannerOptions& options, GenerationWorkload generation)
    : model_(model),
      workload_(workload),
      cluster_(cluster),
      dtype_bytes_(static_cast<double>(dtypeSize(workload.dtype))),
      generation_(generation) {
  if (!model.hasMoe()) return;
  loads_.assign(model.moe.experts, 1.0 / model.moe.experts);
  if (options.expert_loads.empty()) return;
  // One placement serves every MoE layer: it balances their mean load.
  std::fill(loads_.begin(), loads_.end(), 0.0);
  for (const auto& layer : options.expert_loads) {
    for (int e = 0; e < model.moe.experts; ++e) loads_[e] += layer[e] / options.expert_loads.size();
  }
}

double PlanCostModel::gemm(const GpuSpec& gpu, double m, double n, double k, double bytes) const {
  if (m <= 0.0 || n <= 0.0 || k <= 0.0) return 0.0;
  if (gpu.profile && !gpu.profile->gemm(workload_.dtype).empty()) {
    double t = profiledGemmSeconds(*gpu.profile, workload_.dtype, m, n, k);
    // A GEMM of few rows (a decode step's) is bound by reading its weights, which the samples'
    // FLOP rate does not see: the measured streaming rate floors it.
    const double stream = gpu.profile->gemmStream(workload_.dtype);
    if (stream > 0.0) t = std::max(t, bytes / stream);
    return t + overhead(gpu);
  }
  const DeviceRates rates{gpu.peakFlops(workload_.dtype) * gpu.gemm_efficiency,
                          gpu.memory_bytes_per_second * gpu.memory_efficiency};
  return opSeconds(2.0 * m * n * k, bytes, rates) + overhead(gpu);
}

double PlanCostModel::memory(const GpuSpec& gpu, double bytes, const char* op) const {
  if (gpu.profile) {
    const double measured =
        op ? profiledElementwiseSeconds(*gpu.profile, workload_.dtype, op, bytes) : 0.0;
    if (measured > 0.0) return measured + overhead(gpu);
    if (gpu.profile->memory_bytes_per_second > 0.0) {
      return bytes / gpu.profile->memory_bytes_per_second + overhead(gpu);
    }
  }
  return bytes / (gpu.memory_bytes_per_second * gpu.memory_efficiency) + overhead(gpu);
}

double PlanCostModel::attention(const GpuSpec& gpu, double flops, double bytes) const {
  if (gpu.profile) {
    const double measured = profiledAttentionSeconds(*gpu.profile, workload_.dtype, flops);
    if (measured > 0.0) return measured + overhead(gpu);
  }
  const double rate = gpu.peakFlops(workload_.dtype) * kAttentionShareOfPeak;
  return opSeconds(flops, bytes, {rate, gpu.memory_bytes_per_second * gpu.memory_efficiency}) +
         overhead(gpu);
}

double PlanCostModel::overhead(const GpuSpec& gpu) const {
  return gpu.profile ? gpu.profile->op_overhead_seconds : kDefaultOpOverhead;
}

double PlanCostModel::collective(const GpuGroup& group, Collective op, double bytes, int ranks,
                                 bool spans_nodes) const {
  if (ranks <= 1 || bytes <= 0.0) return 0.0;
  if (!spans_nodes && group.gpu.profile) {
    const double measured =
        profiledCollectiveSeconds(*group.gpu.profile, profileName(op), ranks, bytes);
    if (measured >= 0.0) return measured;
  }
  if (!spans_nodes) return collectiveSeconds(op, bytes, ranks, group.intra_node);
  const int per_node = std::min(ranks, group.gpus_per_node);
  if (op == Collective::AllReduce && ranks % per_node == 0) {
    return hierarchicalAllReduceSeconds(bytes, per_node, ranks / per_node, group.intra_node,
                                        cluster_.inter_node);
  }
  // Other collectives across nodes: a ring runs at the pace of its slowest link.
  return collectiveSeconds(op, bytes, ranks, cluster_.inter_node);
}

LayerSeconds PlanCostModel::layerSeconds(const GpuGroup& group,
                                         const config::StrategyConfig& strategy, int rows, bool moe,
                                         bool tp_spans_nodes, bool ep_spans_nodes,
                                         const std::vector<double>& rank_share,
                                         const std::vector<int>& experts_per_rank) const {
  return passSeconds(group, strategy, forwardPass(strategy, rows), moe, tp_spans_nodes,
                     ep_spans_nodes, rank_share, experts_per_rank);
}

LayerPass PlanCostModel::forwardPass(const config::StrategyConfig& strategy, double rows) const {
  const auto& m = model_;
  const double seq = workload_.seq_len;
  const double hq = static_cast<double>(m.heads) / strategy.tp;
  const double hkv = config::kvHeadsFor({0, m.heads / strategy.tp}, m.groupSize()).size();
  LayerPass pass;
  pass.tokens = rows * seq;  // tokens of the microbatch
  const double pairs = m.causal ? seq * (seq + 1) / 2 : seq * seq;
  pass.attention_flops = 4.0 * rows * hq * m.head_dim * pairs;
  // q, k, v and the output, read and written once
  pass.attention_bytes = pass.tokens * (2 * hq + 2 * hkv) * m.head_dim * dtype_bytes_;
  return pass;
}

std::vector<PricedOp> PlanCostModel::rankOps(const Candidate& candidate, int rank) const {
  const config::StrategyConfig& s = candidate.strategy;
  const int stage_ranks = s.tp * s.dp;
  const int stage = rank / stage_ranks, replica = (rank % stage_ranks) / s.tp;
  const double rows = static_cast<double>(candidate.dp_batch.at(replica)) / s.microbatches;
  LayerPass p = forwardPass(s, rows);
  if (model_.hasMoe()) {
    const ExpertShares experts = expertShares(candidate);
    const int ep_rank = (rank % stage_ranks) % s.ep;
    p = onEpRank(p, s, experts.share.at(ep_rank), experts.per_rank.at(ep_rank));
  }
  std::vector<PricedOp> ops;
  for (int l = candidate.stages.at(stage).begin; l < candidate.stages.at(stage).end; ++l) {
    for (PricedOp& op : layerOps(model_, s, workload_.dtype, p, model_.isMoeLayer(l), l))
      ops.push_back(std::move(op));
  }
  if (stage + 1 == s.pp) {
    ops.push_back(finalNormOp(model_, workload_.dtype, p.tokens));
  } else {
    ops.push_back(stageSendOp(model_, workload_.dtype, p.tokens));
  }
  return ops;
}

LayerSeconds PlanCostModel::passSeconds(const GpuGroup& group,
                                        const config::StrategyConfig& strategy,
                                        const LayerPass& pass, bool moe, bool tp_spans_nodes,
                                        bool ep_spans_nodes, const std::vector<double>& rank_share,
                                        const std::vector<int>& experts_per_rank) const {
  if (!moe) {
    return priceOps(group, layerOps(model_, strategy, workload_.dtype, pass, false, -1),
                    tp_spans_nodes, ep_spans_nodes);
  }
  // A MoE layer on each ep rank (its slots and the rows its experts receive); the slowest
  // sets the pace, as every rank waits for it in the all-to-alls. Ranks of equal rows and
  // slots are priced once.
  LayerSeconds slowest;
  std::vector<std::pair<double, int>> priced;
  for (int r = 0; r < strategy.ep; ++r) {
    const double share = rank_share.empty() ? 1.0 / strategy.ep : rank_share[r];
    const int local =
        experts_per_rank.empty() ? model_.moe.experts / strategy.ep : experts_per_rank[r];
    if (std::find(priced.begin(), priced.end(), std::make_pair(share, local)) != priced.end())
      continue;
    priced.emplace_back(share, local);
    const LayerPass p = onEpRank(pass, strategy, share, local);
    const LayerSeconds t = priceOps(group, layerOps(model_, strategy, workload_.dtype, p, true, -1),
                                    tp_spans_nodes, ep_spans_nodes);
    if (t.total() > slowest.total()) slowest = t;
  }
  return slowest;
}

LayerPass PlanCostModel::onEpRank(LayerPass p, const config::StrategyConfig& strategy, double share,
                                  int local) const {
  // Each rank sends its tp share's slots; the group's slots land on the experts by load.
  p.sent_slots = p.tokens / strategy.tp * model_.moe.top_k;
  p.self_share = share;
  p.received_rows = p.sent_slots * strategy.ep * share;
  p.local_experts = local;
  p.active_experts = activeExperts(local, p.received_rows);
  return p;
}

LayerSeconds PlanCostModel::priceOps(const GpuGroup& group, const std::vector<PricedOp>& ops,
                                     bool tp_spans_nodes, bool ep_spans_nodes) const {
  const GpuSpec& g = group.gpu;
  LayerSeconds out;
  for (const PricedOp& op : ops) {
    switch (op.cls) {
      case OpClass::Gemm:
        out.compute += op.count * gemm(g, op.m, op.n, op.k, op.bytes);
        break;
      case OpClass::Memory:
        out.compute += op.count * memory(g, op.bytes, op.rate);
        break;
      case OpClass::Attention:
        out.compute += attention(g, op.flops, op.bytes);
        break;
      case OpClass::CachedAttention: {
        // Bound by its FLOPs (a prefill) or by reading the cache (a decode step).
        double t = attention(g, op.flops, 0.0);
        const double rate = g.profile ? g.profile->cachedAttention(workload_.dtype) : 0.0;
        t = std::max(t, rate > 0.0 ? op.bytes / rate + overhead(g) : memory(g, op.bytes));
        out.compute += t;
        break;
      }
      case OpClass::Collective: {
        const bool spans = op.group == "tp" ? tp_spans_nodes : op.group == "ep" && ep_spans_nodes;
        out.comm += collective(group, op.collective, op.size, op.ranks, spans);
        break;
      }
    }
  }
  return out;
}

double PlanCostModel::weightBytes(const config::StrategyConfig& strategy, config::Range layers,
                                  int local_experts) const {
  const auto& m = model_;
  const double H = m.hidden, hd = m.head_dim;
  const double hq = static_cast<double>(m.heads) / strategy.tp;
  const double hkv = config::kvHeadsFor({0, m.heads / strategy.tp}, m.groupSize()).size();
  const double mats = m.activation == config::Activation::SwiGlu ? 3 : 2;
  double elements = 0.0;
  double fp32_bytes = 0.0;  // weights kept in fp32 whatever the dtype
  for (int l = layers.begin; l < layers.end; ++l) {
    const auto& a = m.mla;
    if (a.on()) {  // latent attention: q (or its latent), the kv latent, up-projections, o
      elements += a.q_rank > 0 ? H * a.q_rank + a.q_rank + a.q_rank * hq * hd : H * hq * hd;
      elements += H * (a.kv_rank + a.rope_dim) + a.kv_rank +
                  a.kv_rank * hq * (a.nope_dim + a.v_dim) + H * hq * a.v_dim + 2 * H;
    } else {
      elements += 2 * H * hq * hd + 2 * H * hkv * hd + 2 * H;  // q, o, k, v, two norms
    }
    if (m.qkv_bias) elements += (hq + 2 * hkv) * hd;  // Qwen2's q/k/v biases
    if (m.qk_norm) elements += 2 * hd;                // Qwen3's q_norm, k_norm
    if (!m.isMoeLayer(l)) {
      elements += mats * H * m.ffn_hidden / strategy.tp;
      continue;
    }
    elements += H * m.moe.experts + local_experts * mats * H * m.moe.expert_ffn_hidden;
    elements += mats * H * m.moe.sharedWidth() / strategy.tp;
    if (m.moe.shared_gate) elements += H;  // Qwen2-MoE's shared_expert_gate, on every rank
    if (m.moe.choice_bias) fp32_bytes += 4.0 * m.moe.experts;  // e_score_correction_bias
  }
  return elements * dtype_bytes_ + fp32_bytes;
}

double PlanCostModel::tokenActivationBytes(const config::StrategyConfig& strategy, double tokens,
                                           double expert_imbalance) const {
  const auto& m = model_;
  const double T = tokens;
  const double H = m.hidden, hd = m.head_dim;
  const double hq = static_cast<double>(m.heads) / strategy.tp;
  const double hkv = config::kvHeadsFor({0, m.heads / strategy.tp}, m.groupSize()).size();
  // The executor's buffers of one pass: hidden-sized ones, q/k/v and attention output, the
  // MLP's columns, the MoE exchange buffers.
  double ffn_columns = static_cast<double>(m.ffn_hidden) / strategy.tp;
  if (m.hasMoe()) ffn_columns = std::max(ffn_columns, 1.0 * m.moe.expert_ffn_hidden);
  double elements = T * (4 * H + (2 * hq + 2 * hkv) * hd + 3 * ffn_columns);
  if (m.mla.on()) {  // the latents, the rotary key, the up-projected kv, the kept values
    const auto& a = m.mla;
    elements +=
        T * (a.q_rank + 2 * a.kv_rank + 2 * a.rope_dim + hq * (a.nope_dim + 2 * a.v_dim + hd));
  }
  if (m.hasMoe())
    elements += 4 * T / strategy.tp * m.moe.top_k * H * expert_imbalance + T * m.moe.experts;
  return elements * dtype_bytes_;
}

double PlanCostModel::activationBytes(const config::StrategyConfig& strategy, int rows,
                                      int replica_rows, double expert_imbalance) const {
  // One microbatch's pass, and the replica's input and output.
  return tokenActivationBytes(strategy, static_cast<double>(rows) * workload_.seq_len,
                              expert_imbalance) +
         2.0 * replica_rows * workload_.seq_len * model_.hidden * dtype_bytes_;
}

PlanCost PlanCostModel::estimate(const Candidate& candidate, bool detail) const {
  const config::StrategyConfig& s = candidate.strategy;
  const int stage_ranks = s.tp * s.dp;
  PlanCost cost;
  cost.bubble = pipelineBubble(s.pp, s.microbatches);

  const ExpertShares experts = expertShares(candidate);
  const std::vector<double>& share = experts.share;
  const std::vector<int>& per_rank = experts.per_rank;
  cost.expert_imbalance = experts.imbalance;

  struct Cached {
    const GpuGroup* group;
    int rows;
    bool tp_spans, ep_spans;
    LayerSeconds dense, moe;
  };
  std::vector<Cached> cache;  // a handful of distinct (group, rows, spans) in any plan
  auto layerTimes = [&](const GpuGroup& g, int rows, bool tp_spans, bool ep_spans) -> Cached& {
    for (auto& x : cache) {
      if (x.group == &g && x.rows == rows && x.tp_spans == tp_spans && x.ep_spans == ep_spans) {
        return x;
      }
    }
    cache.push_back({&g, rows, tp_spans, ep_spans,
                     layerSeconds(g, s, rows, false, tp_spans, ep_spans, share, per_rank),
                     model_.hasMoe()
                         ? layerSeconds(g, s, rows, true, tp_spans, ep_spans, share, per_rank)
                         : LayerSeconds{}});
    return cache.back();
  };

  // Weights per stage: the dense part, plus each expert slot a rank holds.
  std::vector<double> base_weights(s.pp), slot_weights(s.pp, 0.0);
  for (int st = 0; st < s.pp; ++st) {
    base_weights[st] = weightBytes(s, candidate.stages[st], 0);
    if (model_.hasMoe())
      slot_weights[st] = weightBytes(s, candidate.stages[st], 1) - base_weights[st];
  }
  const int most_slots = experts.mostSlots();

  if (detail) cost.ranks.resize(static_cast<std::size_t>(s.worldSize()));
  cost.stage_seconds.assign(s.pp, 0.0);
  double tokens_per_second = 0.0, busy_max = 0.0, busy_sum = 0.0;  // over cells of tp GPUs
  for (int r = 0; r < s.dp; ++r) {
    const int rows = candidate.dp_batch[r] / s.microbatches;
    const double activations =
        activationBytes(s, rows, candidate.dp_batch[r], cost.expert_imbalance);
    std::vector<double> step(s.pp), step_comm(s.pp);  // per stage, one microbatch
    for (int st = 0; st < s.pp; ++st) {
      const int first = s.tp * (r + s.dp * st), last = first + s.tp - 1;
      const GpuGroup& g = cluster_.slowestIn(first, last, workload_.dtype);
      const bool tp_spans = cluster_.nodeOf(first) != cluster_.nodeOf(last);
      const int ep_first = st * stage_ranks + ((first % stage_ranks) / s.ep) * s.ep;
      const bool ep_spans = cluster_.nodeOf(ep_first) != cluster_.nodeOf(ep_first + s.ep - 1);
      const Cached& t = layerTimes(g, rows, tp_spans, ep_spans);
      LayerSeconds stage;
      for (int l = candidate.stages[st].begin; l < candidate.stages[st].end; ++l) {
        const LayerSeconds& x = model_.isMoeLayer(l) ? t.moe : t.dense;
        stage.compute += x.compute;
        stage.comm += x.comm;
      }
      const double tokens = static_cast<double>(rows) * workload_.seq_len;
      if (st + 1 < s.pp) {  // the microbatch's activations to the next stage
        const int next = first + stage_ranks;
        const bool same_node = cluster_.nodeOf(first) == cluster_.nodeOf(next);
        stage.comm += collectiveSeconds(Collective::SendRecv,
                                        stageSendOp(model_, workload_.dtype, tokens).size, 2,
                                        same_node ? g.intra_node : cluster_.inter_node);
      } else {  // the final norm
        const PricedOp norm = finalNormOp(model_, workload_.dtype, tokens);
        stage.compute += memory(g.gpu, norm.bytes, norm.rate);
      }
      step[st] = stage.total();
      step_comm[st] = stage.comm;
      busy_max = std::max(busy_max, stage.compute * s.microbatches);
      busy_sum += stage.compute * s.microbatches;
      cost.stage_seconds[st] = std::max(cost.stage_seconds[st], step[st]);

      // Memory: the cell's fullest GPU against its smallest memory.
      const int smallest = cellSmallestGpu(first, last);
      const double limit =
          cluster_.groupOf(smallest).gpu.memory_bytes * (1.0 - cluster_.memory_reserve);
      cost.noteMemory(base_weights[st] + most_slots * slot_weights[st] + activations, limit,
                      smallest);
      if (!detail) continue;
      for (int world = first; world <= last; ++world) {
        RankCost& rc = cost.ranks[world];
        rc.stage = st;
        rc.replica = r;
        rc.busy_seconds = stage.compute * s.microbatches;
        rc.comm_seconds = stage.comm * s.microbatches;
        const int local = model_.hasMoe() ? per_rank[(world % stage_ranks) % s.ep] : 0;
        rc.weight_bytes = base_weights[st] + local * slot_weights[st];
        rc.activation_bytes = activations;
        rc.memory_limit_bytes =
            cluster_.groupOf(world).gpu.memory_bytes * (1.0 - cluster_.memory_reserve);
      }
    }
    // GPipe, forward only: the first microbatch crosses every stage, the others follow at
    // the pace of the slowest stage.
    const auto slowest = std::max_element(step.begin(), step.end()) - step.begin();
    const double latency =
        std::accumulate(step.begin(), step.end(), 0.0) + (s.microbatches - 1) * step[slowest];
    const double comm = std::accumulate(step_comm.begin(), step_comm.end(), 0.0) +
                        (s.microbatches - 1) * step_comm[slowest];
    if (latency > cost.latency_seconds) {
      cost.latency_seconds = latency;
      cost.comm_seconds = comm;
    }
    tokens_per_second += static_cast<double>(candidate.dp_batch[r]) * workload_.seq_len /
                         (s.microbatches * step[slowest]);
  }
  cost.tokens_per_second = tokens_per_second;
  if (busy_sum > 0.0) cost.busy_imbalance = busy_max / (busy_sum / (s.pp * s.dp));
  if (generation_.on()) {
    std::vector<LayerSeconds> cells;
    cost.generation = generationCost(candidate, detail ? &cells : nullptr);
    for (int world = 0; detail && world < s.worldSize(); ++world) {  // a decode round's
      const LayerSeconds& cell = cells[static_cast<std::size_t>((world % stage_ranks) / s.tp +
                                                                s.dp * (world / stage_ranks))];
      cost.ranks[world].busy_seconds = cell.compute;
      cost.ranks[world].comm_seconds = cell.comm;
    }
    generationMemory(candidate, cost);
  }
  return cost;
}

int PlanCostModel::cellSmallestGpu(int first, int last) const {
  // A tp group lies in one node, so in one group, unless it spans nodes of two groups.
  return cluster_.groupOf(last).gpu.memory_bytes < cluster_.groupOf(first).gpu.memory_bytes ? last
                                                                                            : first;
}

PlanCostModel::ExpertShares PlanCostModel::expertShares(const Candidate& candidate) const {
  ExpertShares out;
  if (!model_.hasMoe()) return out;
  ExpertPlacement placement;
  placement.ranks = candidate.expert_placement;
  placement.copies.assign(model_.moe.experts, 0);
  for (const auto& list : candidate.expert_placement) {
    out.per_rank.push_back(static_cast<int>(list.size()));
    for (int e : list) ++placement.copies[e];
  }
  out.share = rankLoads(loads_, placement);
  out.imbalance = loadImbalance(loads_, placement);
  return out;
}

}  // namespace shardrt::planner
