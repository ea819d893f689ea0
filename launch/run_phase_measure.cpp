// The measure phase of `shardrt run` (launch/run_phases.h): the timed forward passes and what
// rank 0 gathers from them, then the --profile pass.
#include "bench/forward_timing.h"
#include "launch/run_phases.h"
#include "runtime/op_profile.h"

namespace shardrt::launch {
namespace {

// A separate pass: timing each op synchronises after it, which the timed passes must not.
void profilePass(RunState& run) {
  TransformerExecutor& executor = *run.executor;
  OpProfile profile;
  executor.setProfile(&profile);
  run.world->barrier();
  executor.forward(run.replica_input, run.output);
  executor.setProfile(nullptr);
  run.report.profile = profile;
}

}  // namespace

void measure(RunState& run) {
  const RunOptions& o = run.options;
  comm::Communicator& world = *run.world;
  TransformerExecutor& executor = *run.executor;
  RunReport& report = run.report;
  report.forward_seconds =
      bench::timeForwards(executor, run.replica_input, run.output, world, o.warmup, o.iterations);
  report.stages = gatherStageTimings(world, report, executor, *run.layout);
  report.moe_layers = gatherMoeCounters(world, report, executor);
  if (o.validate) run.routing = gatherRouting(world, report, executor);
  if (o.profile) profilePass(run);
}

}  // namespace shardrt::launch
