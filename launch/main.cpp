// The shardrt command. Launched by mpirun, one process per rank:
//   mpirun -np N shardrt run DEPLOYMENT.json [--validate] [--out DIR] [--dump DIR] [--trace DIR]
//                            [--weights PATH]
// and in one process, without running the model:
//   shardrt dag DEPLOYMENT.json [--ranks N] [--out DIR]      (the deployment's DAG, dry run)
//   shardrt dag check FILE.dot                                (the DAG rules of docs/dag.md)
//   shardrt plan DEPLOYMENT.json [--top K] [--out plan.json]  (the planner)
// and the microbenchmarks:
//   mpirun -np N shardrt bench collectives [--min-bytes B] [--max-bytes B] [--json FILE]
//   mpirun -np N shardrt bench gemm [--dtype fp32|bf16] [--shapes M,N,K;...] [--json FILE]
//   mpirun -np N shardrt bench layer DEPLOYMENT.json [--strategy NAME] [--json FILE]
//   mpirun -np N shardrt bench --calibrate [--out PROFILE.json]   (the planner's rates)
#include <mpi.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <exception>
#include <new>
#include <optional>

#include "comm/collective_log.h"
#include "comm/mpi_session.h"
#include "common/errors.h"
#include "bench/bench_collectives.h"
#include "bench/bench_gemm.h"
#include "bench/bench_layer.h"
#include "bench/calibrate.h"
#include "launch/dag_command.h"
#include "common/error_report.h"
#include "launch/plan_command.h"
#include "launch/run_command.h"
#include "launch/signals.h"
#include "runtime/op_context.h"
#include "runtime/numerics_checking_backend.h"

namespace {

using shardrt::bench::BenchCollectivesOptions;
using shardrt::bench::BenchGemmOptions;
using shardrt::bench::BenchLayerOptions;
using shardrt::bench::CalibrateOptions;
using shardrt::launch::DagOptions;
using shardrt::launch::PlanOptions;
using shardrt::launch::RunOptions;

void addRunCommand(CLI::App& app, RunOptions& o) {
  CLI::App* run =
      app.add_subcommand("run", "Run the forward pass of a deployment, one rank per process");
  run->add_option("deployment", o.deployment_path, "Deployment file (JSON, see docs/config.md)")
      ->required();
  run->add_flag("--validate", o.validate,
                "Compare the output with the unsharded model computed on rank 0; exit 1 on FAIL");
  run->add_option("--device", o.device, "cpu, cuda, or auto (cuda when a GPU is visible)")
      ->check(CLI::IsMember({"cpu", "cuda", "auto"}))
      ->capture_default_str();
  run->add_option("--out", o.out_dir, "Directory for result.json")->capture_default_str();
  run->add_option("--dump", o.dump_dir,
                  "Write input, output and every global weight as .npy files into this directory");
  run->add_option("--weights", o.weights_path,
                  "Read the weights from a .safetensors file, or a directory of .safetensors "
                  "or of <name>.npy files (as --dump writes), instead of generating them");
  run->add_option("--strategy", o.strategy,
                  "Which of the deployment's named strategies to run (default: its first)");
  run->add_option("--set", o.overrides,
                  "Override a deployment field, e.g. --set strategy.tp=4 (repeatable)")
      ->allow_extra_args(false);  // one value per --set, so a positional after it stays one
  run->add_option("--threads", o.blas_threads,
                  "BLAS threads per rank (default: cores / ranks on this node)")
      ->check(CLI::PositiveNumber);
  run->add_option("--warmup", o.warmup, "Untimed forward passes first")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  run->add_option("--iters", o.iterations, "Timed forward passes; the median is reported")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  run->add_flag("--profile", o.profile, "Print the time and FLOP/s of each op kind on rank 0");
  run->add_option("--trace", o.trace_dir,
                  "Trace one more forward pass: DIR/<name>.dot and .svg (the deployment DAG), "
                  "DIR/dags.json, DIR/trace.json and DIR/ranks/rank<N>.trace.json (timeline)");
  run->add_flag("--check-numerics", o.check_numerics,
                "Stop at the first op whose output holds NaN or Inf, naming it (exit 1)");
  run->add_option("--timeout", o.timeout_seconds,
                  "Seconds a collective may wait before the watchdog reports who has not "
                  "arrived and ends the job (0: never)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  run->add_flag("--check-collectives", o.check_collectives,
                "Before each collective, confirm that every rank of the group calls the same op "
                "with the same sizes (a mismatch is an error, not a hang)");
  // Test-only: proves that --validate catches a wrong shard. Hidden from --help.
  run->add_flag("--test-fault-skip-allreduce", o.fault_skip_attention_allreduce)->group("");
  // Test-only: RANK:WHERE:MODE makes a rank fail at an op (runtime/fault_injection.h).
  run->add_option("--test-fault", o.test_fault)->group("");
  // Test-only: NaN in element 0 of a weight's local slices, to prove --check-numerics and
  // --validate catch it. Hidden from --help.
  run->add_option("--test-fault-nan-weight", o.fault_nan_weight)->group("");
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

CLI::App* addBenchCommand(CLI::App& app, BenchCollectivesOptions& o, CalibrateOptions& cal) {
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
      throw CLI::ValidationError("bench",
                                 "needs a subcommand (collectives, gemm, layer) or --calibrate");
    }
    if (calibrate->count() > 0 && !bench->get_subcommands().empty()) {
      throw CLI::ValidationError("bench", "--calibrate takes no subcommand");
    }
  });
  CLI::App* coll = bench->add_subcommand(
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
  return bench;
}

void addBenchGemmCommand(CLI::App& bench, BenchGemmOptions& o) {
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

void addBenchLayerCommand(CLI::App& bench, BenchLayerOptions& o) {
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

}  // namespace

int main(int argc, char** argv) {
  std::optional<shardrt::comm::MpiSession> mpi;
  try {
    mpi.emplace(&argc, &argv);
  } catch (const std::exception& e) {
    shardrt::reportError(-1, e.what());
    return shardrt::kExitInternal;
  }
  const int rank = mpi->worldRank();
  shardrt::launch::installSignalHandlers(rank);

  CLI::App app{"shardrt: run transformer models split across ranks"};
  app.require_subcommand(1);
  RunOptions run_options;
  addRunCommand(app, run_options);
  DagOptions dag_options;
  addDagCommand(app, dag_options);
  PlanOptions plan_options;
  addPlanCommand(app, plan_options);
  BenchCollectivesOptions bench_options;
  CalibrateOptions calibrate_options;
  CLI::App* bench = addBenchCommand(app, bench_options, calibrate_options);
  BenchGemmOptions gemm_options;
  addBenchGemmCommand(*bench, gemm_options);
  BenchLayerOptions layer_options;
  addBenchLayerCommand(*bench, layer_options);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    if (rank == 0) app.exit(e);
    return shardrt::kExitOk;
  } catch (const CLI::ParseError& e) {
    // Same argv on every rank, so every rank fails alike: each says so in one line.
    shardrt::reportError(rank, e.what());
    return shardrt::kExitBadInput;
  }

  try {
    if (app.got_subcommand("run")) return shardrt::launch::runCommand(run_options, *mpi);
    if (app.got_subcommand("bench")) {
      if (bench->got_subcommand("gemm")) return shardrt::bench::benchGemm(gemm_options, *mpi);
      if (bench->got_subcommand("layer")) return shardrt::bench::benchLayer(layer_options, *mpi);
      if (bench->got_subcommand("collectives")) {
        return shardrt::bench::benchCollectives(bench_options, *mpi);
      }
      return shardrt::bench::calibrate(calibrate_options, *mpi);
    }
    if (app.got_subcommand("plan")) {
      if (mpi->worldSize() > 1) {
        shardrt::reportError(rank, "plan: runs in one process; start it without "
                                           "mpirun or with -np 1");
        return shardrt::kExitBadInput;
      }
      return shardrt::launch::planCommand(plan_options);
    }
    if (app.got_subcommand("dag")) {
      if (mpi->worldSize() > 1) {
        shardrt::reportError(rank,
                                     "dag: runs in one process (it simulates every rank); "
                                     "start it without mpirun or with -np 1");
        return shardrt::kExitBadInput;
      }
      return shardrt::launch::dagCommand(dag_options);
    }
  } catch (const shardrt::NumericsError& e) {
    // The job ran but computed garbage (--check-numerics): a wrong result, exit 1. The other
    // ranks may be waiting in a collective for this one: end them all.
    shardrt::reportError(rank, e.what());
    MPI_Abort(MPI_COMM_WORLD, shardrt::kExitValidationFailed);
  } catch (const std::exception& e) {
    // The other ranks may be waiting in a collective for this one: end them all, after
    // saying where this rank was.
    const std::string where = shardrt::describeCurrentOp();
    // bad_alloc's what() is only "std::bad_alloc": say what it means.
    const std::string what = dynamic_cast<const std::bad_alloc*>(&e)
                                 ? std::string("out of host memory: an allocation failed (") +
                                       e.what() + ")"
                                 : std::string(e.what());
    shardrt::reportError(rank, what + (where.empty() ? "" : " (in " + where + ")"));
    shardrt::comm::dumpCollectiveLog(STDERR_FILENO, rank);
    MPI_Abort(MPI_COMM_WORLD, shardrt::kExitInternal);
  }
  return shardrt::kExitInternal;
}
