// The shardrt command. Launched by mpirun, one process per rank:
//   mpirun -np N shardrt run DEPLOYMENT.json [--validate] [--out DIR] [--dump DIR] [--trace DIR]
//                            [--weights PATH]
//   mpirun -np N shardrt generate DEPLOYMENT.json --prompt 1,2,3 [--max-new-tokens N]
//                            [--validate] [--temperature T --top-k K --top-p P --seed S]
// and in one process, without running the model:
//   shardrt dag DEPLOYMENT.json [--ranks N] [--out DIR]      (the deployment's DAG, dry run)
//   shardrt dag check FILE.dot                                (the DAG rules of docs/dag.md)
//   shardrt plan DEPLOYMENT.json [--top K] [--out plan.json]  (the planner)
// and the microbenchmarks:
//   mpirun -np N shardrt bench collectives [--min-bytes B] [--max-bytes B] [--json FILE]
//   mpirun -np N shardrt bench gemm [--dtype fp32|bf16] [--shapes M,N,K;...] [--json FILE]
//   mpirun -np N shardrt bench layer DEPLOYMENT.json [--strategy NAME] [--json FILE]
//   mpirun -np N shardrt bench decode DEPLOYMENT.json [--batch B...] [--context C...]
//   mpirun -np N shardrt bench --calibrate [--out PROFILE.json]   (the planner's rates)
#include <mpi.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <exception>
#include <new>
#include <optional>

#include "comm/collective_log.h"
#include "comm/lifeline.h"
#include "comm/mpi_session.h"
#include "common/error_report.h"
#include "common/errors.h"
#include "launch/command_line.h"
#include "launch/signals.h"
#include "launch/startup_watch.h"
#include "runtime/numerics_checking_backend.h"
#include "runtime/op_context.h"

namespace {

using shardrt::launch::CommandLine;

// nullopt: go on and run the subcommand; else the exit code (help printed, or a bad command
// line reported by every rank).
std::optional<int> parse(CLI::App& app, int argc, char** argv, int rank) {
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
  return std::nullopt;
}

// `plan` and `dag` refuse to run under mpirun with more than one rank.
bool inOneProcess(const shardrt::comm::MpiSession& mpi, const char* why) {
  if (mpi.worldSize() == 1) return true;
  shardrt::reportError(mpi.worldRank(), why);
  return false;
}

int dispatch(const CLI::App& app, const CommandLine& line, const shardrt::comm::MpiSession& mpi) {
  if (app.got_subcommand("run")) return shardrt::launch::runCommand(line.run, mpi);
  if (app.got_subcommand("generate")) {
    return shardrt::launch::generateCommand(line.generate, mpi);
  }
  if (app.got_subcommand("bench")) {
    const CLI::App& bench = *line.bench;
    if (bench.got_subcommand("gemm")) return shardrt::bench::benchGemm(line.gemm, mpi);
    if (bench.got_subcommand("layer")) return shardrt::bench::benchLayer(line.layer, mpi);
    if (bench.got_subcommand("decode")) return shardrt::bench::benchDecode(line.decode, mpi);
    if (bench.got_subcommand("collectives")) {
      return shardrt::bench::benchCollectives(line.collectives, mpi);
    }
    return shardrt::bench::calibrate(line.calibrate, mpi);
  }
  if (app.got_subcommand("plan")) {
    if (!inOneProcess(mpi,
                      "plan: runs in one process; start it without "
                      "mpirun or with -np 1")) {
      return shardrt::kExitBadInput;
    }
    return shardrt::launch::planCommand(line.plan);
  }
  if (app.got_subcommand("dag")) {
    if (!inOneProcess(mpi,
                      "dag: runs in one process (it simulates every rank); "
                      "start it without mpirun or with -np 1")) {
      return shardrt::kExitBadInput;
    }
    return shardrt::launch::dagCommand(line.dag);
  }
  return shardrt::kExitInternal;
}

// The other ranks may be waiting in a collective for this one: end them all, after saying
// where this rank was.
void abortJob(const std::exception& e, int rank) {
  const std::string where = shardrt::describeCurrentOp();
  // bad_alloc's what() is only "std::bad_alloc": say what it means.
  const std::string what =
      dynamic_cast<const std::bad_alloc*>(&e)
          ? std::string("out of host memory: an allocation failed (") + e.what() + ")"
          : std::string(e.what());
  shardrt::reportError(rank, what + (where.empty() ? "" : " (in " + where + ")"));
  shardrt::comm::dumpCollectiveLog(STDERR_FILENO);
  shardrt::comm::Lifeline::farewell();
  MPI_Abort(MPI_COMM_WORLD, shardrt::kExitInternal);
}

}  // namespace

int main(int argc, char** argv) {
  shardrt::launch::installSignalHandlers(-1);  // before MPI_Init, which can be slow
  shardrt::launch::startStartupWatch(shardrt::launch::timeoutFromArguments(argc, argv));
  std::optional<shardrt::comm::MpiSession> mpi;
  try {
    const shardrt::launch::StartupPhase phase("MPI_Init");
    mpi.emplace(&argc, &argv);
  } catch (const std::exception& e) {
    shardrt::reportError(-1, e.what());
    return shardrt::kExitInternal;
  }
  const int rank = mpi->worldRank();
  shardrt::launch::installSignalHandlers(rank);

  CLI::App app{"shardrt: run transformer models split across ranks"};
  CommandLine line;
  shardrt::launch::defineCommands(app, line);
  if (const std::optional<int> exit_code = parse(app, argc, argv, rank)) return *exit_code;
  try {
    return dispatch(app, line, *mpi);
  } catch (const shardrt::BadWeightValuesError& e) {
    // A checkpoint holding NaN or Inf: bad input, found by one rank while the others may wait.
    shardrt::reportError(rank, e.what());
    shardrt::comm::Lifeline::farewell();
    MPI_Abort(MPI_COMM_WORLD, shardrt::kExitBadInput);
  } catch (const shardrt::NumericsError& e) {
    // The job ran but computed garbage (--check-numerics): a wrong result, exit 1. The other
    // ranks may be waiting in a collective for this one: end them all.
    shardrt::reportError(rank, e.what());
    shardrt::comm::Lifeline::farewell();
    MPI_Abort(MPI_COMM_WORLD, shardrt::kExitValidationFailed);
  } catch (const std::exception& e) {
    abortJob(e, rank);
  }
  return shardrt::kExitInternal;
}
