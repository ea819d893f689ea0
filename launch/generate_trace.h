// `shardrt generate --trace DIR`: after the measured generation, one more of the same requests on
// the recorders (runtime/tracer.h), which writes
//   DIR/<name>-prefill.dot/.svg   the prefill round's deployment graph
//   DIR/<name>-decode.dot/.svg    the first decode step's (absent when no request outlived the
//                                 prefill), with the KV cache's writes and reads as nodes
//   DIR/dags.json                 both graphs and each GPU's load (docs/dag.md)
//   DIR/trace.json, DIR/ranks/    the timeline of every round: prefill, then each decode step
// The traced generation must choose the tokens the measured one chose (greedy and seeded
// sampling are pure functions of the weights and requests): a difference is an error.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "comm/communicator.h"
#include "config/deployment.h"
#include "dag/trace_output.h"
#include "runtime/generation_executor.h"
#include "runtime/tracer.h"

namespace shardrt::launch {

struct GenerateTrace {
  std::string dir;
  std::vector<dag::DagEntry> graphs;  // the prefill's, then the first decode step's
  int rounds = 0;
  double seconds = 0.0;  // the traced generation, the slowest rank's
};

struct GenerateTraceInput {
  const config::Deployment& deployment;
  std::string backend, communicator;  // as the report names them
  const std::vector<GenerationRequest>& requests;
  GenerationSettings settings;
  const GenerationResult& measured;  // what the traced generation must choose again
  std::string dir;
};

// Collective over `world`: every rank generates again on `tracer`'s recorders (the executor
// must run on them); rank 0 writes DIR whole (common/atomic_directory.h). Returns the same on
// every rank: the trace, or nullopt after rank 0 printed why it has none.
std::optional<GenerateTrace> traceGeneration(comm::Communicator& world,
                                             GenerationExecutor& generator, Tracer& tracer,
                                             const GenerateTraceInput& input);

}  // namespace shardrt::launch
