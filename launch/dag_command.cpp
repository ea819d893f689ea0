#include "launch/dag_command.h"

#include <algorithm>
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

dag::GraphInfo dryRunInfo(const std::string& name, const config::Deployment& one,
                          const std::string& what = "dry run") {
  dag::GraphInfo info;
  info.name = name;
  const bool moe = one.model.moe.experts > 0;
  info.title =
      dag::deploymentTitle(one, what + " (meta backend, shapes only)" +
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

// One strategy's generation dry run: its prefill's graph and its first decode step's.
std::vector<dag::DagEntry> drawGeneration(const std::string& name, const config::Deployment& one,
                                          int prompt_tokens, const std::string& out_dir) {
  const auto t0 = std::chrono::steady_clock::now();
  const std::vector<TraceEvent> events = dag::dryRunGeneration(one, prompt_tokens);
  const double run_seconds = secondsSince(t0);
  std::vector<dag::DagEntry> out;
  for (int round : {0, 1}) {
    const std::vector<TraceEvent> of_round = dag::roundEvents(events, round);
    const std::string phase = round == 0 ? "prefill" : "decode";
    const std::string what = round == 0
                                 ? "generation dry run: prefill (round 0) of " +
                                       std::to_string(dag::roundTokens(of_round)) + " prompt tokens"
                                 : "generation dry run: decode step (round 1) of " +
                                       std::to_string(dag::roundTokens(of_round)) + " tokens";
    out.push_back(dag::writeDag(of_round, dryRunInfo(name + "-" + phase, one, what), out_dir));
    const dag::DagEntry& e = out.back();
    std::printf(
        "shardrt dag: %s-%s: %d GPUs, %zu nodes, %zu edges; dry run %.2f s (both rounds)\n"
        "            %s\n            %s\n",
        name.c_str(), phase.c_str(), e.gpus, e.nodes, e.edges, run_seconds, e.dot.c_str(),
        e.svg.c_str());
  }
  return out;
}

}  // namespace

int dagCommand(const DagOptions& o) {
  if (!o.check_path.empty()) return dag::runDagCheck(o.check_path, std::cout, std::cerr);
  const std::optional<config::Deployment> d = loadForDrawing(o);
  if (!d) return kExitBadInput;
  std::vector<dag::DagEntry> entries;
  for (const auto& [name, one] : strategiesOf(*d)) {
    if (!o.generate) {
      entries.push_back(drawStrategy(name, one, o.out_dir));
      continue;
    }
    try {
      const int prompt =
          o.prompt_tokens > 0 ? o.prompt_tokens : std::max(1, one.workload.seq_len / 2);
      for (dag::DagEntry& e : drawGeneration(name, one, prompt, o.out_dir))
        entries.push_back(std::move(e));
    } catch (const ConfigError& e) {
      reportError(0, e.what());
      return kExitBadInput;
    }
  }
  dag::writeDagIndex(entries, o.out_dir);
  std::printf("            %s/dags.json\n", o.out_dir.c_str());
  return kExitOk;
}

}  // namespace shardrt::launch
