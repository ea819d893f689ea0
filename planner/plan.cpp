#include "planner/plan.h"

#include <algorithm>
#include <nlohmann/json.hpp>

namespace shardrt::planner {
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

Plan makePlan(const Deployment& d) {
  Plan p;
  p.tp = d.strategy.tp;
  p.pp = d.strategy.pp;
  p.ep = d.strategy.ep;
  p.dp = d.strategy.dp;
  for (int s = 0; s < p.pp; ++s) p.stages.push_back({evenPart(d.model.layers, p.pp, s)});
  for (int t = 0; t < p.tp; ++t) {
    TensorParallelShard shard;
    shard.q_heads = evenPart(d.model.heads, p.tp, t);
    shard.kv_heads = kvHeadsFor(shard.q_heads, d.model.groupSize());
    shard.ffn_columns = evenPart(d.model.ffn_hidden, p.tp, t);
    p.tp_shards.push_back(shard);
  }
  return p;
}

nlohmann::json toJson(const Plan& p) {
  nlohmann::json j;
  j["tp"] = p.tp;
  j["pp"] = p.pp;
  j["ep"] = p.ep;
  j["dp"] = p.dp;
  for (const auto& s : p.stages) j["stages"].push_back({{"layers", rangeJson(s.layers)}});
  for (const auto& t : p.tp_shards) {
    j["tp_shards"].push_back({{"q_heads", rangeJson(t.q_heads)},
                              {"kv_heads", rangeJson(t.kv_heads)},
                              {"ffn_columns", rangeJson(t.ffn_columns)}});
  }
  return j;
}

}  // namespace shardrt::planner
