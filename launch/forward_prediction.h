// The planner's prediction of a run's forward time, printed beside the measured one when the
// deployment file carries a condition file's `cluster` (a plan `shardrt plan` wrote keeps it).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "config/deployment.h"
#include "config/plan.h"
#include "planner/plan_cost.h"

namespace shardrt::launch {

// What the planner needs to price the plan a run executes: the file's planner sections, the
// plan as the planner's candidate, and where its rates come from.
struct PlannerView {
  planner::PlanningInput input;
  planner::Candidate candidate;
  std::string rates;  // "profile PATH" or "datasheet rates"
  std::string note;   // set when the file's cluster is not the launched ranks: no prediction
};

// Nothing when the file has no `cluster`; a note when its cluster is not the launched ranks.
// Throws ConfigError when its sections are broken (the caller notes it: the run stands).
std::optional<PlannerView> plannerViewOf(const std::string& path,
                                         const std::vector<std::string>& overrides,
                                         const config::Deployment& d, const config::Plan& plan,
                                         int world_size);

struct ForwardPrediction {
  double seconds = 0.0;  // one forward of the batch
  std::string rates;     // where the rates came from: a profile's path, or "datasheet"
  std::string note;      // why there is no prediction (seconds is 0 then)
};

// Nothing when the file has no `cluster`; a note instead of a time when the cluster does not
// match the launched ranks or its sections are broken (the run itself goes on).
std::optional<ForwardPrediction> predictForward(const std::string& path,
                                                const std::vector<std::string>& overrides,
                                                const config::Deployment& d,
                                                const config::Plan& plan, int world_size);

}  // namespace shardrt::launch
