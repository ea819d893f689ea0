// The agree phase of `shardrt run` (launch/run_phases.h): everything settled before the
// executor is built, each step agreed over all ranks.
#include <filesystem>
#include <memory>
#include <string>

#include "comm/collective_log.h"
#include "comm/mpi_communicator.h"
#include "comm/progress_board.h"
#include "common/errors.h"
#include "common/rank_label.h"
#include "config/plan.h"
#include "kernels/cpu/blas_threads.h"
#include "launch/forward_prediction.h"
#include "launch/output_paths.h"
#include "launch/run_phases.h"
#include "launch/startup_watch.h"
#include "runtime/consistency_check.h"
#include "runtime/fault_injection.h"
#include "runtime/op_context.h"
#include "runtime/rank_agreement.h"
#include "runtime/run_setup.h"

namespace shardrt::launch {
namespace {

// Every collective from here on is watched (docs/reliability.md).
void watchCollectives(const RunOptions& o) {
  comm::reliabilitySettings() = {o.timeout_seconds, o.check_collectives, o.nccl_watchdog == "on"};
  comm::setContextDescriber(&describeCurrentOp);
  comm::setCallSiteProvider(&callSite);
  const StartupPhase phase("the progress board's window (MPI_Win_allocate)");
  comm::ProgressBoard::open();
}

// Rank 0 writes result.json, the dump and the trace: their directories are checked there,
// before any work, and every rank stops when one cannot be written.
bool outputDirectoriesWritable(RunState& run) {
  const RunOptions& o = run.options;
  std::string error;
  if (run.mpi_world->rank() == 0) {
    error = outputDirectoryProblem("--out", o.out_dir);
    if (error.empty() && o.dump_given) error = replacedDirectoryProblem("--dump", o.dump_dir);
    if (error.empty() && o.trace_given) error = replacedDirectoryProblem("--trace", o.trace_dir);
    // An earlier run's result.json must not pass for this run's if this one fails.
    std::error_code ec;
    if (error.empty()) std::filesystem::remove(o.out_dir + "/result.json", ec);
  }
  return noRankFailed(*run.mpi_world, error, "rank 0 cannot write its output");
}

// Each rank reads the file itself; then they confirm they read the same.
bool agreeOnDeployment(RunState& run) {
  const RunOptions& o = run.options;
  run.deployment =
      loadOnEveryRank(o.deployment_path, o.overrides, o.strategy, true, *run.mpi_world);
  return run.deployment && sameDeploymentOnEveryRank(*run.deployment, *run.mpi_world);
}

// --test-fault is installed on every rank, which refuses it when any rank does.
bool installTestFaultOnEveryRank(RunState& run) {
  if (run.options.test_fault.empty()) return true;
  std::string error;
  try {
    installTestFault(run.options.test_fault, run.mpi_world->rank());
  } catch (const ConfigError& e) {
    error = e.what();
  }
  return noRankFailed(*run.mpi_world, error, "another rank refused --test-fault");
}

// The weights come from --weights when given (checked on every rank), else from the seed.
bool agreeOnWeights(RunState& run) {
  const config::Deployment& d = *run.deployment;
  if (!run.options.weights_path.empty()) {
    run.weight_files = weightsOnEveryRank(run.options.weights_path, d.model, *run.mpi_world);
    if (!run.weight_files) return false;
  }
  run.generated_weights.emplace(d.seed);
  run.weights = run.weight_files ? static_cast<const WeightSource*>(&*run.weight_files)
                                 : &*run.generated_weights;
  return true;
}

bool agreeOnDevice(RunState& run) {
  const AttentionImpl attention =
      run.options.attention == "cudnn" ? AttentionImpl::Cudnn : AttentionImpl::Own;
  run.context = contextOnEveryRank(run.options.device, run.mpi, run.deployment->workload.dtype,
                                   *run.mpi_world, attention);
  if (!run.context) return false;
  run.world = run.context->world.get();
  run.backend = run.context->backend.get();
  return true;
}

// What the report says before anything runs: the plan, the planner's prediction, the weights,
// the BLAS threads (set here) and what computes and communicates.
void startReport(RunState& run) {
  const RunOptions& o = run.options;
  const config::Deployment& d = *run.deployment;
  RunReport& report = run.report;
  report.deployment = d;
  report.deployment_path = o.deployment_path;
  report.plan = config::makePlan(d);
  if (run.world->rank() == 0) {
    report.prediction =
        predictForward(o.deployment_path, o.overrides, d, report.plan, run.world->size());
  }
  if (run.weight_files) report.weights = run.weight_files->describe(d.model);
  report.blas_threads = o.blas_threads > 0 ? o.blas_threads : defaultBlasThreads(run.mpi);
  report.warmup = o.warmup;
  kernels::cpu::setBlasThreads(report.blas_threads);
  const std::string backend_name(run.backend->name());
  const ExecutionContext& context = *run.context;
  report.backend =
      context.device == backend_name ? backend_name : backend_name + " (" + context.device + ")";
  report.communicator = std::string(run.world->backendName());
  if (!context.communicator_note.empty()) {
    report.communicator += " (" + context.communicator_note + ")";
  }
}

// Where every rank runs, for the report: its host (gathered at start-up), its index among the
// ranks of its host and the device that index chose, gathered here.
std::vector<RankPlacement> gatherPlacement(RunState& run) {
  const std::string& device = run.context->device;
  const std::size_t colon = device.find(':');
  // -1: the CPU; n >= 0: cuda:n. Gathered rather than assumed: --device auto can differ by host.
  const int mine[2] = {run.mpi.nodeRank(),
                       colon == std::string::npos ? -1 : std::stoi(device.substr(colon + 1))};
  std::vector<int> all(2 * static_cast<std::size_t>(run.mpi_world->size()));
  run.mpi_world->allGather(mine, all.data(), 2, DType::I32);
  std::vector<RankPlacement> placement;
  for (int w = 0; w < run.mpi_world->size(); ++w) {
    const int node_rank = all[2 * static_cast<std::size_t>(w)];
    const int gpu = all[2 * static_cast<std::size_t>(w) + 1];
    placement.push_back(
        {hostOfRank(w), node_rank, gpu < 0 ? std::string("cpu") : "cuda:" + std::to_string(gpu)});
  }
  return placement;
}

}  // namespace

bool agree(RunState& run) {
  watchCollectives(run.options);
  run.mpi_world = comm::MpiCommunicator::wrap(MPI_COMM_WORLD, "world");
  if (!outputDirectoriesWritable(run)) return false;
  if (!agreeOnDeployment(run)) return false;
  if (!installTestFaultOnEveryRank(run)) return false;
  if (!agreeOnWeights(run)) return false;
  if (!agreeOnDevice(run)) return false;
  startReport(run);
  run.report.placement = gatherPlacement(run);
  const auto& st = run.deployment->strategy;
  run.layout.emplace(st.tp, st.pp, st.dp, run.world->rank(), st.ep);
  return fitsOnEveryRank(*run.deployment, run.report.plan, *run.layout, *run.backend,
                         *run.mpi_world, run.mpi.ranksOnThisNode());
}

}  // namespace shardrt::launch
