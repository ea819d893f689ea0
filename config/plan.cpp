#include "config/plan.h"

#include <algorithm>
#include <nlohmann/json.hpp>

namespace shardrt::config {
namespace {

Range evenPart(int total, int parts, int index) {
  const int base = total / parts, extra = total % parts;  // the first `extra` parts get one more
  const int begin = index * base + std::min(index, extra);
  return {begin, begin + base + (index < extra ? 1 : 0)};
}

nlohmann::json rangeJson(Range r) { return nlohmann::json::array({r.begin, r.end}); }

}  // namespace

Range kvHeadsFor(Range q_heads, int group_size) {
  return {q_heads.begin / group_size, (q_heads.end - 1) / group_size + 1};
}

std::vector<int> Plan::expertCopies(int expert) const {
  std::vector<int> ranks;
  for (std::size_t r = 0; r < expert_placement.size(); ++r) {
    const auto& held = expert_placement[r];
    if (std::find(held.begin(), held.end(), expert) != held.end()) {
      ranks.push_back(static_cast<int>(r));
    }
  }
  return ranks;
}

int Plan::stageOf(int layer) const {
  for (std::size_t s = 0; s < stages.size(); ++s) {
    if (layer >= stages[s].layers.begin && layer < stages[s].layers.end) return static_cast<int>(s);
  }
  return -1;
}

Plan makePlan(const Deployment& deployment) {
  Plan p;
  p.tp = deployment.strategy.tp;
  p.pp = deployment.strategy.pp;
  p.ep = deployment.strategy.ep;
  p.dp = deployment.strategy.dp;
  p.microbatches = deployment.strategy.microbatches;
  const ExplicitPlan& given = deployment.plan;
  for (int s = 0; s < p.pp; ++s) {
    // Explicit stage lists were checked to be consecutive, so a range describes each.
    p.stages.push_back({given.stage_layers.empty() ? evenPart(deployment.model.layers, p.pp, s)
                                                   : Range{given.stage_layers[s].front(),
                                                           given.stage_layers[s].back() + 1}});
  }
  if (deployment.model.hasMoe()) {
    if (!given.expert_placement.empty()) {
      p.expert_placement = given.expert_placement;
    } else {
      for (int r = 0; r < p.ep; ++r) {
        const Range experts = evenPart(deployment.model.moe.experts, p.ep, r);
        std::vector<int> list;
        for (int e = experts.begin; e < experts.end; ++e) list.push_back(e);
        p.expert_placement.push_back(list);
      }
    }
  }
  int row = 0;
  for (int r = 0; r < p.dp; ++r) {
    const int share = given.dp_batch.empty()
                          ? evenPart(deployment.workload.batch_size, p.dp, r).size()
                          : given.dp_batch[r];
    p.dp_batches.push_back({row, row + share});
    row += share;
  }
  for (int t = 0; t < p.tp; ++t) {
    TensorParallelShard shard;
    shard.q_heads = evenPart(deployment.model.heads, p.tp, t);
    shard.kv_heads = kvHeadsFor(shard.q_heads, deployment.model.groupSize());
    shard.ffn_columns = evenPart(deployment.model.ffn_hidden, p.tp, t);
    shard.shared_columns = evenPart(deployment.model.moe.sharedWidth(), p.tp, t);
    shard.vocab = evenPart(deployment.model.vocab, p.tp, t);
    p.tp_shards.push_back(shard);
  }
  return p;
}

nlohmann::json toJson(const Plan& plan) {
  nlohmann::json j;
  j["tp"] = plan.tp;
  j["pp"] = plan.pp;
  j["ep"] = plan.ep;
  j["dp"] = plan.dp;
  j["microbatches"] = plan.microbatches;
  for (const auto& s : plan.stages) j["stages"].push_back({{"layers", rangeJson(s.layers)}});
  for (const auto& t : plan.tp_shards) {
    j["tp_shards"].push_back({{"q_heads", rangeJson(t.q_heads)},
                              {"kv_heads", rangeJson(t.kv_heads)},
                              {"ffn_columns", rangeJson(t.ffn_columns)}});
  }
  if (!plan.expert_placement.empty()) j["expert_placement"] = plan.expert_placement;
  for (const auto& b : plan.dp_batches) j["dp_batches"].push_back(rangeJson(b));
  return j;
}

}  // namespace shardrt::config
