#include "bench/bench_layer.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

#include "comm/mpi_communicator.h"
#include "common/errors.h"
#include "kernels/cpu/blas_threads.h"
#include "common/error_report.h"
#include "bench/forward_timing.h"
#include "bench/op_timing.h"
#include "runtime/run_setup.h"
#include "runtime/model_input.h"
#include "runtime/process_groups.h"

namespace shardrt::bench {
namespace {

// The strategies to time, each as the deployment that runs it.
std::vector<std::pair<std::string, config::Deployment>> strategiesOf(const config::Deployment& d,
                                                                      const BenchLayerOptions& o) {
  if (!o.strategy.empty()) return {{o.strategy, d}};   // already withStrategy(d, o.strategy)
  if (d.strategies.empty()) return {{"strategy", d}};  // the file's one, unnamed
  std::vector<std::pair<std::string, config::Deployment>> out;
  for (const auto& s : d.strategies) out.emplace_back(s.name, config::withStrategy(d, s.name));
  return out;
}

// The median forward seconds of `d` on this backend and world.
double timeStrategy(const config::Deployment& d, const BenchLayerOptions& o, Backend& backend,
                    comm::Communicator& world) {
  const config::Plan plan = config::makePlan(d);
  const auto& st = d.strategy;
  const config::ParallelLayout layout(st.tp, st.pp, st.dp, world.rank(), st.ep);
  ProcessGroups groups = ProcessGroups::split(world, layout);
  TransformerExecutor executor(d, plan, layout, backend,
                               {groups.tp.get(), groups.ep.get(), groups.pp.get()});
  const Tensor input = makeModelInput(backend, d, executor.replicaBatch());
  const Tensor output = backend.empty(executor.replicaShape(), d.workload.dtype);
  return median(timeForwards(executor, input, output, world, o.warmup, o.iterations));
}

}  // namespace

int benchLayer(const BenchLayerOptions& o, const comm::MpiSession& mpi) {
  auto mpi_world = comm::MpiCommunicator::wrap(MPI_COMM_WORLD, "world");
  const std::optional<config::Deployment> deployment =
      loadOnEveryRank(o.deployment_path, o.overrides, o.strategy, false, *mpi_world);
  if (!deployment) return kExitBadInput;
  const config::Deployment& d = *deployment;
  const std::optional<ExecutionContext> ctx =
      contextOnEveryRank(o.device, mpi, d.workload.dtype, *mpi_world);
  if (!ctx) return kExitBadInput;
  comm::Communicator& world = *ctx->world;
  Backend& backend = *ctx->backend;
  const int threads = defaultBlasThreads(mpi);
  kernels::cpu::setBlasThreads(threads);
  const int n = world.size(), rank = world.rank();
  const double tokens = static_cast<double>(d.workload.batch_size) * d.workload.seq_len;
  if (rank == 0) {
    std::printf("# shardrt bench layer: %s, %d rank(s), backend %s (%s)", d.name.c_str(), n,
                std::string(backend.name()).c_str(), ctx->device.c_str());
    if (backend.device() == Device::Cpu) std::printf(", %d BLAS thread(s) per rank", threads);
    std::printf(", warmup %d, iters %d\n", o.warmup, o.iterations);
    std::printf(
        "# %d layer(s), hidden %d, batch %d x seq_len %d = %.0f tokens, %s\n"
        "# time: the median over iters of a forward pass's slowest rank; tokens/s = tokens / "
        "time\n",
        d.model.layers, d.model.hidden, d.workload.batch_size, d.workload.seq_len, tokens,
        std::string(dtypeName(d.workload.dtype)).c_str());
    std::printf("# %-16s %3s %3s %3s %3s %3s %6s %11s %12s\n", "strategy", "tp", "pp", "ep", "dp",
                "mb", "ranks", "time(ms)", "tokens/s");
  }
  nlohmann::json rows = nlohmann::json::array(), skipped = nlohmann::json::array();
  const auto strategies = strategiesOf(d, o);
  for (const auto& [name, one] : strategies) {
    const auto& st = one.strategy;
    if (st.worldSize() != n) {
      char why[160];
      std::snprintf(why, sizeof why, "uses tp*pp*dp = %d*%d*%d = %d rank(s), %d launched", st.tp,
                    st.pp, st.dp, st.worldSize(), n);
      if (rank == 0) std::printf("# skipped %s: %s\n", name.c_str(), why);
      skipped.push_back({{"strategy", name}, {"reason", why}});
      continue;
    }
    if (!fitsOnEveryRank(one, config::makePlan(one),
                         config::ParallelLayout(st.tp, st.pp, st.dp, rank, st.ep), backend,
                         world)) {
      return kExitBadInput;
    }
    const double seconds = timeStrategy(one, o, backend, world);
    if (rank == 0) {
      std::printf("  %-16s %3d %3d %3d %3d %3d %6d %11.3f %12.1f\n", name.c_str(), st.tp, st.pp,
                  st.ep, st.dp, st.microbatches, n, seconds * 1e3, tokens / seconds);
      rows.push_back({{"strategy", name},
                      {"tp", st.tp},
                      {"pp", st.pp},
                      {"ep", st.ep},
                      {"dp", st.dp},
                      {"microbatches", st.microbatches},
                      {"ranks", n},
                      {"time_ms", seconds * 1e3},
                      {"tokens_per_second", tokens / seconds}});
    }
  }
  if (skipped.size() == strategies.size()) {  // the same on every rank
    reportError(rank, "bench layer: no strategy of " + o.deployment_path + " uses " +
                          std::to_string(n) + " ranks (see the skipped lines; mpirun -np N)");
    return kExitBadInput;
  }
  if (rank == 0 && !o.json_path.empty()) {
    std::ofstream(o.json_path) << nlohmann::json{{"deployment", o.deployment_path},
                                                 {"ranks", n},
                                                 {"backend", std::string(backend.name())},
                                                 {"device", ctx->device},
                                                 {"warmup", o.warmup},
                                                 {"iters", o.iterations},
                                                 {"rows", rows},
                                                 {"skipped", skipped}}
                                      .dump(2)
                               << "\n";
  }
  world.barrier();
  return kExitOk;
}

}  // namespace shardrt::bench
