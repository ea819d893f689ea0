// The generation half of PlanCostModel (planner/plan_cost.h): a round of prefill or decode
// steps as GenerationExecutor runs it, the KV cache and generation's memory, and the figures
// the generation objectives rank by. docs/planner.md, "Generation", has the formulas.
#include <algorithm>
#include <cmath>
#include <optional>

#include "planner/plan_cost.h"

namespace shardrt::planner {
namespace {

// Where a replica's stage lies: its tp cell of world ranks and whether its groups span nodes.
struct Cell {
  int first = 0, last = 0;
  bool tp_spans = false, ep_spans = false;
};

Cell cellOf(const ClusterConfig& cluster, const config::StrategyConfig& s, int replica, int stage) {
  const int stage_ranks = s.tp * s.dp;
  Cell c;
  c.first = s.tp * (replica + s.dp * stage);
  c.last = c.first + s.tp - 1;
  c.tp_spans = cluster.nodeOf(c.first) != cluster.nodeOf(c.last);
  const int ep_first = stage * stage_ranks + ((c.first % stage_ranks) / s.ep) * s.ep;
  c.ep_spans = cluster.nodeOf(ep_first) != cluster.nodeOf(ep_first + s.ep - 1);
  return c;
}

}  // namespace

double PlanCostModel::attentionPairs(double context) const {
  const int window = model_.sliding_window;
  return window > 0 ? std::min(context, static_cast<double>(window)) : context;
}

LayerPass PlanCostModel::stepPass(const config::StrategyConfig& strategy,
                                  const GenerationStep& step) const {
  const auto& m = model_;
  const double hq = static_cast<double>(m.heads) / strategy.tp;
  const double hkv = config::kvHeadsFor({0, m.heads / strategy.tp}, m.groupSize()).size();
  LayerPass p;
  p.cached = true;
  p.tokens = step.tokens;
  if (m.mla.on()) {
    // Over the latent cache: every query head against one latent row a key, read as keys and
    // as values (runtime/latent_attention.h).
    p.attention_flops = 4.0 * hq * latentWidth() * step.attention_pairs;
    p.attention_bytes = step.tokens > step.sequences
                            ? 0.0
                            : step.attention_pairs * 2.0 * latentWidth() * dtype_bytes_;
    return p;
  }
  p.attention_flops = 4.0 * hq * m.head_dim * step.attention_pairs;
  // A decode step reads each visible key and value once per token; a prefill's attention is
  // bound by its FLOPs (the kernels take a prompt's rows in blocks that share their reads), so
  // its reads are left out.
  p.attention_bytes = step.tokens > step.sequences
                          ? 0.0
                          : step.attention_pairs * 2.0 * hkv * m.head_dim * dtype_bytes_;
  return p;
}

LayerSeconds PlanCostModel::endsSeconds(const GpuGroup& group,
                                        const config::StrategyConfig& strategy,
                                        const GenerationStep& step, bool first_stage,
                                        bool last_stage, bool tp_spans_nodes) const {
  const GpuSpec& g = group.gpu;
  const double w = dtype_bytes_, H = model_.hidden;
  const double vocab = static_cast<double>(model_.vocab) / strategy.tp;
  LayerSeconds out;
  if (first_stage) {  // the masked lookup in this rank's block, then the sum over tp
    out.compute += memory(g, step.tokens * (H * w + 4.0));
    out.comm +=
        collective(group, Collective::AllReduce, step.tokens * H * w, strategy.tp, tp_spans_nodes);
  }
  if (last_stage && step.sequences > 0.0) {
    // The rows whose token is chosen, the final norm, the LM head's block, its argmax, and
    // each rank's best (value, id) gathered over tp.
    const double S = step.sequences;
    const char* norm = model_.norm == config::NormKind::RmsNorm ? "rmsnorm" : "layernorm";
    out.compute += memory(g, 2 * S * H * w) + memory(g, 2 * S * H * w, norm) +
                   gemm(g, S, vocab, H, (S * H + vocab * H + S * vocab) * w) +
                   memory(g, S * vocab * w);
    out.comm += 2 * collective(group, Collective::AllGather, strategy.tp * S * 4.0, strategy.tp,
                               tp_spans_nodes);
  }
  return out;
}

bool PlanCostModel::roundsOverlap(const config::StrategyConfig& strategy) const {
  return !config::expertGroupSpansReplicas(model_, strategy);
}

double PlanCostModel::roundSeconds(const Candidate& candidate,
                                   const std::vector<std::vector<GenerationStep>>& steps,
                                   std::vector<LayerSeconds>* cells, RoundPace pace) const {
  const config::StrategyConfig& s = candidate.strategy;
  const ExpertShares experts = expertShares(candidate);
  // A layer's time for a step on a group: the same for every replica and microbatch of equal
  // steps (most of them), so priced once each.
  struct Priced {
    const GpuGroup* group;
    double tokens, sequences, pairs;
    bool tp_spans, ep_spans;
    std::optional<LayerSeconds> dense, moe;
  };
  std::vector<Priced> prices;
  auto priced = [&prices](const GpuGroup& g, const GenerationStep& step, const Cell& c) -> Priced& {
    for (Priced& p : prices) {
      if (p.group == &g && p.tokens == step.tokens && p.sequences == step.sequences &&
          p.pairs == step.attention_pairs && p.tp_spans == c.tp_spans && p.ep_spans == c.ep_spans)
        return p;
    }
    prices.push_back({&g, step.tokens, step.sequences, step.attention_pairs, c.tp_spans, c.ep_spans,
                      std::nullopt, std::nullopt});
    return prices.back();
  };
  double slowest = 0.0;
  if (cells) cells->assign(static_cast<std::size_t>(s.dp * s.pp), LayerSeconds{});
  for (int r = 0; r < s.dp && r < static_cast<int>(steps.size()); ++r) {
    // stage_free[st]: when stage st is done with the microbatches so far.
    std::vector<double> stage_free(s.pp, 0.0);
    // Steady: each stage's work over the round, and the longest microbatch's turn through
    // every stage and back (its next step waits for its tokens).
    std::vector<double> stage_busy(s.pp, 0.0);
    double longest_turn = 0.0;
    const GpuGroup& first_group = cluster_.groupOf(cellOf(cluster_, s, r, 0).first);
    for (const GenerationStep& step : steps[r]) {
      if (step.tokens <= 0.0) continue;  // a microbatch with nothing left: skipped
      const LayerPass pass = stepPass(s, step);
      double ready = 0.0;  // when this microbatch's hidden states reach the stage
      double turn = 0.0;
      for (int st = 0; st < s.pp; ++st) {
        const Cell c = cellOf(cluster_, s, r, st);
        const GpuGroup& g = cluster_.slowestIn(c.first, c.last, workload_.dtype);
        Priced& layer = priced(g, step, c);
        LayerSeconds t;
        for (int l = candidate.stages[st].begin; l < candidate.stages[st].end; ++l) {
          const bool is_moe = model_.isMoeLayer(l);
          std::optional<LayerSeconds>& x = is_moe ? layer.moe : layer.dense;
          if (!x) {
            x = passSeconds(g, s, pass, is_moe, c.tp_spans, c.ep_spans, experts.share,
                            experts.per_rank);
          }
          t.compute += x->compute;
          t.comm += x->comm;
        }
        const LayerSeconds ends = endsSeconds(g, s, step, st == 0, st + 1 == s.pp, c.tp_spans);
        t.compute += ends.compute;
        t.comm += ends.comm;
        if (st + 1 < s.pp) {  // the step's hidden states to the next stage
          const bool same_node = cluster_.nodeOf(c.first) == cluster_.nodeOf(c.first + s.tp * s.dp);
          t.comm +=
              collectiveSeconds(Collective::SendRecv, step.tokens * model_.hidden * dtype_bytes_, 2,
                                same_node ? g.intra_node : cluster_.inter_node);
        }
        if (cells) {
          LayerSeconds& cell = (*cells)[static_cast<std::size_t>(r + s.dp * st)];
          cell.compute += t.compute;
          cell.comm += t.comm;
        }
        const double start = std::max(stage_free[st], ready);
        stage_free[st] = ready = start + t.total();
        stage_busy[st] += t.total();
        turn += t.total();
      }
      if (s.pp > 1) {  // its new tokens posted back to the first stage
        turn += collectiveSeconds(Collective::SendRecv, step.sequences * 4.0, 2,
                                  first_group.intra_node);
      }
      longest_turn = std::max(longest_turn, turn);
    }
    double end = stage_free[s.pp - 1];
    if (pace == RoundPace::Steady) {
      end = std::max(longest_turn, *std::max_element(stage_busy.begin(), stage_busy.end()));
    } else if (pace == RoundPace::Lockstep && s.pp > 1) {
      // the new tokens broadcast over the pipeline
      end += (s.pp - 1) * collectiveSeconds(Collective::SendRecv, candidate.dp_batch[r] * 4.0, 2,
                                            first_group.intra_node);
    }
    slowest = std::max(slowest, end);
  }
  return slowest;
}

double PlanCostModel::kvCacheBytes(const config::StrategyConfig& strategy, config::Range layers,
                                   double rows) const {
  // Keys and values of the kv heads a rank's query heads read (runtime/transformer.h,
  // KvCache), for every position of every request of its replica; with latent attention one
  // latent row a position, on every tp rank.
  const double positions = static_cast<double>(layers.size()) * rows * workload_.seq_len;
  if (model_.mla.on()) return positions * latentWidth() * dtype_bytes_;
  const double hkv = config::kvHeadsFor({0, model_.heads / strategy.tp}, model_.groupSize()).size();
  return positions * 2.0 * hkv * model_.head_dim * dtype_bytes_;
}

double PlanCostModel::generationWeightBytes(const Candidate& candidate, int stage,
                                            const ExpertShares& experts,
                                            double& vocabulary_bytes) const {
  const config::StrategyConfig& s = candidate.strategy;
  const int most_slots = experts.mostSlots();
  const config::Range layers = candidate.stages[stage];
  const double dense = weightBytes(s, layers, 0);
  double bytes = dense;
  if (model_.hasMoe()) bytes += most_slots * (weightBytes(s, layers, 1) - dense);
  // The vocabulary's rows this rank holds: the embedding on the first stage, the LM head on
  // the last; one tensor for both when tied on one stage.
  const double block = static_cast<double>(model_.vocab) / s.tp * model_.hidden * dtype_bytes_;
  const bool first = stage == 0, last = stage + 1 == s.pp;
  vocabulary_bytes =
      (first ? block : 0.0) + (last && !(first && model_.tie_embeddings) ? block : 0.0);
  return bytes + vocabulary_bytes;
}

double PlanCostModel::generationRowBytes(const Candidate& candidate, int stage, double rows,
                                         const ExpertShares& experts, double& kv_bytes) const {
  const config::StrategyConfig& s = candidate.strategy;
  kv_bytes = kvCacheBytes(s, candidate.stages[stage], rows);
  // A step's buffers, sized for the largest step: a microbatch's prompts packed; the logits.
  const double microbatch = rows / s.microbatches;
  const double step_tokens = microbatch * std::max(1, generation_.prompt_tokens);
  double bytes = kv_bytes + tokenActivationBytes(s, step_tokens, experts.imbalance);
  if (stage + 1 == s.pp) bytes += 2.0 * microbatch * model_.vocab / s.tp * dtype_bytes_;
  return bytes;
}

void PlanCostModel::generationMemory(const Candidate& candidate, PlanCost& cost) const {
  const config::StrategyConfig& s = candidate.strategy;
  const ExpertShares experts = expertShares(candidate);
  cost.fits = true;
  cost.max_memory_bytes = cost.max_memory_limit_bytes = 0.0;
  double kv_most = 0.0;
  double scale_most = -1.0;  // how many times the batch fits on every cell
  for (int st = 0; st < s.pp; ++st) {
    double vocabulary = 0.0;
    const double weights = generationWeightBytes(candidate, st, experts, vocabulary);
    for (int r = 0; r < s.dp; ++r) {
      const Cell c = cellOf(cluster_, s, r, st);
      const int smallest = cellSmallestGpu(c.first, c.last);
      const double limit =
          cluster_.groupOf(smallest).gpu.memory_bytes * (1.0 - cluster_.memory_reserve);
      double kv = 0.0;
      // Everything but the weights grows in proportion to the replica's rows.
      const double growing = generationRowBytes(candidate, st, candidate.dp_batch[r], experts, kv);
      const double total = weights + growing;
      kv_most = std::max(kv_most, kv);
      cost.noteMemory(total, limit, smallest);
      // The per-GPU detail (the report's memory line) as generation holds it: each rank's own
      // weights plus its vocabulary block; the KV cache and a step's buffers beside them.
      for (int world = c.first; world <= c.last && !cost.ranks.empty(); ++world) {
        RankCost& rc = cost.ranks[static_cast<std::size_t>(world)];
        rc.weight_bytes += vocabulary;  // the forward's layers and expert slots, and these
        rc.activation_bytes = growing;
      }
      const double scale = growing > 0.0 ? (limit - weights) / growing : 1e30;
      scale_most = scale_most < 0.0 ? scale : std::min(scale_most, scale);
    }
  }
  GenerationCost& g = *cost.generation;
  g.kv_cache_bytes = kv_most;
  // The largest batch in whole microbatches of every replica.
  const int unit = s.dp * s.microbatches;
  const double batch = std::max(0.0, scale_most) * workload_.batch_size;
  g.largest_batch = batch >= 1e9 ? 1000000000 : static_cast<int>(batch / unit) * unit;
}

GenerationCost PlanCostModel::generationCost(const Candidate& candidate,
                                             std::vector<LayerSeconds>* decode_cells) const {
  const config::StrategyConfig& s = candidate.strategy;
  const double prompt = generation_.prompt_tokens;
  GenerationCost g;
  g.mean_context = prompt + generation_.new_tokens / 2.0;
  double prefill_pairs = 0.0;  // one prompt's
  for (int i = 1; i <= generation_.prompt_tokens; ++i) prefill_pairs += attentionPairs(i);
  std::vector<std::vector<GenerationStep>> prefill(s.dp), decode(s.dp);
  for (int r = 0; r < s.dp; ++r) {
    const double rows = static_cast<double>(candidate.dp_batch[r]) / s.microbatches;
    for (int mb = 0; mb < s.microbatches; ++mb) {
      prefill[r].push_back({rows * prompt, rows, rows * prefill_pairs});
      decode[r].push_back({rows, rows, rows * attentionPairs(g.mean_context)});
    }
  }
  const bool overlap = roundsOverlap(s);
  g.time_to_first_token =
      roundSeconds(candidate, prefill, nullptr, overlap ? RoundPace::Fill : RoundPace::Lockstep);
  g.time_per_output_token = roundSeconds(candidate, decode, decode_cells,
                                         overlap ? RoundPace::Steady : RoundPace::Lockstep);
  if (g.time_per_output_token > 0.0) {
    g.decode_tokens_per_second = workload_.batch_size / g.time_per_output_token;
  }
  return g;
}

}  // namespace shardrt::planner
