// The build phase of `shardrt run` (launch/run_phases.h): the backend and world the executor
// runs on, its process groups, the executor with this rank's shards, its input and output.
#include <chrono>
#include <memory>
#include <string>

#include "common/error_report.h"
#include "launch/run_phases.h"
#include "launch/startup_watch.h"
#include "runtime/fault_skip_attention_all_reduce.h"
#include "runtime/model_input.h"
#include "runtime/rank_agreement.h"

namespace shardrt::launch {
namespace {

// The decorators the options ask for, chained around the context's backend and world; the
// executor runs on the outermost. Without --trace or --check-numerics nothing is wrapped.
void chainDecorators(RunState& run) {
  run.exec_backend = run.backend;
  run.exec_world = run.world;
  // With --trace the executor runs on recorders that wrap the backend and the communicators;
  // they record only during the one traced pass.
  if (run.options.trace_given) {
    run.tracer = std::make_unique<Tracer>(*run.backend, run.world->rank());
    run.traced_backend = std::make_unique<TracingBackend>(*run.backend, *run.tracer);
    run.traced_world = TracingCommunicator::wrapWorld(*run.world, *run.tracer);
    run.exec_backend = run.traced_backend.get();
    run.exec_world = run.traced_world.get();
  }
  // --check-numerics wraps outermost, around the tracer: its check (and, on a GPU, the copy it
  // makes) runs after the tracer's end mark, so a traced op's time is the op's alone.
  if (run.options.check_numerics) {
    run.checked_backend = std::make_unique<NumericsCheckingBackend>(*run.exec_backend);
    run.exec_backend = run.checked_backend.get();
  }
}

// --test-fault-nan-weight must name a weight of the model (the same answer on every rank).
bool faultWeightExists(const RunState& run) {
  const RunOptions& o = run.options;
  if (o.fault_nan_weight.empty() || isWeightName(run.deployment->model, o.fault_nan_weight)) {
    return true;
  }
  if (run.world->rank() == 0) {
    reportError(0, "--test-fault-nan-weight: no weight named " + o.fault_nan_weight +
                       " in this model (docs/config.md, Weights and their names)");
  }
  return false;
}

// Test-only faults wrap what the executor is given: the tp group, and the weights (the
// reference and --dump keep the clean ones).
void wrapTestFaults(RunState& run) {
  const RunOptions& o = run.options;
  if (!o.fault_nan_weight.empty()) run.fault_weights.emplace(*run.weights, o.fault_nan_weight);
  if (o.fault_skip_attention_allreduce) {
    run.groups->tp = std::make_unique<FaultSkipAttentionAllReduce>(std::move(run.groups->tp));
  }
}

ExecutorOptions executorOptions(const RunState& run) {
  ExecutorOptions exec_options;
  exec_options.log_routing = run.options.validate;
  exec_options.weights = run.fault_weights ? &*run.fault_weights : run.weights;
  return exec_options;
}

// The executor builds this rank's shards; the report takes the slowest rank's time, and with
// --weights the figures of the rank that read the most.
void buildExecutor(RunState& run) {
  const ProcessGroups& groups = *run.groups;
  const auto build_start = std::chrono::steady_clock::now();
  run.executor.emplace(*run.deployment, run.report.plan, *run.layout, *run.exec_backend,
                       ExecutorGroups{groups.tp.get(), groups.ep.get(), groups.pp.get()},
                       executorOptions(run));
  const std::chrono::duration<double> build_time = std::chrono::steady_clock::now() - build_start;
  comm::Communicator& world = *run.world;
  RunReport& report = run.report;
  report.weights_seconds = maxOverRanks(world, build_time.count());
  if (run.weight_files) {
    // The rank that read the most, with its own reading time (ties: the slower read).
    const double bytes = static_cast<double>(run.weight_files->bytesRead());
    report.weights_bytes_read = maxOverRanks(world, bytes);
    report.weights_read_seconds = maxOverRanks(
        world, bytes == report.weights_bytes_read ? run.weight_files->secondsReading() : 0.0);
  }
}

}  // namespace

bool build(RunState& run) {
  chainDecorators(run);
  if (!faultWeightExists(run)) return false;
  {
    const StartupPhase phase("the communicator splits (tp, dp, pp, ep)");
    run.groups = ProcessGroups::split(*run.exec_world, *run.layout);
  }
  wrapTestFaults(run);
  buildExecutor(run);
  // Each replica makes only its own rows of the input.
  const config::Deployment& d = *run.deployment;
  run.replica_input = makeModelInput(*run.exec_backend, d, run.executor->replicaBatch());
  run.output = run.exec_backend->empty(run.executor->replicaShape(), d.workload.dtype);
  return true;
}

}  // namespace shardrt::launch
