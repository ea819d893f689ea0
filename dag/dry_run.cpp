#include "dag/dry_run.h"

#include <exception>
#include <memory>
#include <mutex>
#include <thread>

#include "comm/meta_communicator.h"
#include "common/errors.h"
#include "config/parallel_layout.h"
#include "config/plan.h"
#include "runtime/generation_executor.h"
#include "runtime/meta_backend.h"
#include "runtime/process_groups.h"
#include "runtime/tracing_backend.h"
#include "runtime/tracing_communicator.h"
#include "runtime/transformer.h"

namespace shardrt::dag {
namespace {

// One rank of a dry run: the meta backend and the rank's communicators behind the recorders of
// `run --trace`, and its process groups, on which the rank's executor runs.
struct MetaRank {
  MetaBackend meta;
  Tracer tracer;
  TracingBackend backend;
  std::unique_ptr<TracingCommunicator> traced_world;
  config::ParallelLayout layout;
  ProcessGroups groups;
  MetaRank(const config::Deployment& d, comm::Communicator& world)
      : tracer(meta, world.rank()),
        backend(meta, tracer),
        traced_world(TracingCommunicator::wrapWorld(world, tracer)),
        layout(d.strategy.tp, d.strategy.pp, d.strategy.dp, world.rank(), d.strategy.ep),
        groups(ProcessGroups::split(*traced_world, layout)) {}
  ExecutorGroups executorGroups() const {
    return {groups.tp.get(), groups.ep.get(), groups.pp.get()};
  }
};

// One rank of the dry run, on its own thread: the executor, one traced forward pass.
std::vector<TraceEvent> dryRunRank(const config::Deployment& d, const config::Plan& plan,
                                   comm::Communicator& world) {
  MetaRank r(d, world);
  TransformerExecutor executor(d, plan, r.layout, r.backend, r.executorGroups(), ExecutorOptions{});
  const Tensor input = r.backend.empty(executor.replicaShape(), d.workload.dtype);
  const Tensor output = r.backend.empty(executor.replicaShape(), d.workload.dtype);
  executor.setTracer(&r.tracer);
  r.tracer.start();
  executor.forward(input, output);
  return r.tracer.finish();
}

// One rank of a generation's dry run: the generation executor, two rounds traced. `world`
// stays untraced for the executor's agreements between rounds, as in `generate --trace`.
std::vector<TraceEvent> dryRunGenerationRank(const config::Deployment& d, const config::Plan& plan,
                                             comm::Communicator& world,
                                             const std::vector<GenerationRequest>& requests) {
  MetaRank r(d, world);
  ExecutorOptions options;
  options.step_tokens = GenerationExecutor::stepTokens(plan, requests);
  GenerationExecutor generator(d, plan, r.layout, r.backend, r.executorGroups(), world, options);
  generator.setTracer(&r.tracer);
  r.tracer.start();
  generator.generate(requests, GenerationSettings{});
  return r.tracer.finish();
}

// Every rank's events from `run(rank, world)`, each rank a thread of this process over a meta
// world; the first failure stops the others and is rethrown.
template <typename Run>
std::vector<TraceEvent> onEveryRank(int ranks, const Run& run) {
  comm::MetaWorld world(ranks);
  std::vector<std::vector<TraceEvent>> per_rank(ranks);
  std::exception_ptr failure;
  std::mutex failure_mutex;
  std::vector<std::thread> threads;
  for (int r = 0; r < ranks; ++r) {
    threads.emplace_back([&, r] {
      try {
        auto comm = world.communicator(r);
        per_rank[r] = run(*comm);
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

}  // namespace

std::vector<TraceEvent> dryRunGeneration(const config::Deployment& d, int prompt_tokens) {
  if (d.model.vocab <= 0) {
    throw ConfigError("model.vocab_size", "dag --generate needs the model's vocabulary");
  }
  if (prompt_tokens < 1 || prompt_tokens + 2 > d.workload.seq_len) {
    throw ConfigError("--prompt-tokens",
                      "must be at least 1 and leave room for 2 new tokens in workload.seq_len (" +
                          std::to_string(d.workload.seq_len) + "), got " +
                          std::to_string(prompt_tokens));
  }
  const config::Plan plan = config::makePlan(d);
  const std::vector<GenerationRequest> requests(
      static_cast<std::size_t>(d.workload.batch_size),
      GenerationRequest{std::vector<std::int32_t>(static_cast<std::size_t>(prompt_tokens), 0), 2});
  return onEveryRank(d.strategy.tp * d.strategy.pp * d.strategy.dp, [&](comm::Communicator& w) {
    return dryRunGenerationRank(d, plan, w, requests);
  });
}

std::vector<TraceEvent> dryRun(const config::Deployment& d) {
  const config::Plan plan = config::makePlan(d);
  return onEveryRank(d.strategy.tp * d.strategy.pp * d.strategy.dp,
                     [&](comm::Communicator& w) { return dryRunRank(d, plan, w); });
}

}  // namespace shardrt::dag
