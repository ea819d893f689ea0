// The dry run behind `shardrt dag`: every rank's executor runs in this process, a thread per
// rank, on the meta backend and communicator (shapes only; host buffers such as MoE counts move
// for real, so the control flow is a real run's), through the same recorders as `run --trace`.
// Its events therefore make a graph with the structure of a real run's, node for node.
#pragma once

#include <vector>

#include "config/deployment.h"
#include "runtime/trace_event.h"

namespace shardrt::dag {

// The trace events of one forward pass of every rank of `deployment`, rank by rank. The first
// rank to fail stops the others, and its exception is rethrown here.
std::vector<TraceEvent> dryRun(const config::Deployment& deployment);

}  // namespace shardrt::dag
