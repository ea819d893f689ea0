// `mpirun -np N shardrt bench layer DEPLOYMENT.json`: the forward pass of each of the file's
// strategies timed as `shardrt run` times it (all ranks start together; a pass takes its
// slowest rank's time; the median of --iters), one row per strategy; a strategy for another
// number of ranks than were launched is skipped with the reason.
#pragma once

#include <string>
#include <vector>

#include "comm/mpi_session.h"

namespace shardrt::bench {

struct BenchLayerOptions {
  std::string deployment_path;
  std::string device = "auto";
  std::string strategy;  // one named strategy; empty: every strategy of the file
  bool all_strategies = false;
  std::vector<std::string> overrides;  // --set dotted.path=value
  int warmup = 1;
  int iterations = 5;
  std::string json_path;  // empty: no JSON
};

int benchLayer(const BenchLayerOptions& options, const comm::MpiSession& mpi);

}  // namespace shardrt::bench
