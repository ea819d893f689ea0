// The report phase of `shardrt run` (launch/run_phases.h): rank 0 writes result.json and the
// --dump files and prints the summary; the other ranks wait for it.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>

#include "common/atomic_file.h"
#include "launch/dump.h"
#include "launch/run_phases.h"
#include "runtime/host_values.h"
#include "runtime/model_input.h"
#include "runtime/op_context.h"

namespace shardrt::launch {
namespace {

// Writes result.json and the --dump files; returns where result.json is.
std::string writeResultFiles(const RunState& run) {
  const RunOptions& o = run.options;
  // A failure here names this step, not the forward pass's last op (final_norm).
  enterLayer(-1, -1);
  enterOp("write_outputs");
  std::filesystem::create_directories(o.out_dir);
  const std::string result_path = o.out_dir + "/result.json";
  writeFileAtomically(result_path,
                      [&](std::ostream& out) { out << toJson(run.report).dump(2) << "\n"; });
  if (o.dump_given) {
    Backend& backend = *run.backend;
    const config::Deployment& d = *run.deployment;
    writeDump(o.dump_dir, d, *run.weights,
              downloadFloats(backend, makeModelInput(backend, d)).data(),
              assembleOutput(run.outputs, run.report).data());
  }
  return result_path;
}

void printTrace(std::ostream& os, const TraceReport& t, const RunReport& r) {
  char line[160];
  std::snprintf(line, sizeof line, "  trace     traced pass %.3f ms (median untraced %.3f ms)\n",
                1e3 * t.traced_seconds, 1e3 * r.medianForwardSeconds());
  os << line << "            " << t.graph.dot << " (" << t.graph.nodes << " nodes, "
     << t.graph.edges << " edges), " << t.graph.svg << " (" << t.graph.renderer << ")\n            "
     << t.dir << "/dags.json, " << t.dir << "/trace.json and " << t.dir
     << "/ranks/rank<N>.trace.json\n";
}

void printOutcome(const RunState& run, const std::string& result_path) {
  const RunOptions& o = run.options;
  printSummary(std::cout, run.report);
  std::cout << "  result    " << result_path << "\n";
  if (o.dump_given) std::cout << "  dump      " << o.dump_dir << "/\n";
  if (run.trace) printTrace(std::cout, *run.trace, run.report);
  if (run.checked_backend) {
    // Reaching here means no rank threw: every checked output on every rank was finite.
    std::cout << "  numerics  no NaN or Inf in any op output (--check-numerics; "
              << run.checked_backend->checkedOutputs() << " outputs checked on rank 0)\n";
  }
  std::cout << std::flush;
}

}  // namespace

void report(RunState& run) {
  // Read after the forward passes (and the reference), so it counts what actually ran.
  run.report.attention = run.context->backend->attentionSummary();
  if (run.world->rank() == 0) printOutcome(run, writeResultFiles(run));
  run.world->barrier();  // nobody exits before rank 0 has written and printed
}

}  // namespace shardrt::launch
