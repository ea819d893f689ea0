#include "bench/bench_decode.h"

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>

#include "bench/op_timing.h"
#include "comm/mpi_communicator.h"
#include "common/atomic_file.h"
#include "common/error_report.h"
#include "common/errors.h"
#include "kernels/cpu/blas_threads.h"
#include "runtime/generation_executor.h"
#include "runtime/process_groups.h"
#include "runtime/rank_agreement.h"
#include "runtime/run_setup.h"

namespace shardrt::bench {
namespace {

// B prompts of C ids, the same on every rank (a fixed seed).
std::vector<GenerationRequest> prompts(int batch, int context, int vocab, int new_tokens) {
  std::mt19937 rng(12345);
  std::uniform_int_distribution<int> id(0, vocab - 1);
  std::vector<GenerationRequest> requests(static_cast<std::size_t>(batch));
  for (auto& r : requests) {
    for (int t = 0; t < context; ++t) r.prompt.push_back(id(rng));
    r.max_new_tokens = new_tokens;
  }
  return requests;
}

struct Row {
  int batch, context;
  double prefill, step_median, step_p99, per_token, tokens_per_second;
  RoundSchedule schedule;  // the one that ran
};

// nullopt after every rank said why it cannot record graphs (--cuda-graphs).
std::optional<Row> timeOne(const config::Deployment& d, int batch, int context,
                           const BenchDecodeOptions& o, Backend& backend, comm::Communicator& world,
                           comm::Communicator& host_world) {
  const config::Plan plan = config::makePlan(d);
  const auto& st = d.strategy;
  const config::ParallelLayout layout(st.tp, st.pp, st.dp, world.rank(), st.ep);
  ProcessGroups groups = ProcessGroups::split(world, layout);
  const auto requests = prompts(batch, context, d.model.vocab, o.new_tokens);
  ExecutorOptions options;
  options.step_tokens = GenerationExecutor::stepTokens(plan, requests);
  GenerationExecutor generator(d, plan, layout, backend,
                               {groups.tp.get(), groups.ep.get(), groups.pp.get()}, host_world,
                               options);
  if (o.cuda_graphs) {
    const std::string why = generator.graphsUnavailable();
    if (!noRankFailed(host_world, why.empty() ? "" : "--cuda-graphs: " + why,
                      "a rank cannot record graphs")) {
      return std::nullopt;
    }
    generator.useGraphs();
  }
  GenerationSettings greedy;  // no stop tokens: every request runs to new_tokens
  greedy.schedule = roundScheduleNamed(o.schedule);
  for (int w = 0; w < o.warmup; ++w) generator.generate(requests, greedy);
  host_world.barrier();
  const GenerationResult r = generator.generate(requests, greedy);
  std::vector<double> steps;
  for (std::size_t k = 1; k < r.round_seconds.size(); ++k) {
    steps.push_back(r.round_seconds[k] - r.round_seconds[k - 1]);
  }
  const double total = r.round_seconds.back(), prefill = r.round_seconds.front();
  return Row{batch,
             context,
             prefill,
             median(steps),
             percentile(steps, 0.99),
             (total - prefill) / std::max(1, o.new_tokens - 1),
             batch * o.new_tokens / total,
             r.schedule};
}

}  // namespace

int benchDecode(const BenchDecodeOptions& o, const comm::MpiSession& mpi) {
  auto host_world = comm::MpiCommunicator::wrap(MPI_COMM_WORLD, "world");
  const std::optional<config::Deployment> loaded =
      loadOnEveryRank(o.deployment_path, o.overrides, "", true, *host_world);
  if (!loaded) return kExitBadInput;
  std::string error;
  if (loaded->model.vocab == 0) {
    error = "model.vocab_size: bench decode generates tokens and needs the vocabulary";
  } else if (o.new_tokens < 2) {
    error = "--new-tokens: must be at least 2 (a decode step after the first token)";
  }
  if (!noRankFailed(*host_world, error, "another rank refused the deployment")) {
    return kExitBadInput;
  }
  const std::optional<ExecutionContext> ctx =
      contextOnEveryRank(o.device, mpi, loaded->workload.dtype, *host_world);
  if (!ctx) return kExitBadInput;
  Backend& backend = *ctx->backend;
  comm::Communicator& world = *ctx->world;
  const int threads = o.threads > 0 ? o.threads : defaultBlasThreads(mpi);
  kernels::cpu::setBlasThreads(threads);
  const int rank = world.rank(), ranks = world.size();
  const auto& st = loaded->strategy;
  if (rank == 0) {
    std::printf(
        "# shardrt bench decode: %s, tp %d pp %d ep %d dp %d mb %d = %d rank(s), backend %s "
        "(%s), %d BLAS thread(s) per rank, %s\n",
        loaded->name.c_str(), st.tp, st.pp, st.ep, st.dp, st.microbatches, ranks,
        std::string(backend.name()).c_str(), ctx->device.c_str(), threads,
        std::string(dtypeName(loaded->workload.dtype)).c_str());
    std::printf(
        "# B prompts of C random ids, %d new tokens each, greedy; after %d warm-up generation(s), "
        "one timed; times: the slowest rank's; decode steps %s; rounds %s (generate "
        "--schedule)\n"
        "# prefill = time to first token; step = one decode step (a token for every request); "
        "tpot = (total - prefill) / (new tokens - 1)\n",
        o.new_tokens, o.warmup,
        o.cuda_graphs ? "replayed from CUDA graphs (each recorded at its first use)" : "eager",
        o.schedule.c_str());
    std::printf("# %5s %7s %12s %12s %12s %12s %12s %14s\n", "B", "C", "prefill(ms)",
                "step_med(ms)", "step_p99(ms)", "tpot(ms)", "tokens/s", "tokens/s/rank");
  }
  nlohmann::json rows = nlohmann::json::array();
  for (int batch : o.batches) {
    for (int context : o.contexts) {
      config::Deployment d = *loaded;
      d.workload.batch_size = batch;
      d.workload.seq_len = context + o.new_tokens;
      std::string why;
      try {
        config::checkRules(d);
      } catch (const ConfigError& e) {
        why = e.what();
      }
      if (!why.empty()) {  // the same on every rank: the deployment is agreed
        if (rank == 0) std::printf("# skipped B %d C %d: %s\n", batch, context, why.c_str());
        continue;
      }
      const config::Plan plan = config::makePlan(d);
      const long step_tokens = GenerationExecutor::stepTokens(
          plan, prompts(batch, context, d.model.vocab, o.new_tokens));
      if (!fitsOnEveryRank(d, plan, config::ParallelLayout(st.tp, st.pp, st.dp, rank, st.ep),
                           backend, *host_world, mpi.ranksOnThisNode(), step_tokens)) {
        return kExitBadInput;
      }
      const std::optional<Row> timed = timeOne(d, batch, context, o, backend, world, *host_world);
      if (!timed) return kExitBadInput;
      const Row& r = *timed;
      if (rank != 0) continue;
      if (roundScheduleName(r.schedule) != o.schedule) {
        std::printf("# rounds ran %s: an expert-parallel group spans replicas\n",
                    roundScheduleName(r.schedule));
      }
      std::printf("  %5d %7d %12.3f %12.3f %12.3f %12.3f %12.1f %14.1f\n", r.batch, r.context,
                  r.prefill * 1e3, r.step_median * 1e3, r.step_p99 * 1e3, r.per_token * 1e3,
                  r.tokens_per_second, r.tokens_per_second / ranks);
      std::fflush(stdout);
      rows.push_back({{"batch", r.batch},
                      {"context", r.context},
                      {"prefill_ms", r.prefill * 1e3},
                      {"step_median_ms", r.step_median * 1e3},
                      {"step_p99_ms", r.step_p99 * 1e3},
                      {"time_per_output_token_ms", r.per_token * 1e3},
                      {"tokens_per_second", r.tokens_per_second},
                      {"tokens_per_second_per_rank", r.tokens_per_second / ranks},
                      {"schedule", roundScheduleName(r.schedule)}});
    }
  }
  if (rank == 0 && !o.json_path.empty()) {
    writeFileAtomically(o.json_path, [&](std::ostream& out) {
      out << nlohmann::json{{"deployment", o.deployment_path},
                            {"ranks", ranks},
                            {"backend", std::string(backend.name())},
                            {"blas_threads", threads},
                            {"new_tokens", o.new_tokens},
                            {"rows", rows}}
                 .dump(2)
          << "\n";
    });
  }
  return kExitOk;
}

}  // namespace shardrt::bench
