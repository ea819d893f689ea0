// One GEMM shape timed on the Backend's linear op (the op the executor's projections run),
// on every rank at once so that ranks sharing a machine contend as a deployment's would, and
// checked against a float64 CPU reference on a few rows: what `bench gemm` prints and what
// `bench --calibrate` records.
#pragma once

#include <cstdint>

#include "comm/communicator.h"
#include "runtime/backend.h"

namespace shardrt::bench {

// out (m x n) = inp (m x k) @ weight (n x k)^T
struct GemmShape {
  long m = 0, n = 0, k = 0;
  double flops() const { return 2.0 * m * n * k; }
};

struct GemmTiming {
  double median_seconds = 0.0;   // the median over ranks of each rank's median over iterations
  double slowest_seconds = 0.0;  // the slowest rank's median
  int iterations = 0;
  std::int32_t wrong = 0;  // checked elements off the reference, summed over every rank
  int checked_rows = 0;    // rows of the result checked on each rank
};

struct GemmTimingOptions {
  int warmup = 2;
  int iterations = 10;
  // > 0: iterations chosen (3 to 200) to take about this long, from the checked call's time.
  double budget_seconds = 0.0;
  bool fault_wrong_element = false;  // test-only: one element of the result made wrong
};

// Random inputs (uniform in [-1, 1), seeded by `seed` and the rank).
GemmTiming timeGemm(Backend& backend, comm::Communicator& world, const GemmShape& shape,
                    DType dtype, const GemmTimingOptions& options, unsigned seed);

}  // namespace shardrt::bench
