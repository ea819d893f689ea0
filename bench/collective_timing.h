// Every collective the runtime uses, as nccl-tests lays each out (the buffers for a size, the
// call, what every rank must hold afterwards), and one checked, timed measurement of it: what
// `bench collectives` prints and what `bench --calibrate` records.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

#include "comm/communicator.h"
#include "planner/cost_model.h"
#include "runtime/backend.h"

namespace shardrt::bench {

// `bytes` is nccl-tests' size column: the whole buffer of all-reduce, the gathered output of
// all-gather, the input of reduce-scatter, the per-rank send buffer of all-to-all, the
// message of send/recv.
struct CollectiveCase {
  const char* name;  // as the hardware profile names it: all_reduce, all_gather, ...
  const char* redop;
  planner::Collective kind;
  // Elements of the send and receive buffers for nccl-tests size `count` (in elements).
  std::size_t (*send_elements)(std::size_t count, int ranks);
  std::size_t (*recv_elements)(std::size_t count, int ranks);
  std::function<void(comm::Communicator&, float*, float*, std::size_t)> run;
  // What element `index` of the receive buffer must be on rank `rank` of `ranks`.
  std::function<float(std::size_t index, int rank, int ranks, std::size_t count)> expect;
};

const std::vector<CollectiveCase>& collectiveCases();

struct CollectiveTiming {
  double size_bytes = 0.0;  // nccl-tests' size: `count` floats
  std::size_t count = 0;
  double seconds = 0.0;    // the slowest rank's mean per call
  std::int32_t wrong = 0;  // wrong elements, summed over every rank
};

// One call checked on every rank, then `warmup` untimed and `iterations` timed calls, all
// ranks together. The count is `bytes` in whole floats, rounded to a multiple of the ranks.
CollectiveTiming timeCollective(const CollectiveCase& collective, Backend& backend,
                                comm::Communicator& world, long bytes, int warmup, int iterations);

}  // namespace shardrt::bench
