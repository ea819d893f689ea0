// Forward passes timed as a step is timed: every rank starts together after a barrier, and a
// pass takes its slowest rank's time. `shardrt run` and `shardrt bench layer` report these.
#pragma once

#include <vector>

#include "comm/communicator.h"
#include "runtime/transformer.h"

namespace shardrt::bench {

// Runs warmup + iterations passes; returns the timed passes' seconds, the same on every rank.
std::vector<double> timeForwards(TransformerExecutor& executor, const TensorView& input,
                                 const TensorView& output, comm::Communicator& world, int warmup,
                                 int iterations);

}  // namespace shardrt::bench
