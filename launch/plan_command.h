// `shardrt plan DEPLOYMENT.json [--top K] [--out plan.json] [--out-top DIR] [--json FILE]`:
// the planner. Reads the condition file (model, workload, cluster, objective, planner
// options), searches every valid plan, prints the top K and the chosen one explained, and
// writes the best as a deployment file `mpirun -np N shardrt run` executes unchanged (the
// planner sections travel with it, so `run` prints the prediction beside the measurement).
#pragma once

#include <string>
#include <vector>

namespace shardrt::launch {

struct PlanOptions {
  std::string deployment_path;
  std::vector<std::string> overrides;
  int top = 5;
  std::string out_path;  // empty: the best plan is printed, not written
  std::string out_top_dir;  // each of the top K as DIR/plan-<i>.json
  std::string json_path;
};

int planCommand(const PlanOptions& options);

}  // namespace shardrt::launch
