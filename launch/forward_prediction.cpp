#include "launch/forward_prediction.h"

#include <filesystem>
#include <nlohmann/json.hpp>

#include "common/errors.h"
#include "planner/plan_cost.h"

namespace shardrt::launch {

std::optional<ForwardPrediction> predictForward(const std::string& path,
                                                const std::vector<std::string>& overrides,
                                                const config::Deployment& d,
                                                const config::Plan& plan, int world_size) {
  ForwardPrediction p;
  try {
    const auto doc = config::readDeploymentJson(path, overrides);
    const auto in = planner::planningInputOf(
        doc, std::filesystem::path(path).parent_path().string(), d);
    if (!in) return std::nullopt;
    if (in->cluster.gpus() != world_size) {
      p.note = "the file's cluster has " + std::to_string(in->cluster.gpus()) +
               " GPUs, the run " + std::to_string(world_size) + " ranks";
      return p;
    }
    planner::Candidate c;
    c.strategy = d.strategy;
    for (const auto& s : plan.stages) c.stages.push_back(s.layers);
    c.expert_placement = plan.expert_placement;
    for (const auto& rows : plan.dp_batches) c.dp_batch.push_back(rows.size());
    const planner::PlanCostModel costs(d.model, d.workload, in->cluster, in->options);
    p.seconds = costs.estimate(c).latency_seconds;
    const auto& gpu = in->cluster.groups.front().gpu;
    p.rates = gpu.profile ? "profile " + doc["cluster"]["groups"][0]["gpu"]["profile"].get<std::string>()
                          : "datasheet rates";
  } catch (const ConfigError& e) {
    p.note = e.what();
  }
  return p;
}

}  // namespace shardrt::launch
