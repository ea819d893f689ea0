// `mpirun -np N shardrt bench gemm`: the Backend's linear op (every projection of the
// forward pass) timed on a list of shapes, every rank at once, each result checked against a
// float64 CPU reference on a few rows (#wrong; exit 1 when any); --json writes the rows.
#pragma once

#include <string>
#include <vector>

#include "bench/gemm_timing.h"
#include "comm/mpi_session.h"

namespace shardrt::bench {

struct BenchGemmOptions {
  std::string device = "auto";
  std::string dtype = "fp32";
  // Each "M,N,K;M,N,K;..." (CMake and some shells split at ';': several values are one list);
  // empty: defaultGemmShapes().
  std::vector<std::string> shapes;
  int warmup = 2;
  int iterations = 10;
  std::string json_path;             // empty: no JSON
  bool fault_wrong_element = false;  // test-only: proves that #wrong counts
};

// Transformer-shaped GEMMs (tokens x hidden x hidden, the FFN's 4x), a decode row, and sizes
// off every power of two; about 10 s at 2 ranks on a 2-core CPU.
std::vector<GemmShape> defaultGemmShapes();

// "M,N,K;M,N,K" with positive integers; ConfigError naming --shapes otherwise.
std::vector<GemmShape> parseGemmShapes(const std::string& text);

int benchGemm(const BenchGemmOptions& options, const comm::MpiSession& mpi);

}  // namespace shardrt::bench
