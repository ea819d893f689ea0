#include "launch/generate_command.h"

#include <filesystem>
#include <iostream>
#include <memory>

#include "comm/collective_log.h"
#include "comm/mpi_communicator.h"
#include "comm/progress_board.h"
#include "common/atomic_file.h"
#include "common/error_report.h"
#include "common/errors.h"
#include "config/plan.h"
#include "kernels/cpu/blas_threads.h"
#include "launch/generate_report.h"
#include "launch/generate_requests.h"
#include "launch/output_paths.h"
#include "launch/startup_watch.h"
#include "runtime/consistency_check.h"
#include "runtime/op_context.h"
#include "runtime/process_groups.h"
#include "runtime/rank_agreement.h"
#include "runtime/reference.h"
#include "runtime/run_setup.h"
#include "runtime/tracing_backend.h"
#include "runtime/tracing_communicator.h"
#include "runtime/validation.h"

namespace shardrt::launch {
namespace {

struct Requested {
  std::vector<GenerationRequest> requests;
  GenerationSettings settings;
};

// Every rank reads the prompts itself and checks them against the deployment.
std::optional<Requested> requestsOnEveryRank(const GenerateOptions& o, const config::Deployment& d,
                                             comm::Communicator& world) {
  Requested r;
  std::string error;
  try {
    if (o.temperature <= 0.0 && (o.top_k > 0 || o.top_p < 1.0)) {
      throw ConfigError(o.top_k > 0 ? "--top-k" : "--top-p",
                        "shapes sampling; greedy choice (no --temperature) would ignore it");
    }
    r.requests = readRequests(o.prompts_path, o.prompts, o.max_new_tokens);
    checkRequests(d, r.requests);
  } catch (const ConfigError& e) {
    error = e.what();
  }
  if (!noRankFailed(world, error, "another rank refused the prompts")) return std::nullopt;
  r.settings.sampling = {o.temperature, o.top_k, o.top_p,
                         o.seed >= 0 ? static_cast<std::uint64_t>(o.seed) : d.seed};
  if (!o.ignore_eos) r.settings.stop_tokens = d.model.eos_tokens;
  r.settings.keep_logits = o.validate;
  r.settings.schedule = roundScheduleNamed(o.schedule);
  return r;
}

// Rank 0 generates the same requests unsharded and compares.
GenerationCheck checkAgainstUnsharded(const config::Deployment& d, const Requested& asked,
                                      const GenerationResult& got, Backend& backend,
                                      comm::Communicator& self, const WeightSource& weights) {
  const config::Deployment whole = unsharded(d);
  const config::Plan plan = config::makePlan(whole);
  const config::ParallelLayout layout(1, 1, 1, 0, 1);
  auto host_self = comm::MpiCommunicator::wrap(MPI_COMM_SELF, "self");
  ExecutorOptions options;
  options.weights = &weights;
  options.step_tokens = GenerationExecutor::stepTokens(plan, asked.requests);
  GenerationExecutor reference(whole, plan, layout, backend, {&self, &self, &self}, *host_self,
                               options);
  const GenerationResult want = reference.generate(asked.requests, asked.settings);
  GenerationCheck c;
  c.tolerance = validationTolerance(d.workload.dtype);
  c.tokens_equal = true;
  bool finite = true;
  for (std::size_t i = 0; i < got.tokens.size(); ++i) {
    if (got.tokens[i] != want.tokens[i] && c.tokens_equal) {
      c.tokens_equal = false;
      c.first_difference_request = static_cast<int>(i);
    }
    // The logits of the tokens both chose alike (after a difference they see other inputs).
    std::size_t same = 0;
    while (same < got.tokens[i].size() && same < want.tokens[i].size() &&
           got.tokens[i][same] == want.tokens[i][same]) {
      ++same;
    }
    if (same < std::min(got.tokens[i].size(), want.tokens[i].size()))
      ++same;  // the first differing
    const std::size_t n = same * static_cast<std::size_t>(d.model.vocab);
    if (n == 0) continue;
    const Comparison cmp = compare(got.logits[i].data(), want.logits[i].data(), n);
    finite = finite && cmp.finite;
    if (!cmp.finite || cmp.rel_err > c.worst_rel_err || c.worst_request < 0) {
      c.worst_rel_err = cmp.finite ? std::max(c.worst_rel_err, cmp.rel_err) : cmp.rel_err;
      c.worst_request = static_cast<int>(i);
    }
  }
  c.passed = c.tokens_equal && finite && c.worst_rel_err <= c.tolerance;
  return c;
}

}  // namespace

CLI::App* addGenerateCommand(CLI::App& app, GenerateOptions& o) {
  CLI::App* g = app.add_subcommand(
      "generate", "Generate tokens: prefill the prompts, then decode over a sharded KV cache");
  g->add_option("deployment", o.deployment_path, "Deployment file (JSON, see docs/config.md)")
      ->required();
  g->add_option("--prompts", o.prompts_path,
                "JSON file of prompts: {\"requests\": [{\"tokens\": [ids], \"max_new_tokens\": "
                "n}]} or a list of lists of ids");
  g->add_option("--prompt", o.prompts, "One prompt as token ids, \"1,2,3\" (repeatable)")
      ->allow_extra_args(false);
  g->add_option("--max-new-tokens", o.max_new_tokens,
                "New tokens per request unless it gives its own")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  g->add_option("--temperature", o.temperature, "0: greedy; else sample at this temperature")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  g->add_option("--top-k", o.top_k, "Sample among the k likeliest tokens (0: all)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  g->add_option("--top-p", o.top_p, "Sample among the likeliest tokens that reach p")
      ->check(CLI::Range(1e-6, 1.0))
      ->capture_default_str();
  g->add_option("--seed", o.seed, "Sampling seed (default: the deployment's seed)")
      ->check(CLI::NonNegativeNumber);
  g->add_flag("--ignore-eos", o.ignore_eos,
              "Do not stop at the model's eos_token_id; every request runs to max_new_tokens");
  g->add_flag("--validate", o.validate,
              "Generate unsharded on rank 0 too: the tokens must be identical and every "
              "step's logits within the dtype's tolerance; exit 1 on FAIL");
  g->add_option("--schedule", o.schedule,
                "overlap: each microbatch's next step starts once its tokens are chosen; "
                "lockstep: every stage waits for the whole round (docs/generate.md)")
      ->check(CLI::IsMember({"overlap", "lockstep"}))
      ->capture_default_str();
  g->add_flag("--cuda-graphs", o.cuda_graphs,
              "Record each decode step's device work as a CUDA graph once and replay it (cuda, "
              "pp 1, dense layers, NCCL); off by default until a GPU run has proved it");
  g->add_option("--device", o.device, "cpu, cuda, or auto (cuda when a GPU is visible)")
      ->check(CLI::IsMember({"cpu", "cuda", "auto"}))
      ->capture_default_str();
  g->add_option("--out", o.out_dir, "Directory for generate.json")->capture_default_str();
  g->add_option_function<std::string>(
      "--trace",
      [&o](const std::string& dir) {
        o.trace_dir = dir;
        o.trace_given = true;
      },
      "Generate once more on the tracer: DIR/<name>-prefill and -decode .dot/.svg (the prefill's "
      "and a decode step's deployment graphs), DIR/dags.json, DIR/trace.json and "
      "DIR/ranks/rank<N>.trace.json (the timeline of every round)");
  g->add_option("--weights", o.weights_path,
                "Read the weights (the embedding and LM head too) from a checkpoint");
  g->add_option("--strategy", o.strategy, "Which of the deployment's named strategies to run");
  g->add_option("--set", o.overrides, "Override a deployment field (repeatable)")
      ->allow_extra_args(false);
  g->add_option("--threads", o.blas_threads, "BLAS threads per rank")->check(CLI::PositiveNumber);
  g->add_option("--timeout", o.timeout_seconds,
                "Seconds a collective may wait before the watchdog ends the job (0: never)")
      ->check(CLI::Range(0.0, 86400.0))
      ->capture_default_str();
  return g;
}

int generateCommand(const GenerateOptions& o, const comm::MpiSession& mpi) {
  comm::reliabilitySettings() = {o.timeout_seconds, false, false};
  comm::setContextDescriber(&describeCurrentOp);
  comm::setCallSiteProvider(&callSite);
  {
    const StartupPhase phase("the progress board's window (MPI_Win_allocate)");
    comm::ProgressBoard::open();
  }
  auto world = comm::MpiCommunicator::wrap(MPI_COMM_WORLD, "world");
  const std::string result_path = o.out_dir + "/generate.json";
  {
    std::string error;
    if (world->rank() == 0) {
      error = outputDirectoryProblem("--out", o.out_dir);
      if (error.empty() && o.trace_given) error = replacedDirectoryProblem("--trace", o.trace_dir);
      std::error_code ec;
      if (error.empty()) std::filesystem::remove(result_path, ec);
    }
    if (!noRankFailed(*world, error, "rank 0 cannot write its output")) return kExitBadInput;
  }
  std::optional<config::Deployment> d =
      loadOnEveryRank(o.deployment_path, o.overrides, o.strategy, true, *world);
  if (!d || !sameDeploymentOnEveryRank(*d, *world)) return kExitBadInput;
  const std::optional<Requested> asked = requestsOnEveryRank(o, *d, *world);
  if (!asked) return kExitBadInput;
  std::optional<WeightFiles> files;
  if (!o.weights_path.empty()) {
    files = weightsOnEveryRank(o.weights_path, d->model, *world, true);
    if (!files) return kExitBadInput;
  }
  const GeneratedWeights generated(d->seed);
  const WeightSource& weights = files ? static_cast<const WeightSource&>(*files) : generated;
  std::optional<ExecutionContext> context =
      contextOnEveryRank(o.device, mpi, d->workload.dtype, *world);
  if (!context) return kExitBadInput;
  const auto& s = d->strategy;
  const config::ParallelLayout layout(s.tp, s.pp, s.dp, world->rank(), s.ep);
  const config::Plan plan = config::makePlan(*d);
  Backend& backend = *context->backend;
  // The step buffers hold the largest prefill these prompts make, not a whole context a row.
  const long step_tokens = GenerationExecutor::stepTokens(plan, asked->requests);
  if (!fitsOnEveryRank(*d, plan, layout, backend, *world, mpi.ranksOnThisNode(), step_tokens)) {
    return kExitBadInput;
  }
  GenerateReport report;
  report.blas_threads = o.blas_threads > 0 ? o.blas_threads : defaultBlasThreads(mpi);
  kernels::cpu::setBlasThreads(report.blas_threads);
  // With --trace the executor runs on recorders that wrap the backend and the communicators;
  // they record only during the traced generation (launch/generate_trace.h).
  std::unique_ptr<Tracer> tracer;
  std::unique_ptr<TracingBackend> traced_backend;
  std::unique_ptr<TracingCommunicator> traced_world;
  Backend* exec_backend = &backend;
  comm::Communicator* exec_world = context->world.get();
  if (o.trace_given) {
    tracer = std::make_unique<Tracer>(backend, world->rank());
    traced_backend = std::make_unique<TracingBackend>(backend, *tracer);
    traced_world = TracingCommunicator::wrapWorld(*context->world, *tracer);
    exec_backend = traced_backend.get();
    exec_world = traced_world.get();
  }
  ProcessGroups groups = [&] {
    const StartupPhase phase("the communicator splits (tp, dp, pp, ep)");
    return ProcessGroups::split(*exec_world, layout);
  }();
  ExecutorOptions options;
  options.weights = &weights;
  options.step_tokens = step_tokens;
  GenerationExecutor generator(*d, plan, layout, *exec_backend,
                               {groups.tp.get(), groups.ep.get(), groups.pp.get()}, *world,
                               options);
  if (o.cuda_graphs) {
    const std::string why = generator.graphsUnavailable();
    if (!noRankFailed(*world, why.empty() ? "" : "--cuda-graphs: " + why,
                      "a rank cannot record graphs")) {
      return kExitBadInput;
    }
    generator.useGraphs();
  }
  report.result = generator.generate(asked->requests, asked->settings);
  report.deployment = *d;
  report.deployment_path = o.deployment_path;
  report.backend = std::string(backend.name());
  report.communicator = std::string(context->world->backendName());
  report.ranks = world->size();
  report.cuda_graphs = o.cuda_graphs;
  report.graphs_captured =
      static_cast<int>(maxOverRanks(*world, static_cast<double>(generator.graphsCaptured())));
  report.kv_cache_bytes =
      static_cast<std::size_t>(maxOverRanks(*world, static_cast<double>(generator.kvCacheBytes())));
  report.requests = asked->requests;
  report.prediction = predictGeneration(o.deployment_path, o.overrides, *d, plan, world->size(),
                                        asked->requests, report.result);
  if (o.validate) {
    std::int32_t passed = 0;
    if (world->rank() == 0) {
      report.check =
          checkAgainstUnsharded(*d, *asked, report.result, backend, *context->self, weights);
      passed = report.check->passed ? 1 : 0;
    }
    world->broadcast(&passed, 1, DType::I32, 0);
    if (world->rank() != 0) report.check = GenerationCheck{.passed = passed != 0};
  }
  if (tracer) {
    report.trace = traceGeneration(*world, generator, *tracer,
                                   {*d, report.backend, report.communicator, asked->requests,
                                    asked->settings, report.result, o.trace_dir});
    if (!report.trace) return kExitInternal;
  }
  if (world->rank() == 0) {
    // A failure here names this step, not the last op of the generation (lm_head).
    enterLayer(-1, -1);
    enterOp("write_outputs");
    std::filesystem::create_directories(o.out_dir);
    writeFileAtomically(result_path,
                        [&](std::ostream& out) { out << toJson(report).dump(2) << "\n"; });
    std::cout << summary(report) << "  result: " << result_path << std::endl;
  }
  return report.check && !report.check->passed ? kExitValidationFailed : kExitOk;
}

}  // namespace shardrt::launch
