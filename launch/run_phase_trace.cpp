// The trace phase of `shardrt run` (launch/run_phases.h): with --trace, one more forward pass
// on the recorders, and from its events the deployment graph, dags.json and the timeline.
#include <chrono>
#include <exception>
#include <string>

#include "common/atomic_directory.h"
#include "common/error_report.h"
#include "dag/trace_timeline.h"
#include "launch/run_phases.h"
#include "runtime/rank_agreement.h"

namespace shardrt::launch {
namespace {

dag::GraphInfo tracedGraphInfo(const RunReport& r, int gpus) {
  const config::Deployment& d = r.deployment;
  dag::GraphInfo info;
  info.name = dag::graphName(d.name);
  info.title = dag::deploymentTitle(
      d, "traced run, backend " + r.backend + ", communicator " + r.communicator);
  info.gpus = gpus;
  info.layers = d.model.layers;
  info.experts = d.model.moe.experts;
  info.microbatches = d.strategy.microbatches;
  return info;
}

// Rank 0 writes the graph, dags.json and the timeline; every rank returns the same: the report,
// or nullopt after rank 0 printed why it could not write them.
std::optional<TraceReport> writeTrace(comm::Communicator& world, const RunReport& r,
                                      const std::vector<TraceEvent>& events, const std::string& dir,
                                      double traced_seconds) {
  TraceReport t{dir, {}, traced_seconds};
  std::int32_t ok = 1;
  if (world.rank() == 0) {
    try {
      const dag::GraphInfo info = tracedGraphInfo(r, world.size());
      // The folder is written whole and swapped in: no file of an earlier trace (another
      // run's ranks/rank7.trace.json, say) stays beside this one's (common/atomic_directory.h).
      writeDirectoryAtomically(dir, [&](const std::string& stage) {
        t.graph = dag::writeDag(events, info, stage);
        dag::writeDagIndex({t.graph}, stage);
        std::vector<TraceEvent> ops;
        for (const auto& e : events) {
          if (!isBookkeeping(e)) ops.push_back(e);
        }
        dag::writeTimeline(
            ops, {r.communicator.substr(0, r.communicator.find(' ')), world.size(), info.title},
            stage);
        for (std::string* path : {&t.graph.dot, &t.graph.svg}) {
          if (path->rfind(stage, 0) == 0) *path = dir + path->substr(stage.size());
        }
      });
    } catch (const std::exception& e) {
      reportError(0, std::string("--trace: ") + e.what());
      ok = 0;
    }
  }
  world.broadcast(&ok, 1, DType::I32, 0);
  if (!ok) return std::nullopt;
  return t;
}

}  // namespace

bool trace(RunState& run) {
  if (!run.tracer) return true;
  comm::Communicator& world = *run.world;
  TransformerExecutor& executor = *run.executor;
  executor.setTracer(run.tracer.get());
  world.barrier();  // the ranks' trace clocks start here together
  run.tracer->start();
  const auto t0 = std::chrono::steady_clock::now();
  executor.forward(run.replica_input, run.output);
  const std::chrono::duration<double> dt = std::chrono::steady_clock::now() - t0;
  const std::vector<TraceEvent> events = run.tracer->finish();
  executor.setTracer(nullptr);
  run.trace = writeTrace(world, run.report, dag::gatherTraces(world, events), run.options.trace_dir,
                         maxOverRanks(world, dt.count()));
  return run.trace.has_value();
}

}  // namespace shardrt::launch
