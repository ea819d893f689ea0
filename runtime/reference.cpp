#include "runtime/reference.h"

#include <stdexcept>

#include "planner/plan.h"
#include "runtime/transformer.h"

namespace shardrt {

planner::Deployment unsharded(const planner::Deployment& deployment) {
  planner::Deployment whole = deployment;
  whole.strategy = planner::StrategyConfig{};
  whole.plan = planner::ExplicitPlan{};
  return whole;
}

ReferenceRouting computeUnshardedReference(Backend& backend, const planner::Deployment& deployment,
                                           comm::Communicator& one_rank, const TensorView& input,
                                           const TensorView& output, bool log_routing,
                                           const std::vector<RoutingLog>* follow_routing,
                                           const WeightSource* weights) {
  if (one_rank.size() != 1) throw std::logic_error("reference: needs a one-rank communicator");
  const planner::Deployment whole = unsharded(deployment);
  const planner::Plan plan = planner::makePlan(whole);
  const planner::ParallelLayout layout(1, 1, 1, 0);
  ExecutorOptions options;
  options.log_routing = log_routing;
  options.forced_routing = follow_routing;
  options.weights = weights;
  TransformerExecutor executor(whole, plan, layout, backend, {&one_rank, &one_rank, &one_rank},
                               options);
  executor.forward(input, output);
  return {executor.routing(), executor.moeCounters()};
}

}  // namespace shardrt
