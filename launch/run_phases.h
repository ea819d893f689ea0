// The phases of `shardrt run`, in the order runCommand calls them. Every rank runs every
// phase; a phase that fails returns false on every rank (after one rank said why), so that
// no rank is left waiting in a collective.
//   agree     the deployment, the test fault, the weights, the device, the memory fit
//   build     the decorators around the backend and the world, the groups, the executor
//   measure   the timed forward passes, the stage timings, the MoE counters, the routing,
//             the --profile pass
//   trace     the --trace pass and its files
//   validate  the outputs gathered on rank 0 and compared with the unsharded reference
//   report    result.json, --dump and the summary
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "comm/communicator.h"
#include "comm/mpi_session.h"
#include "config/deployment.h"
#include "config/parallel_layout.h"
#include "dag/trace_output.h"
#include "launch/gather_results.h"
#include "launch/run_command.h"
#include "launch/run_report.h"
#include "runtime/execution_context.h"
#include "runtime/fault_nan_weight.h"
#include "runtime/model_weights.h"
#include "runtime/numerics_checking_backend.h"
#include "runtime/process_groups.h"
#include "runtime/tensor.h"
#include "runtime/tracer.h"
#include "runtime/tracing_backend.h"
#include "runtime/tracing_communicator.h"
#include "runtime/transformer.h"
#include "runtime/weight_files.h"

namespace shardrt::launch {

// What --trace wrote, for the summary.
struct TraceReport {
  std::string dir;
  dag::DagEntry graph;
  double traced_seconds = 0.0;
};

// What the phases hand on to the next. Members are destroyed in reverse order, so the executor
// and its tensors go before the groups, the decorators and the backend they use.
struct RunState {
  RunState(const RunOptions& run_options, const comm::MpiSession& session)
      : options(run_options), mpi(session) {}
  RunState(const RunState&) = delete;
  RunState& operator=(const RunState&) = delete;

  const RunOptions& options;
  const comm::MpiSession& mpi;

  // agree
  std::unique_ptr<comm::Communicator> mpi_world;  // for agreeing before the context exists
  std::optional<config::Deployment> deployment;
  std::optional<WeightFiles> weight_files;            // with --weights
  std::optional<GeneratedWeights> generated_weights;  // used without --weights
  const WeightSource* weights = nullptr;              // one of the two
  std::optional<ExecutionContext> context;
  comm::Communicator* world = nullptr;  // the context's
  Backend* backend = nullptr;           // the context's
  RunReport report;
  std::optional<config::ParallelLayout> layout;

  // build: the executor runs on exec_backend and exec_world, which are the context's own or
  // decorators around them.
  std::unique_ptr<Tracer> tracer;
  std::unique_ptr<TracingBackend> traced_backend;
  std::unique_ptr<TracingCommunicator> traced_world;
  std::unique_ptr<NumericsCheckingBackend> checked_backend;
  Backend* exec_backend = nullptr;
  comm::Communicator* exec_world = nullptr;
  std::optional<ProcessGroups> groups;          // with --test-fault-skip-allreduce, tp is wrapped
  std::optional<FaultNanWeight> fault_weights;  // with --test-fault-nan-weight: the executor's
  std::optional<TransformerExecutor> executor;
  Tensor replica_input;  // this replica's rows of the input
  Tensor output;

  // measure, trace, validate
  std::vector<std::vector<std::int32_t>> routing;  // with --validate
  std::optional<TraceReport> trace;
  std::vector<OutputCopy> outputs;  // with --validate or --dump
};

bool agree(RunState& run);
bool build(RunState& run);
void measure(RunState& run);
bool trace(RunState& run);  // true also when there is nothing to trace
void validate(RunState& run);
void report(RunState& run);

}  // namespace shardrt::launch
