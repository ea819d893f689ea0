#include "dag/dry_run.h"

#include <exception>
#include <memory>
#include <mutex>
#include <thread>

#include "comm/meta_communicator.h"
#include "config/parallel_layout.h"
#include "config/plan.h"
#include "runtime/meta_backend.h"
#include "runtime/process_groups.h"
#include "runtime/tracing_backend.h"
#include "runtime/tracing_communicator.h"
#include "runtime/transformer.h"

namespace shardrt::dag {
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

}  // namespace

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

}  // namespace shardrt::dag
