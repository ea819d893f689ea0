// The unsharded reference: the same executor with tp = pp = dp = 1 over a one-rank
// communicator, every weight whole, on one device.
#pragma once

#include "comm/communicator.h"
#include "planner/deployment.h"
#include "runtime/backend.h"

namespace shardrt {

// output (batch_size, seq_len, hidden) = the model applied to input, unsharded.
void computeUnshardedReference(Backend& backend, const planner::Deployment& deployment,
                               comm::Communicator& one_rank, const TensorView& input,
                               const TensorView& output);

}  // namespace shardrt
