#include "launch/command_line.h"

#include <stdexcept>
#include <string>

#include "launch/startup_watch.h"

namespace shardrt::launch {
namespace {

// What to run, on what, and where its results go.
CLI::App* addRunCommand(CLI::App& app, RunOptions& o) {
  CLI::App* run =
      app.add_subcommand("run", "Run the forward pass of a deployment, one rank per process");
  run->add_option("deployment", o.deployment_path, "Deployment file (JSON, see docs/config.md)")
      ->required();
  run->add_flag("--validate", o.validate,
                "Compare the output with the unsharded model computed on rank 0; exit 1 on FAIL");
  run->add_option("--device", o.device, "cpu, cuda, or auto (cuda when a GPU is visible)")
      ->check(CLI::IsMember({"cpu", "cuda", "auto"}))
      ->capture_default_str();
  run->add_option("--attention", o.attention,
                  "bf16 attention on the cuda backend: own (our kernel) or cudnn (cuDNN's fused "
                  "attention, our kernel where cuDNN refuses a shape)")
      ->check(CLI::IsMember({"own", "cudnn"}))
      ->capture_default_str();
  run->add_option("--out", o.out_dir, "Directory for result.json")->capture_default_str();
  // --dump and --trace remember that they were given: an empty value is then refused, not
  // taken for "no dump" (launch/output_paths.h).
  run->add_option_function<std::string>(
      "--dump",
      [&o](const std::string& dir) {
        o.dump_dir = dir;
        o.dump_given = true;
      },
      "Write input, output and every global weight as .npy files into this directory");
  run->add_option("--weights", o.weights_path,
                  "Read the weights from a .safetensors file, or a directory of .safetensors "
                  "or of <name>.npy files (as --dump writes), instead of generating them");
  run->add_option("--strategy", o.strategy,
                  "Which of the deployment's named strategies to run (default: its first)");
  run->add_option("--set", o.overrides,
                  "Override a deployment field, e.g. --set strategy.tp=4 (repeatable)")
      ->allow_extra_args(false);  // one value per --set, so a positional after it stays one
  return run;
}

// How the forward pass is timed, profiled and traced.
void addRunMeasuring(CLI::App& run, RunOptions& o) {
  run.add_option("--threads", o.blas_threads,
                 "BLAS threads per rank (default: cores / ranks on this node)")
      ->check(CLI::PositiveNumber);
  run.add_option("--warmup", o.warmup, "Untimed forward passes first")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  run.add_option("--iters", o.iterations, "Timed forward passes; the median is reported")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  run.add_flag("--profile", o.profile, "Print the time and FLOP/s of each op kind on rank 0");
  run.add_option_function<std::string>(
      "--trace",
      [&o](const std::string& dir) {
        o.trace_dir = dir;
        o.trace_given = true;
      },
      "Trace one more forward pass: DIR/<name>.dot and .svg (the deployment DAG), "
      "DIR/dags.json, DIR/trace.json and DIR/ranks/rank<N>.trace.json (timeline)");
}

// --timeout: 0, or seconds from 0.1 to a day. NaN used to pass NonNegativeNumber and turn the
// watchdog off; 1e-9 fired on healthy exchanges ("every rank has arrived"); -1 and inf were
// answered with the largest double printed in full (issue 15, item 9).
CLI::Validator watchdogSeconds() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        double v = 0;
        try {
          std::size_t used = 0;
          v = std::stod(text, &used);
          if (used != text.size()) return "got " + text + ": not a number";
        } catch (const std::exception&) {
          return "got " + text + ": not a number";
        }
        if (allowedTimeout(v)) return "";
        return "got " + text + ": must be 0 (no watchdog) or seconds from 0.1 to 86400";
      },
      "0 or 0.1..86400");
}

// The checks that turn a wrong result or a hang into a named error.
void addRunChecks(CLI::App& run, RunOptions& o) {
  run.add_flag("--check-numerics", o.check_numerics,
               "Stop at the first op whose output holds NaN or Inf, naming it (exit 1)");
  run.add_option("--timeout", o.timeout_seconds,
                 "Seconds a collective may wait before the watchdog reports who has not "
                 "arrived and ends the job (0: never)")
      ->check(watchdogSeconds())
      ->capture_default_str();
  run.add_flag("--check-collectives", o.check_collectives,
               "Before each collective, confirm that every rank of the group calls the same op "
               "with the same sizes (a mismatch is an error, not a hang)");
  // Off by default until a GPU run has proven it (docs/reliability.md).
  run.add_option("--nccl-watchdog", o.nccl_watchdog,
                 "on: make the NCCL communicator non-blocking and wait for each of its "
                 "collectives under --timeout as for MPI (the host then waits for every "
                 "collective); off: blocking, never waited for")
      ->check(CLI::IsMember({"on", "off"}))
      ->capture_default_str();
}

// Faults the tests inject to prove the checks catch them. Hidden from --help.
void addRunTestFaults(CLI::App& run, RunOptions& o) {
  // Proves that --validate catches a wrong shard.
  run.add_flag("--test-fault-skip-allreduce", o.fault_skip_attention_allreduce)->group("");
  // RANK:WHERE:MODE makes a rank fail at an op (runtime/fault_injection.h).
  run.add_option("--test-fault", o.test_fault)->group("");
  // NaN in element 0 of a weight's local slices, to prove --check-numerics and --validate
  // catch it.
  run.add_option("--test-fault-nan-weight", o.fault_nan_weight)->group("");
}

void addDagCommand(CLI::App& app, DagOptions& o) {
  CLI::App* dag = app.add_subcommand(
      "dag", "Draw a deployment's DAG from a dry run (shapes only, every rank in this process)");
  dag->add_option("deployment", o.deployment_path, "Deployment file (JSON, see docs/config.md)");
  dag->add_option("--ranks", o.ranks, "GPUs the deployment must use (default: tp * pp * dp)")
      ->check(CLI::PositiveNumber);
  dag->add_option("--out", o.out_dir, "Directory for the .dot, .svg and dags.json files")
      ->capture_default_str();
  dag->add_option("--set", o.overrides, "Override a deployment field (repeatable)")
      ->allow_extra_args(false);
  dag->add_flag("--generate", o.generate,
                "Draw a generation's prefill and first decode step instead of a forward pass");
  dag->add_option("--prompt-tokens", o.prompt_tokens,
                  "With --generate: each request's prompt (default: half of workload.seq_len)")
      ->check(CLI::PositiveNumber)
      ->needs("--generate");
  CLI::App* check = dag->add_subcommand("check", "Check a DAG file against docs/dag.md's rules");
  check->add_option("file", o.check_path, "A .dot file shardrt wrote")->required();
  dag->callback([dag, check, &o] {
    if (!dag->got_subcommand(check) && o.deployment_path.empty()) {
      throw CLI::RequiredError("deployment");
    }
  });
}

void addPlanCommand(CLI::App& app, PlanOptions& o) {
  CLI::App* plan = app.add_subcommand(
      "plan", "Search every valid plan for a cluster, print the best explained, write it");
  plan->add_option("deployment", o.deployment_path,
                   "Condition file: model, workload, cluster, objective (docs/config.md)")
      ->required();
  plan->add_option("--top", o.top, "How many of the best plans to print")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  plan->add_option("--out", o.out_path, "Write the best plan as a deployment file `run` executes");
  plan->add_option("--out-top", o.out_top_dir, "Write each of the top plans as DIR/plan-<i>.json");
  plan->add_option("--json", o.json_path, "Also write the report as JSON to this file");
  plan->add_option("--set", o.overrides, "Override a deployment field (repeatable)")
      ->allow_extra_args(false);
}

// `bench` itself takes --calibrate, or one subcommand naming the benchmark.
CLI::App* addBenchCommand(CLI::App& app, bench::CalibrateOptions& cal) {
  CLI::App* bench = app.add_subcommand("bench", "Microbenchmarks of this machine");
  bench->require_subcommand(0, 1);
  CLI::Option* calibrate =
      bench->add_flag("--calibrate", cal.requested,
                      "Measure this machine (all ranks at once) and write the planner's profile");
  bench->add_option("--device", cal.device, "With --calibrate: cpu, cuda, or auto")
      ->check(CLI::IsMember({"cpu", "cuda", "auto"}))
      ->needs(calibrate)
      ->capture_default_str();
  bench->add_option("--out", cal.out_path, "With --calibrate: the profile file to write")
      ->needs(calibrate)
      ->capture_default_str();
  bench->callback([bench, calibrate] {
    if (calibrate->count() == 0 && bench->get_subcommands().empty()) {
      throw CLI::ValidationError(
          "bench", "needs a subcommand (collectives, gemm, layer, decode) or --calibrate");
    }
    if (calibrate->count() > 0 && !bench->get_subcommands().empty()) {
      throw CLI::ValidationError("bench", "--calibrate takes no subcommand");
    }
  });
  return bench;
}

void addBenchCollectivesCommand(CLI::App& bench, bench::BenchCollectivesOptions& o) {
  CLI::App* coll = bench.add_subcommand(
      "collectives", "Every collective in nccl-tests' columns (time, algbw, busbw, #wrong)");
  coll->add_option("--device", o.device, "cpu, cuda, or auto")
      ->check(CLI::IsMember({"cpu", "cuda", "auto"}))
      ->capture_default_str();
  coll->add_option("--min-bytes", o.min_bytes, "Smallest size")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  coll->add_option("--max-bytes", o.max_bytes, "Largest size")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  coll->add_option("--factor", o.step_factor, "Size step factor")
      ->check(CLI::Range(2, 1024))
      ->capture_default_str();
  coll->add_option("--warmup", o.warmup)->check(CLI::NonNegativeNumber)->capture_default_str();
  coll->add_option("--iters", o.iterations)->check(CLI::PositiveNumber)->capture_default_str();
  coll->add_option("--json", o.json_path, "Also write the rows as JSON to this file");
}

void addBenchGemmCommand(CLI::App& bench, bench::BenchGemmOptions& o) {
  CLI::App* gemm = bench.add_subcommand(
      "gemm", "The Backend's linear op on GEMM shapes, every rank at once (time, GFLOP/s, #wrong)");
  gemm->add_option("--device", o.device, "cpu, cuda, or auto")
      ->check(CLI::IsMember({"cpu", "cuda", "auto"}))
      ->capture_default_str();
  gemm->add_option("--dtype", o.dtype, "fp32, or bf16 (cuda only)")
      ->check(CLI::IsMember({"fp32", "bf16"}))
      ->capture_default_str();
  gemm->add_option("--shapes", o.shapes,
                   "GEMMs out(m x n) = in(m x k) @ weight(n x k)^T as M,N,K;M,N,K;... "
                   "(default: transformer shapes and odd sizes)")
      ->expected(1, -1);
  gemm->add_option("--warmup", o.warmup)->check(CLI::NonNegativeNumber)->capture_default_str();
  gemm->add_option("--iters", o.iterations)->check(CLI::PositiveNumber)->capture_default_str();
  gemm->add_option("--json", o.json_path, "Also write the rows as JSON to this file");
  // Test-only: proves that #wrong counts a wrong result. Hidden from --help.
  gemm->add_flag("--test-fault-wrong-element", o.fault_wrong_element)->group("");
}

void addBenchLayerCommand(CLI::App& bench, bench::BenchLayerOptions& o) {
  CLI::App* layer = bench.add_subcommand(
      "layer", "The forward pass of each of a deployment's strategies (time, tokens/s)");
  layer->add_option("deployment", o.deployment_path, "Deployment file (JSON, see docs/config.md)")
      ->required();
  layer->add_option("--device", o.device, "cpu, cuda, or auto")
      ->check(CLI::IsMember({"cpu", "cuda", "auto"}))
      ->capture_default_str();
  CLI::Option* one = layer->add_option("--strategy", o.strategy, "Only this named strategy");
  layer->add_flag("--all-strategies", o.all_strategies, "Every strategy of the file (the default)")
      ->excludes(one);
  layer->add_option("--set", o.overrides, "Override a deployment field (repeatable)")
      ->allow_extra_args(false);
  layer->add_option("--warmup", o.warmup)->check(CLI::NonNegativeNumber)->capture_default_str();
  layer->add_option("--iters", o.iterations)->check(CLI::PositiveNumber)->capture_default_str();
  layer->add_option("--json", o.json_path, "Also write the rows as JSON to this file");
}

void addBenchDecodeCommand(CLI::App& bench, bench::BenchDecodeOptions& o) {
  CLI::App* decode = bench.add_subcommand(
      "decode", "Generation against batch size and context (prefill, decode step, tokens/s)");
  decode->add_option("deployment", o.deployment_path, "Deployment file (JSON, see docs/config.md)")
      ->required();
  decode->add_option("--device", o.device, "cpu, cuda, or auto")
      ->check(CLI::IsMember({"cpu", "cuda", "auto"}))
      ->capture_default_str();
  decode->add_option("--set", o.overrides, "Override a deployment field (repeatable)")
      ->allow_extra_args(false);
  decode->add_option("--batch", o.batches, "Batch sizes (requests), e.g. --batch 1 4 16")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  decode->add_option("--context", o.contexts, "Prompt lengths in tokens, e.g. --context 256 1024")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  decode->add_option("--new-tokens", o.new_tokens, "New tokens per request")
      ->check(CLI::Range(2, 1 << 20))
      ->capture_default_str();
  decode
      ->add_option("--schedule", o.schedule, "How rounds follow one another (generate --schedule)")
      ->check(CLI::IsMember({"overlap", "lockstep"}))
      ->capture_default_str();
  decode->add_flag("--cuda-graphs", o.cuda_graphs,
                   "Replay decode steps from CUDA graphs (generate --cuda-graphs)");
  decode->add_option("--warmup", o.warmup, "Untimed generations first")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  decode->add_option("--threads", o.threads, "BLAS threads per rank")->check(CLI::PositiveNumber);
  decode->add_option("--json", o.json_path, "Also write the rows as JSON to this file");
}

}  // namespace

void defineCommands(CLI::App& app, CommandLine& line) {
  app.require_subcommand(1);
  CLI::App* run = addRunCommand(app, line.run);
  addRunMeasuring(*run, line.run);
  addRunChecks(*run, line.run);
  addRunTestFaults(*run, line.run);
  addGenerateCommand(app, line.generate);
  addDagCommand(app, line.dag);
  addPlanCommand(app, line.plan);
  line.bench = addBenchCommand(app, line.calibrate);
  addBenchCollectivesCommand(*line.bench, line.collectives);
  addBenchGemmCommand(*line.bench, line.gemm);
  addBenchLayerCommand(*line.bench, line.layer);
  addBenchDecodeCommand(*line.bench, line.decode);
}

}  // namespace shardrt::launch
