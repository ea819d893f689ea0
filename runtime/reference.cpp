#include "runtime/reference.h"

#include <stdexcept>

#include "planner/plan.h"
#include "runtime/transformer.h"

namespace shardrt {

void computeUnshardedReference(Backend& backend, const planner::Deployment& deployment,
                               comm::Communicator& one_rank, const TensorView& input,
                               const TensorView& output) {
  if (one_rank.size() != 1) throw std::logic_error("reference: needs a one-rank communicator");
  planner::Deployment whole = deployment;
  whole.strategy = planner::StrategyConfig{};
  const planner::Plan plan = planner::makePlan(whole);
  TransformerExecutor executor(whole, plan, /*tp_rank=*/0, /*pp_rank=*/0, backend, one_rank);
  executor.forward(input, output);
}

}  // namespace shardrt
