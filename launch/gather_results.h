// Collectives over the world that bring what the ranks measured and produced to rank 0:
// the model output (from the last stage's ranks), the stage timings, the MoE counters and the
// routing. Every rank calls each function; the result is meaningful on rank 0.
#pragma once

#include <vector>

#include "comm/communicator.h"
#include "config/parallel_layout.h"
#include "launch/run_report.h"
#include "runtime/backend.h"
#include "runtime/transformer.h"

namespace shardrt::launch {

// One rank's copy of its replica's output rows, as rank 0 received it.
struct OutputCopy {
  int world_rank = 0;
  config::Range batch;  // the global batch rows it covers
  std::vector<float> values;
};

// Every last-stage rank's output (each tp rank holds a whole copy of its replica's rows).
std::vector<OutputCopy> gatherOutputs(comm::Communicator& world, const RunReport& report,
                                      const TransformerExecutor& executor, Backend& backend,
                                      const TensorView& output);

// The whole batch's output, assembled from the copies of tp rank 0 of each replica.
std::vector<float> assembleOutput(const std::vector<OutputCopy>& copies, const RunReport& report);

std::vector<StageReport> gatherStageTimings(comm::Communicator& world, const RunReport& report,
                                            const TransformerExecutor& executor,
                                            const config::ParallelLayout& layout);

std::vector<MoeLayerReport> gatherMoeCounters(comm::Communicator& world, const RunReport& report,
                                              const TransformerExecutor& executor);

// Per global layer, the whole batch's routing ([tokens][top_k]; empty for dense layers).
std::vector<std::vector<std::int32_t>> gatherRouting(comm::Communicator& world,
                                                     const RunReport& report,
                                                     const TransformerExecutor& executor);

}  // namespace shardrt::launch
