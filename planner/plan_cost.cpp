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

double PlanCostModel::gemm(const GpuSpec& gpu, double m, double n, double k) const {
  if (m <= 0.0 || n <= 0.0 || k <= 0.0) return 0.0;
  if (gpu.profile && !gpu.profile->gemm(workload_.dtype).empty()) {
    double t = profiledGemmSeconds(*gpu.profile, workload_.dtype, m, n, k);
    // A GEMM of few rows (a decode step's) is bound by reading its weights, which the samples'
    // FLOP rate does not see: the measured streaming rate floors it.
    const double stream = gpu.profile->gemmStream(workload_.dtype);
    if (stream > 0.0) t = std::max(t, dtype_bytes_ * (m * k + k * n + m * n) / stream);
    return t + overhead(gpu);
  }
  const DeviceRates rates{gpu.peakFlops(workload_.dtype) * gpu.gemm_efficiency,
                          gpu.memory_bytes_per_second * gpu.memory_efficiency};
  return opSeconds(2.0 * m * n * k, dtype_bytes_ * (m * k + k * n + m * n), rates) + overhead(gpu);
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
  const auto& m = model_;
  const double seq = workload_.seq_len;
  const double hq = static_cast<double>(m.heads) / strategy.tp;
  const double hkv = config::kvHeadsFor({0, m.heads / strategy.tp}, m.groupSize()).size();
  Pass pass;
  pass.tokens = static_cast<double>(rows) * seq;  // tokens of the microbatch
  const double pairs = m.causal ? seq * (seq + 1) / 2 : seq * seq;
  pass.attention_flops = 4.0 * rows * hq * m.head_dim * pairs;
  pass.attention_bytes = pass.tokens * (2 * hq + 2 * hkv) * m.head_dim * dtype_bytes_;
  return passSeconds(group, strategy, pass, moe, tp_spans_nodes, ep_spans_nodes, rank_share,
                     experts_per_rank);
}

LayerSeconds PlanCostModel::passSeconds(const GpuGroup& group,
                                        const config::StrategyConfig& strategy, const Pass& pass,
                                        bool moe, bool tp_spans_nodes, bool ep_spans_nodes,
                                        const std::vector<double>& rank_share,
                                        const std::vector<int>& experts_per_rank) const {
  const GpuSpec& g = group.gpu;
  const auto& m = model_;
  const double w = dtype_bytes_;
  const double T = pass.tokens;
  const double H = m.hidden, hd = m.head_dim;
  const double hq = static_cast<double>(m.heads) / strategy.tp;
  const config::Range kv = config::kvHeadsFor({0, m.heads / strategy.tp}, m.groupSize());
  const double hkv = kv.size();
  const bool swiglu = m.activation == config::Activation::SwiGlu;
  LayerSeconds out;

  // Attention block: norm, q/k/v projections, rope, attention, o projection, all-reduce,
  // residual add.
  const char* norm = m.norm == config::NormKind::RmsNorm ? "rmsnorm" : "layernorm";
  out.compute += memory(g, 2 * T * H * w, norm);
  const auto& a = m.mla;
  if (a.on()) {
    // Latent attention (runtime/latent_attention.h): the q latent (or q_proj), the kv latent
    // and rotary key on every rank, their norms, the heads' q and kv up-projections, and the
    // copies that assemble k and the zero-padded v.
    if (a.q_rank > 0) {
      out.compute += gemm(g, T, a.q_rank, H) + memory(g, 2 * T * a.q_rank * w, "rmsnorm") +
                     gemm(g, T, hq * hd, a.q_rank);
    } else {
      out.compute += gemm(g, T, hq * hd, H);
    }
    out.compute += gemm(g, T, a.kv_rank + a.rope_dim, H) +
                   memory(g, 2 * T * a.kv_rank * w, "rmsnorm") +
                   gemm(g, T, hq * (a.nope_dim + a.v_dim), a.kv_rank);
    out.compute += memory(g, 2 * T * hq * (3 * hd + a.v_dim) * w, "copy") +
                   memory(g, 3 * T * hq * hd * w, "add");
  } else {
    out.compute += gemm(g, T, hq * hd, H) + 2 * gemm(g, T, hkv * hd, H);
  }
  // Qwen2's q/k/v biases and Qwen3's per-head q/k norm: each a pass over what it changes.
  if (m.qkv_bias) out.compute += memory(g, 2 * T * (hq + 2 * hkv) * hd * w, "add_bias");
  if (m.qk_norm) out.compute += memory(g, 2 * T * (hq + hkv) * hd * w, "rmsnorm");
  if (m.rope) out.compute += memory(g, 2 * T * (hq + hkv) * hd * w, "rope");
  if (!pass.cached) {
    out.compute += attention(g, pass.attention_flops, pass.attention_bytes);
  } else {
    // Generation: the step's keys and values scattered into the cache, then attention over
    // it, bound by its FLOPs (a prefill) or by reading the cache (a decode step).
    out.compute += 2 * memory(g, 2 * T * hkv * hd * w);
    double t = attention(g, pass.attention_flops, 0.0);
    const double rate = g.profile ? g.profile->cachedAttention(workload_.dtype) : 0.0;
    if (rate > 0.0) {
      t = std::max(t, pass.attention_bytes / rate + overhead(g));
    } else {
      t = std::max(t, memory(g, pass.attention_bytes));
    }
    out.compute += t;
  }
  out.compute += gemm(g, T, H, hq * (a.on() ? a.v_dim : hd));  // o_proj
  out.comm += collective(group, Collective::AllReduce, T * H * w, strategy.tp, tp_spans_nodes);
  out.compute += memory(g, 3 * T * H * w, "add");

  // FFN block: norm, then a dense MLP or the routed experts, residual add.
  out.compute += memory(g, 2 * T * H * w, norm) + memory(g, 3 * T * H * w, "add");
  auto mlp = [&](double columns) {  // a tensor-parallel MLP of `columns` local columns
    double t = (swiglu ? 2 : 1) * gemm(g, T, columns, H) + gemm(g, T, H, columns);
    t += memory(g, (swiglu ? 3 : 2) * T * columns * w, swiglu ? "swiglu" : "gelu");
    return t;
  };
  if (!moe) {
    out.compute += mlp(static_cast<double>(m.ffn_hidden) / strategy.tp);
    out.comm += collective(group, Collective::AllReduce, T * H * w, strategy.tp, tp_spans_nodes);
    return out;
  }
  const auto& moe_cfg = m.moe;
  const double E = moe_cfg.experts, k = moe_cfg.top_k, Fe = moe_cfg.expert_ffn_hidden;
  out.compute += gemm(g, T, E, H) + memory(g, 2 * T * E * 4);  // router, scores and top-k
  // Dispatch: each rank sends its tp share's slots; the ep group's slots land by load.
  const double share_slots = T / strategy.tp * k;
  const double group_slots = share_slots * strategy.ep;
  double most_rows = 0.0, slowest_experts = 0.0;
  for (int r = 0; r < strategy.ep; ++r) {
    const double rank_rows = group_slots * (rank_share.empty() ? 1.0 / strategy.ep : rank_share[r]);
    const int local =
        experts_per_rank.empty() ? moe_cfg.experts / strategy.ep : experts_per_rank[r];
    double t = 0.0;
    if (local > 0 && rank_rows > 0.0) {
      // Rows spread over the local experts, each running its own GEMMs; an expert no row
      // reaches runs none. With r rows spread uniformly over L experts, L (1 - (1 - 1/L)^r)
      // expect one or more: all of them in a prefill or a forward pass, few in a decode step,
      // whose GEMMs are bound by reading each active expert's weights.
      const double active = local * (1.0 - std::pow(1.0 - 1.0 / local, rank_rows));
      const double per_expert = rank_rows / active;
      t = active * ((swiglu ? 2 : 1) * gemm(g, per_expert, Fe, H) + gemm(g, per_expert, H, Fe) +
                    memory(g, (swiglu ? 3 : 2) * per_expert * Fe * w, swiglu ? "swiglu" : "gelu"));
    }
    slowest_experts = std::max(slowest_experts, t);
    most_rows = std::max(most_rows, rank_rows);
  }
  out.compute += slowest_experts;
  out.compute += 2 * memory(g, 2 * share_slots * H * w);  // permute out, weighted combine in
  // All-to-all priced by the fullest rank: what it sends or receives, whichever is more.
  const double a2a_bytes = std::max(share_slots, most_rows) * H * w * strategy.ep;
  out.comm += 2 * collective(group, Collective::AllToAll, a2a_bytes, strategy.ep, ep_spans_nodes);
  out.comm += collective(group, Collective::AllGather, T * H * w, strategy.tp, tp_spans_nodes);
  if (moe_cfg.shared_experts > 0) {
    out.compute += mlp(static_cast<double>(moe_cfg.sharedWidth()) / strategy.tp);
    // Qwen2-MoE's gate: a one-column GEMM and a pass scaling the shared expert's output.
    if (moe_cfg.shared_gate) out.compute += gemm(g, T, 1, H) + memory(g, 2 * T * H * w, "add");
    out.comm += collective(group, Collective::AllReduce, T * H * w, strategy.tp, tp_spans_nodes);
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
  const int most_slots = per_rank.empty() ? 0 : *std::max_element(per_rank.begin(), per_rank.end());

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
      if (st + 1 < s.pp) {  // the microbatch's activations to the next stage
        const int next = first + stage_ranks;
        const bool same_node = cluster_.nodeOf(first) == cluster_.nodeOf(next);
        const double bytes =
            static_cast<double>(rows) * workload_.seq_len * model_.hidden * dtype_bytes_;
        stage.comm += collectiveSeconds(Collective::SendRecv, bytes, 2,
                                        same_node ? g.intra_node : cluster_.inter_node);
      }
      step[st] = stage.total();
      step_comm[st] = stage.comm;
      busy_max = std::max(busy_max, stage.compute * s.microbatches);
      busy_sum += stage.compute * s.microbatches;
      cost.stage_seconds[st] = std::max(cost.stage_seconds[st], step[st]);

      // Memory: the cell's fullest GPU against its smallest memory.
      const double limit = std::min(cluster_.groupOf(first).gpu.memory_bytes,
                                    cluster_.groupOf(last).gpu.memory_bytes) *
                           (1.0 - cluster_.memory_reserve);
      const double fullest = base_weights[st] + most_slots * slot_weights[st] + activations;
      if (fullest > limit) cost.fits = false;
      if (fullest > cost.max_memory_bytes) {
        cost.max_memory_bytes = fullest;
        cost.max_memory_limit_bytes = limit;
      }
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
    cost.generation = generationCost(candidate);
    generationMemory(candidate, cost);
  }
  return cost;
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
