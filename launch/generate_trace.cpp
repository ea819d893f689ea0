#include "launch/generate_trace.h"

#include <algorithm>
#include <chrono>
#include <exception>

#include "common/atomic_directory.h"
#include "common/error_report.h"
#include "dag/trace_timeline.h"
#include "runtime/rank_agreement.h"

namespace shardrt::launch {
namespace {

dag::GraphInfo graphInfo(const GenerateTraceInput& in, int gpus, const char* phase,
                         const std::string& how) {
  const config::Deployment& d = in.deployment;
  dag::GraphInfo info;
  info.name = dag::graphName(d.name) + "-" + phase;
  info.title = dag::deploymentTitle(
      d, how + "; traced generate, backend " + in.backend + ", communicator " + in.communicator);
  info.gpus = gpus;
  info.layers = d.model.layers;
  info.experts = d.model.moe.experts;
  info.microbatches = d.strategy.microbatches;
  return info;
}

// The first request whose tokens differ, or -1.
int firstDifference(const GenerationResult& a, const GenerationResult& b) {
  for (std::size_t i = 0; i < a.tokens.size(); ++i) {
    if (i >= b.tokens.size() || a.tokens[i] != b.tokens[i]) return static_cast<int>(i);
  }
  return -1;
}

void writeAll(const GenerateTraceInput& in, const std::vector<TraceEvent>& events, int gpus,
              GenerateTrace& t, const std::string& stage) {
  const std::vector<TraceEvent> prefill = dag::roundEvents(events, 0);
  t.graphs.push_back(dag::writeDag(
      prefill,
      graphInfo(
          in, gpus, "prefill",
          "prefill (round 0) of " + std::to_string(dag::roundTokens(prefill)) + " prompt tokens"),
      stage));
  if (t.rounds > 1) {
    const std::vector<TraceEvent> decode = dag::roundEvents(events, 1);
    t.graphs.push_back(dag::writeDag(
        decode,
        graphInfo(
            in, gpus, "decode",
            "decode step (round 1) of " + std::to_string(dag::roundTokens(decode)) + " tokens"),
        stage));
  }
  dag::writeDagIndex(t.graphs, stage);
  std::vector<TraceEvent> ops;
  for (const auto& e : events) {
    if (!isBookkeeping(e)) ops.push_back(e);
  }
  const std::string title = dag::deploymentTitle(
      in.deployment, "traced generate of " + std::to_string(in.requests.size()) + " requests, " +
                         std::to_string(t.rounds) +
                         " rounds (prefill, then decode steps), backend " + in.backend);
  dag::writeTimeline(ops, {in.communicator.substr(0, in.communicator.find(' ')), gpus, title},
                     stage);
  for (dag::DagEntry& g : t.graphs) {
    for (std::string* path : {&g.dot, &g.svg}) {
      if (path->rfind(stage, 0) == 0) *path = t.dir + path->substr(stage.size());
    }
  }
}

}  // namespace

std::optional<GenerateTrace> traceGeneration(comm::Communicator& world,
                                             GenerationExecutor& generator, Tracer& tracer,
                                             const GenerateTraceInput& in) {
  GenerateTrace t;
  t.dir = in.dir;
  GenerationSettings settings = in.settings;
  settings.keep_logits = false;  // the trace shows generation as it runs without --validate
  // Overlapped rounds agree on no totals while they run: the measured generation's label the
  // graphs' tokens (a Dim's whole).
  settings.round_tokens = in.measured.round_tokens;
  generator.setTracer(&tracer);
  world.barrier();  // the ranks' trace clocks start here together
  tracer.start();
  const auto t0 = std::chrono::steady_clock::now();
  const GenerationResult again = generator.generate(in.requests, settings);
  const std::chrono::duration<double> dt = std::chrono::steady_clock::now() - t0;
  const std::vector<TraceEvent> events = tracer.finish();
  generator.setTracer(nullptr);
  t.seconds = maxOverRanks(world, dt.count());
  t.rounds = static_cast<int>(again.round_seconds.size());
  const std::vector<TraceEvent> all = dag::gatherTraces(world, events);
  std::int32_t ok = 1;
  if (world.rank() == 0) {
    try {
      if (const int i = firstDifference(in.measured, again); i >= 0) {
        throw std::runtime_error(
            "the traced generation chose other tokens than the measured "
            "one, first in request " +
            std::to_string(i));
      }
      writeDirectoryAtomically(
          in.dir, [&](const std::string& stage) { writeAll(in, all, world.size(), t, stage); });
    } catch (const std::exception& e) {
      reportError(0, std::string("--trace: ") + e.what());
      ok = 0;
    }
  }
  world.broadcast(&ok, 1, DType::I32, 0);
  if (!ok) return std::nullopt;
  return t;
}

}  // namespace shardrt::launch
