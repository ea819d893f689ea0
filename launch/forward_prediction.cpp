#include "launch/forward_prediction.h"

#include <filesystem>
#include <nlohmann/json.hpp>

#include "common/errors.h"
#include "planner/plan_cost.h"

namespace shardrt::launch {

std::optional<PlannerView> plannerViewOf(const std::string& path,
                                         const std::vector<std::string>& overrides,
                                         const config::Deployment& d, const config::Plan& plan,
                                         int world_size) {
  const auto doc = config::readDeploymentJson(path, overrides);
  auto in = planner::planningInputOf(doc, std::filesystem::path(path).parent_path().string(), d);
  if (!in) return std::nullopt;
  PlannerView v;
  if (in->cluster.gpus() != world_size) {
    v.note = "the file's cluster has " + std::to_string(in->cluster.gpus()) + " GPUs, the run " +
             std::to_string(world_size) + " ranks";
    return v;
  }
  v.candidate.strategy = d.strategy;
  for (const auto& s : plan.stages) v.candidate.stages.push_back(s.layers);
  v.candidate.expert_placement = plan.expert_placement;
  for (const auto& rows : plan.dp_batches) v.candidate.dp_batch.push_back(rows.size());
  const auto& gpu = in->cluster.groups.front().gpu;
  v.rates = gpu.profile
                ? "profile " + doc["cluster"]["groups"][0]["gpu"]["profile"].get<std::string>()
                : "datasheet rates";
  v.input = std::move(*in);
  return v;
}

std::optional<ForwardPrediction> predictForward(const std::string& path,
                                                const std::vector<std::string>& overrides,
                                                const config::Deployment& d,
                                                const config::Plan& plan, int world_size) {
  ForwardPrediction p;
  try {
    const auto view = plannerViewOf(path, overrides, d, plan, world_size);
    if (!view) return std::nullopt;
    if (!view->note.empty()) {
      p.note = view->note;
      return p;
    }
    const planner::PlanCostModel costs(d.model, d.workload, view->input.cluster,
                                       view->input.options);
    p.seconds = costs.estimate(view->candidate).latency_seconds;
    p.rates = view->rates;
  } catch (const ConfigError& e) {
    p.note = e.what();
  }
  return p;
}

}  // namespace shardrt::launch
