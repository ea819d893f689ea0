#include "bench/bench_layer.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

#include "bench/forward_timing.h"
#include "bench/op_timing.h"
#include "comm/mpi_communicator.h"
#include "common/atomic_file.h"
#include "common/error_report.h"
#include "common/errors.h"
#include "kernels/cpu/blas_threads.h"
#include "runtime/model_input.h"
#include "runtime/process_groups.h"
#include "runtime/run_setup.h"

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

void printHeader(const config::Deployment& d, const BenchLayerOptions& o,
                 const ExecutionContext& ctx, int ranks, int threads) {
  const Backend& backend = *ctx.backend;
  const double tokens = static_cast<double>(d.workload.batch_size) * d.workload.seq_len;
  std::printf("# shardrt bench layer: %s, %d rank(s), backend %s (%s)", d.name.c_str(), ranks,
              std::string(backend.name()).c_str(), ctx.device.c_str());
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

// The strategies' rows, timed and skipped, as rank 0 writes them to --json.
struct LayerResults {
  nlohmann::json rows = nlohmann::json::array(), skipped = nlohmann::json::array();
};

// A strategy for another number of ranks than launched is skipped, with a line saying why.
void skip(const std::string& name, const config::StrategyConfig& st, int ranks, int rank,
          LayerResults& results) {
  char why[160];
  std::snprintf(why, sizeof why, "uses tp*pp*dp = %d*%d*%d = %d rank(s), %d launched", st.tp, st.pp,
                st.dp, st.worldSize(), ranks);
  if (rank == 0) std::printf("# skipped %s: %s\n", name.c_str(), why);
  results.skipped.push_back({{"strategy", name}, {"reason", why}});
}

// Rank 0's line and JSON row for one timed strategy.
void printRow(const std::string& name, const config::Deployment& one, int ranks, double seconds,
              LayerResults& results) {
  const auto& st = one.strategy;
  const double tokens = static_cast<double>(one.workload.batch_size) * one.workload.seq_len;
  std::printf("  %-16s %3d %3d %3d %3d %3d %6d %11.3f %12.1f\n", name.c_str(), st.tp, st.pp, st.ep,
              st.dp, st.microbatches, ranks, seconds * 1e3, tokens / seconds);
  results.rows.push_back({{"strategy", name},
                          {"tp", st.tp},
                          {"pp", st.pp},
                          {"ep", st.ep},
                          {"dp", st.dp},
                          {"microbatches", st.microbatches},
                          {"ranks", ranks},
                          {"time_ms", seconds * 1e3},
                          {"tokens_per_second", tokens / seconds}});
}

void writeJson(const BenchLayerOptions& o, const ExecutionContext& ctx, int ranks,
               const LayerResults& results) {
  writeFileAtomically(o.json_path, [&](std::ostream& out) {
    out << nlohmann::json{{"deployment", o.deployment_path},
                          {"ranks", ranks},
                          {"backend", std::string(ctx.backend->name())},
                          {"device", ctx.device},
                          {"warmup", o.warmup},
                          {"iters", o.iterations},
                          {"rows", results.rows},
                          {"skipped", results.skipped}}
               .dump(2)
        << "\n";
  });
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
  if (rank == 0) printHeader(d, o, *ctx, n, threads);
  LayerResults results;
  const auto strategies = strategiesOf(d, o);
  for (const auto& [name, one] : strategies) {
    const auto& st = one.strategy;
    if (st.worldSize() != n) {
      skip(name, st, n, rank, results);
      continue;
    }
    if (!fitsOnEveryRank(one, config::makePlan(one),
                         config::ParallelLayout(st.tp, st.pp, st.dp, rank, st.ep), backend,
                         world, mpi.ranksOnThisNode())) {
      return kExitBadInput;
    }
    const double seconds = timeStrategy(one, o, backend, world);
    if (rank == 0) printRow(name, one, n, seconds, results);
  }
  if (results.skipped.size() == strategies.size()) {  // the same on every rank
    reportError(rank, "bench layer: no strategy of " + o.deployment_path + " uses " +
                          std::to_string(n) + " ranks (see the skipped lines; mpirun -np N)");
    return kExitBadInput;
  }
  if (rank == 0 && !o.json_path.empty()) writeJson(o, *ctx, n, results);
  world.barrier();
  return kExitOk;
}

}  // namespace shardrt::bench
