// `mpirun -np N shardrt bench collectives`: every collective the runtime uses, timed on this
// machine's backend and communicator, in nccl-tests' columns (size, count, type, redop, root,
// time, algbw, busbw, #wrong) with busbw defined as nccl-tests defines it per collective
// (docs/planner.md), each result checked on every rank; --json writes the same rows.
#pragma once

#include <string>

#include "comm/mpi_session.h"

namespace shardrt::bench {

struct BenchCollectivesOptions {
  std::string device = "auto";
  long min_bytes = 8;
  long max_bytes = 16L << 20;
  int step_factor = 2;
  int warmup = 5;
  int iterations = 20;
  std::string json_path;  // empty: no JSON
};

int benchCollectives(const BenchCollectivesOptions& options, const comm::MpiSession& mpi);

}  // namespace shardrt::bench
