#include "runtime/reference.h"

#include <stdexcept>

#include "config/plan.h"
#include "runtime/transformer.h"

namespace shardrt {

config::Deployment unsharded(const config::Deployment& deployment) {
  config::Deployment whole = deployment;
  whole.strategy = config::StrategyConfig{};
  whole.plan = config::ExplicitPlan{};
  return whole;
}

ReferenceRouting computeUnshardedReference(Backend& backend, const config::Deployment& deployment,
                                           comm::Communicator& one_rank, const TensorView& input,
                                           const TensorView& output, bool log_routing,
                                           const std::vector<RoutingLog>* follow_routing,
                                           const WeightSource* weights) {
  if (one_rank.size() != 1) throw std::logic_error("reference: needs a one-rank communicator");
  const config::Deployment whole = unsharded(deployment);
  const config::Plan plan = config::makePlan(whole);
  const config::ParallelLayout layout(1, 1, 1, 0);
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
