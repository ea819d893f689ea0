// Timing one op the way the microbenchmarks do: every rank calls it at once (a barrier before
// each call), so that ranks sharing a machine contend in every sample, and each call is timed
// by the Backend (host clock on the CPU, CUDA events on a GPU).
#pragma once

#include <functional>
#include <vector>

#include "comm/communicator.h"
#include "runtime/backend.h"

namespace shardrt::bench {

double median(std::vector<double> values);
// The q-quantile by nearest rank (q = 0.99: the p99 of a latency); 0 for no values.
double percentile(std::vector<double> values, double q);

// This rank's median seconds over `iterations` calls of `op`.
double medianSecondsTogether(Backend& backend, comm::Communicator& world, int iterations,
                             const std::function<void()>& op);

// Every rank's value, in rank order (host memory; as floats, which every communicator moves).
std::vector<double> gatherOverRanks(comm::Communicator& world, double value);

}  // namespace shardrt::bench
