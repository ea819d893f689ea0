// The Plan: which rank holds what. Plain data, serialisable to JSON; the runtime executes any
// valid Plan and derives nothing on its own, so a hand-written or planner-written plan with
// uneven splits runs the same way.
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <vector>

#include "planner/deployment.h"

namespace shardrt::planner {

// Half-open [begin, end) of some global index (heads, columns, layers).
struct Range {
  int begin = 0;
  int end = 0;
  int size() const { return end - begin; }
  bool operator==(const Range&) const = default;
};

// What one tensor-parallel rank holds of every layer in its stage.
struct TensorParallelShard {
  Range q_heads;      // query heads; q_proj rows and o_proj columns follow (x head_dim)
  Range kv_heads;     // kv heads this rank's query heads read; replicated where tp > kv_heads
  Range ffn_columns;  // columns of the FFN's first layer, rows of its second
};

struct PipelineStage {
  Range layers;
};

struct Plan {
  int tp = 1, pp = 1, ep = 1, dp = 1;
  std::vector<PipelineStage> stages;           // pp entries
  std::vector<TensorParallelShard> tp_shards;  // tp entries, by tp rank
};

// The default plan for a deployment: even splits of heads, FFN columns and layers.
Plan makePlan(const Deployment& d);

// The kv heads query heads [q.begin, q.end) need when query head h reads kv head h / group.
Range kvHeadsFor(Range q_heads, int group_size);

nlohmann::json toJson(const Plan& p);

}  // namespace shardrt::planner
