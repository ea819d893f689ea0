// The unsharded reference: the same executor with every degree 1 (tp = pp = dp = ep = 1, one
// microbatch) over a one-rank communicator, every weight whole, on one device.
#pragma once

#include <vector>

#include "comm/communicator.h"
#include "planner/deployment.h"
#include "runtime/backend.h"
#include "runtime/moe_block.h"

namespace shardrt {

// output (batch_size, seq_len, hidden) = the model applied to input, unsharded. Returns the
// routing of every MoE layer (by global layer index) when log_routing is set.
std::vector<RoutingLog> computeUnshardedReference(Backend& backend,
                                                  const planner::Deployment& deployment,
                                                  comm::Communicator& one_rank,
                                                  const TensorView& input,
                                                  const TensorView& output, bool log_routing);

// The deployment run unsharded: every degree 1, one microbatch, no explicit placements.
planner::Deployment unsharded(const planner::Deployment& deployment);

}  // namespace shardrt
