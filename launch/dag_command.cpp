#include "launch/dag_command.h"

#include <chrono>
#include <cstdio>
#include <exception>
#include <iostream>
#include <memory>
#include <mutex>
#include <thread>

#include "comm/meta_communicator.h"
#include "common/errors.h"
#include "dag/dag_check.h"
#include "common/error_report.h"
#include "dag/trace_output.h"
#include "config/parallel_layout.h"
#include "config/plan.h"
#include "runtime/meta_backend.h"
#include "runtime/process_groups.h"
#include "runtime/tracing_backend.h"
#include "runtime/tracing_communicator.h"
#include "runtime/transformer.h"

namespace shardrt::launch {
namespace {

// One rank of the dry run, on its own thread: the executor, one traced forward pass.
std::vector<TraceEvent> dryRunRank(const config::Deployment& d, const config::Plan& plan,
                                   comm::Communicator& world) {
  MetaBackend meta;
  Tracer tracer(meta, world.rank());
  TracingBackend backend(meta, tracer);
  auto traced_world = TracingCommunicator::wrapWorld(world, tracer);
  const auto& s = d.strategy;
  const config::ParallelLayout layout(s.tp, s.pp, s.dp, world.rank(), s.ep);
  ProcessGroups groups = ProcessGroups::split(*traced_world, layout);
  ExecutorOptions options;
  TransformerExecutor executor(d, plan, layout, backend,
                               {groups.tp.get(), groups.ep.get(), groups.pp.get()}, options);
  const Tensor input = backend.empty(executor.replicaShape(), d.workload.dtype);
  const Tensor output = backend.empty(executor.replicaShape(), d.workload.dtype);
  executor.setTracer(&tracer);
  tracer.start();
  executor.forward(input, output);
  return tracer.finish();
}

// Every rank of d, a thread each; the first failure stops the others and is rethrown.
std::vector<TraceEvent> dryRun(const config::Deployment& d) {
  const config::Plan plan = config::makePlan(d);
  const int ranks = d.strategy.tp * d.strategy.pp * d.strategy.dp;
  comm::MetaWorld world(ranks);
  std::vector<std::vector<TraceEvent>> per_rank(ranks);
  std::exception_ptr failure;
  std::mutex failure_mutex;
  std::vector<std::thread> threads;
  for (int r = 0; r < ranks; ++r) {
    threads.emplace_back([&, r] {
      try {
        auto comm = world.communicator(r);
        per_rank[r] = dryRunRank(d, plan, *comm);
      } catch (...) {
        std::lock_guard lock(failure_mutex);
        if (!failure) failure = std::current_exception();
        world.abort();
      }
    });
  }
  for (auto& t : threads) t.join();
  if (failure) std::rethrow_exception(failure);
  std::vector<TraceEvent> events;
  for (auto& list : per_rank) {
    for (auto& e : list) events.push_back(std::move(e));
  }
  return events;
}

double secondsSince(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// The strategies to draw: each one the file names, else its one strategy.
std::vector<std::pair<std::string, config::Deployment>> strategiesOf(
    const config::Deployment& d) {
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

}  // namespace

int dagCommand(const DagOptions& o) {
  if (!o.check_path.empty()) return dag::runDagCheck(o.check_path, std::cout, std::cerr);
  config::Deployment d;
  try {
    d = config::loadDeployment(o.deployment_path, o.overrides);
    for (const auto& [name, one] : strategiesOf(d)) {
      const auto& s = one.strategy;
      if (o.ranks > 0 && s.tp * s.pp * s.dp != o.ranks) {
        throw ConfigError("--ranks", name +
                                         " uses tp*pp*dp = " + std::to_string(s.tp * s.pp * s.dp) +
                                         " GPUs, not " + std::to_string(o.ranks));
      }
    }
  } catch (const ConfigError& e) {
    reportError(0, e.what());
    return kExitBadInput;
  }
  std::vector<dag::DagEntry> entries;
  for (const auto& [name, one] : strategiesOf(d)) {
    const auto t0 = std::chrono::steady_clock::now();
    const std::vector<TraceEvent> events = dryRun(one);
    const double run_seconds = secondsSince(t0);
    dag::GraphInfo info;
    info.name = name;
    const bool moe = one.model.moe.experts > 0;
    info.title = dag::deploymentTitle(one, std::string("dry run (meta backend, shapes only)") +
                                          (moe ? "; " + std::string(kMetaRoutingAssumption) : ""));
    info.gpus = one.strategy.tp * one.strategy.pp * one.strategy.dp;
    info.layers = one.model.layers;
    info.experts = one.model.moe.experts;
    info.microbatches = one.strategy.microbatches;
    entries.push_back(dag::writeDag(events, info, o.out_dir));
    const dag::DagEntry& e = entries.back();
    std::printf(
        "shardrt dag: %s: %d GPUs, %zu nodes, %zu edges; dry run %.2f s, graph %.2f s, dot "
        "%.2f s, svg %.2f s (%s)\n            %s\n            %s\n",
        name.c_str(), e.gpus, e.nodes, e.edges, run_seconds, e.build_seconds, e.dot_seconds,
        e.svg_seconds, e.renderer.c_str(), e.dot.c_str(), e.svg.c_str());
  }
  dag::writeDagIndex(entries, o.out_dir);
  std::printf("            %s/dags.json\n", o.out_dir.c_str());
  return kExitOk;
}

}  // namespace shardrt::launch
