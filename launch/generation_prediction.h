// The planner's prediction of a generation, printed beside the measured one by `shardrt
// generate` when the deployment file carries a condition file's `cluster` (as a plan that
// `shardrt plan` wrote keeps it): every round the generation ran, priced by
// planner::PlanCostModel::roundSeconds with the steps it actually took (each request's prompt,
// then one token a round while it ran, at its context), so that time to first token, time per
// output token and the decode step come from the same formulas as the measured ones.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "config/deployment.h"
#include "config/plan.h"
#include "planner/plan_cost.h"
#include "runtime/generation_executor.h"

namespace shardrt::launch {

struct GenerationPrediction {
  std::vector<double> round_seconds;  // when each round ends, as GenerationResult's
  std::string rates;                  // where the rates came from: a profile's path, or "datasheet"
  std::string note;                   // why there is no prediction (round_seconds is empty then)
};

// Nothing when the file has no `cluster`; a note instead of times when the cluster does not
// match the launched ranks or its sections are broken (the generation itself stands).
std::optional<GenerationPrediction> predictGeneration(
    const std::string& path, const std::vector<std::string>& overrides, const config::Deployment& d,
    const config::Plan& plan, int world_size, const std::vector<GenerationRequest>& requests,
    const GenerationResult& result);

// The planner's steps of round `round` of `result`: per replica, per microbatch, its tokens,
// the requests choosing a token and the attention's (token, visible key) pairs.
std::vector<std::vector<planner::GenerationStep>> stepsOfRound(
    const config::Deployment& d, const config::Plan& plan,
    const std::vector<GenerationRequest>& requests, const GenerationResult& result, int round);

}  // namespace shardrt::launch
