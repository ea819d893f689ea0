// `mpirun -np N shardrt bench decode DEPLOYMENT.json`: generation timed against batch size and
// context length (issue 17, item 6). For each batch B and context C, B prompts of C random
// token ids each generate --new-tokens tokens greedily (stop tokens ignored), after --warmup
// untimed generations. A row gives the prefill's time (the time to first token), the median
// and p99 of the decode steps (a step: one new token for every request), the time per output
// token, and new tokens per second in total and per rank. Every time is the slowest rank's.
#pragma once

#include <string>
#include <vector>

#include "comm/mpi_session.h"

namespace shardrt::bench {

struct BenchDecodeOptions {
  std::string deployment_path;
  std::string device = "auto";
  std::vector<std::string> overrides;  // --set dotted.path=value
  std::vector<int> batches{1, 4};
  std::vector<int> contexts{64, 256};
  int new_tokens = 16;
  int warmup = 1;
  int threads = 0;        // BLAS threads per rank; 0: cores / ranks on this node
  bool cuda_graphs = false;  // decode steps replayed from CUDA graphs (generate --cuda-graphs)
  std::string schedule = "overlap";  // generate --schedule
  std::string json_path;             // empty: no JSON
};

int benchDecode(const BenchDecodeOptions& options, const comm::MpiSession& mpi);

}  // namespace shardrt::bench
