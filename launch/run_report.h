// What a run reports: the summary printed by rank 0 and the result.json it writes.
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "planner/deployment.h"
#include "planner/plan.h"
#include "runtime/op_profile.h"
#include "runtime/validation.h"

namespace shardrt::launch {

struct ValidationReport {
  Comparison worst;  // the rank whose output is furthest from the reference
  int worst_rank = 0;
  double tolerance = 0.0;
  bool passed = false;
};

struct RunReport {
  planner::Deployment deployment;
  std::string deployment_path;
  planner::Plan plan;
  std::string backend;
  std::string communicator;
  int blas_threads = 1;
  int warmup = 0;
  std::vector<double> forward_seconds;  // per timed iteration, the slowest rank's time
  std::optional<OpProfile> profile;     // rank 0's ops, one forward pass
  std::optional<ValidationReport> validation;

  double medianForwardSeconds() const;
};

void printSummary(std::ostream& os, const RunReport& r);
nlohmann::json toJson(const RunReport& r);

}  // namespace shardrt::launch
