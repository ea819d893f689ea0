#include "launch/dag_command.h"

#include <chrono>
#include <cstdio>
#include <iostream>
#include <optional>

#include "common/error_report.h"
#include "common/errors.h"
#include "config/deployment.h"
#include "dag/dag_check.h"
#include "dag/dry_run.h"
#include "dag/trace_output.h"
#include "runtime/meta_backend.h"

namespace shardrt::launch {
namespace {

double secondsSince(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// The strategies to draw: each one the file names, else its one strategy.
std::vector<std::pair<std::string, config::Deployment>> strategiesOf(const config::Deployment& d) {
  std::vector<std::pair<std::string, config::Deployment>> out;
  if (d.strategies.empty()) {
    out.emplace_back(dag::graphName(d.name), d);
  } else {
    for (const auto& s : d.strategies) {
      out.emplace_back(dag::graphName(d.name + "-" + s.name), config::withStrategy(d, s.name));
    }
  }
  return out;
}

// The deployment file, each of whose strategies must use --ranks GPUs when it is given; nullopt
// after saying why not.
std::optional<config::Deployment> loadForDrawing(const DagOptions& o) {
  try {
    config::Deployment d = config::loadDeployment(o.deployment_path, o.overrides);
    for (const auto& [name, one] : strategiesOf(d)) {
      const auto& s = one.strategy;
      if (o.ranks > 0 && s.tp * s.pp * s.dp != o.ranks) {
        throw ConfigError("--ranks", name +
                                         " uses tp*pp*dp = " + std::to_string(s.tp * s.pp * s.dp) +
                                         " GPUs, not " + std::to_string(o.ranks));
      }
    }
    return d;
  } catch (const ConfigError& e) {
    reportError(0, e.what());
    return std::nullopt;
  }
}

dag::GraphInfo dryRunInfo(const std::string& name, const config::Deployment& one) {
  dag::GraphInfo info;
  info.name = name;
  const bool moe = one.model.moe.experts > 0;
  info.title =
      dag::deploymentTitle(one, std::string("dry run (meta backend, shapes only)") +
                                    (moe ? "; " + std::string(kMetaRoutingAssumption) : ""));
  info.gpus = one.strategy.tp * one.strategy.pp * one.strategy.dp;
  info.layers = one.model.layers;
  info.experts = one.model.moe.experts;
  info.microbatches = one.strategy.microbatches;
  return info;
}

// One strategy's dry run drawn into DIR, with a line saying what it took.
dag::DagEntry drawStrategy(const std::string& name, const config::Deployment& one,
                           const std::string& out_dir) {
  const auto t0 = std::chrono::steady_clock::now();
  const std::vector<TraceEvent> events = dag::dryRun(one);
  const double run_seconds = secondsSince(t0);
  dag::DagEntry e = dag::writeDag(events, dryRunInfo(name, one), out_dir);
  std::printf(
      "shardrt dag: %s: %d GPUs, %zu nodes, %zu edges; dry run %.2f s, graph %.2f s, dot "
      "%.2f s, svg %.2f s (%s)\n            %s\n            %s\n",
      name.c_str(), e.gpus, e.nodes, e.edges, run_seconds, e.build_seconds, e.dot_seconds,
      e.svg_seconds, e.renderer.c_str(), e.dot.c_str(), e.svg.c_str());
  return e;
}

}  // namespace

int dagCommand(const DagOptions& o) {
  if (!o.check_path.empty()) return dag::runDagCheck(o.check_path, std::cout, std::cerr);
  const std::optional<config::Deployment> d = loadForDrawing(o);
  if (!d) return kExitBadInput;
  std::vector<dag::DagEntry> entries;
  for (const auto& [name, one] : strategiesOf(*d)) {
    entries.push_back(drawStrategy(name, one, o.out_dir));
  }
  dag::writeDagIndex(entries, o.out_dir);
  std::printf("            %s/dags.json\n", o.out_dir.c_str());
  return kExitOk;
}

}  // namespace shardrt::launch
