#include "launch/run_command.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>

#include "comm/collective_log.h"
#include "comm/mpi_communicator.h"
#include "comm/progress_board.h"
#include "common/errors.h"
#include "kernels/cpu/blas_threads.h"
#include "runtime/consistency_check.h"
#include "launch/dump.h"
#include "runtime/fault_injection.h"
#include "runtime/fault_nan_weight.h"
#include "runtime/fault_skip_attention_all_reduce.h"
#include "launch/forward_prediction.h"
#include "common/error_report.h"
#include "runtime/execution_context.h"
#include "bench/forward_timing.h"
#include "launch/gather_results.h"
#include "runtime/rank_agreement.h"
#include "launch/run_report.h"
#include "runtime/run_setup.h"
#include "dag/trace_output.h"
#include "config/deployment.h"
#include "config/parallel_layout.h"
#include "config/plan.h"
#include "runtime/cpu_backend.h"
#include "runtime/host_values.h"
#include "runtime/model_input.h"
#include "runtime/op_context.h"
#include "runtime/numerics_checking_backend.h"
#include "runtime/process_groups.h"
#include "runtime/reference.h"
#include "dag/trace_timeline.h"
#include "runtime/tracer.h"
#include "runtime/tracing_backend.h"
#include "runtime/tracing_communicator.h"
#include "runtime/transformer.h"
#include "runtime/weight_files.h"

namespace shardrt::launch {
namespace {

ValidationReport validate(const RunReport& r, comm::Communicator& world, comm::Communicator& self,
                          Backend& backend, const WeightSource& weights,
                          const std::vector<OutputCopy>& outputs,
                          const std::vector<std::vector<std::int32_t>>& routing) {
  ValidationReport v;
  v.tolerance = validationTolerance(r.deployment.workload.dtype);
  std::int32_t passed = 0;
  // fp32: the references route on their own and any difference in slots per expert fails the
  // run. bf16: they follow the run's routing, so a near-tie that bf16 rounding flipped is
  // counted but does not show up as a numerical error (docs/architecture.md).
  v.routing_decides = r.deployment.workload.dtype == DType::F32;
  if (world.rank() == 0) {
    std::vector<RoutingLog> run_routing;
    for (const auto& layer : routing) run_routing.push_back({layer});
    const std::vector<RoutingLog>* follow = v.routing_decides ? nullptr : &run_routing;
    const Tensor input = makeModelInput(backend, r.deployment);  // the whole batch
    Tensor ref = backend.empty(input.shape(), input.dtype());
    const ReferenceRouting reference =
        computeUnshardedReference(backend, r.deployment, self, input, ref, true, follow, &weights);
    const std::vector<float> ref_host = downloadFloats(backend, ref);
    const std::size_t row = ref_host.size() / r.deployment.workload.batch_size;
    // Every tp rank of the last stage holds a whole copy of its replica's rows: check each.
    auto worstOf = [&](const std::vector<float>& reference, int* worst_rank) {
      Comparison worst;
      bool first = true;
      for (const auto& copy : outputs) {
        const Comparison c = compare(copy.values.data(), reference.data() + copy.batch.begin * row,
                                     copy.values.size());
        if (first || !c.finite || c.rel_err > worst.rel_err) {
          worst = c;
          if (worst_rank) *worst_rank = copy.world_rank;
          first = false;
        }
      }
      return worst;
    };
    v.worst = worstOf(ref_host, &v.worst_rank);
    if (backend.device() != Device::Cpu) {
      // The same model in fp32 on the CPU: catches a kernel that is wrong the same way in the
      // sharded run and in the single-device reference.
      CpuBackend cpu;
      auto cpu_self = comm::MpiCommunicator::wrap(MPI_COMM_SELF, "self");
      config::Deployment fp32 = r.deployment;
      fp32.workload.dtype = DType::F32;
      Tensor cpu_input = cpu.empty(input.shape(), DType::F32);
      uploadFloats(cpu, cpu_input, downloadFloats(backend, input));
      Tensor cpu_ref = cpu.empty(input.shape(), DType::F32);
      computeUnshardedReference(cpu, fp32, *cpu_self, cpu_input, cpu_ref, false, follow,
                                &weights);
      const std::vector<float> cpu_host = downloadFloats(cpu, cpu_ref);
      v.versus_cpu = worstOf(cpu_host, nullptr);
    }
    // Routing: a token whose expert set differs from the reference's is a flip.
    const int k = r.deployment.model.moe.top_k;
    for (std::size_t l = 0; l < routing.size(); ++l) {
      const auto &got = routing[l], &want = reference.routing[l].experts;
      for (std::size_t t = 0; k > 0 && t * k < got.size(); ++t) {
        ++v.routing_compared;
        if (!std::equal(got.begin() + t * k, got.begin() + (t + 1) * k, want.begin() + t * k)) {
          ++v.routing_flips;
        }
      }
    }
    for (const auto& layer : r.moe_layers) {
      const MoeCounters& want = reference.counters[layer.layer];
      if (layer.expert_tokens != want.expert_tokens || layer.dropped != want.dropped) {
        ++v.load_mismatches;
      }
    }
    const bool cpu_ok = !v.versus_cpu || v.versus_cpu->passes(v.tolerance);
    const bool routing_ok = !v.routing_decides || v.load_mismatches == 0;
    passed = v.worst.passes(v.tolerance) && cpu_ok && routing_ok ? 1 : 0;
  }
  world.broadcast(&passed, 1, DType::I32, 0);
  v.passed = passed != 0;
  return v;
}

struct TraceReport {
  std::string dir;
  dag::DagEntry graph;
  double traced_seconds = 0.0;
};

// Rank 0 writes the graph, dags.json and the timeline; every rank returns the same: the report,
// or nullopt after rank 0 printed why it could not write them.
std::optional<TraceReport> writeTrace(comm::Communicator& world, const RunReport& r,
                                      const std::vector<TraceEvent>& events, const std::string& dir,
                                      double traced_seconds) {
  TraceReport t{dir, {}, traced_seconds};
  std::int32_t ok = 1;
  if (world.rank() == 0) {
    try {
      const config::Deployment& d = r.deployment;
      dag::GraphInfo info;
      info.name = dag::graphName(d.name);
      info.title = dag::deploymentTitle(
          d, "traced run, backend " + r.backend + ", communicator " + r.communicator);
      info.gpus = world.size();
      info.layers = d.model.layers;
      info.experts = d.model.moe.experts;
      info.microbatches = d.strategy.microbatches;
      t.graph = dag::writeDag(events, info, dir);
      dag::writeDagIndex({t.graph}, dir);
      std::vector<TraceEvent> ops;
      for (const auto& e : events) {
        if (!isBookkeeping(e)) ops.push_back(e);
      }
      dag::writeTimeline(
          ops, {r.communicator.substr(0, r.communicator.find(' ')), world.size(), info.title}, dir);
    } catch (const std::exception& e) {
      reportError(0, std::string("--trace: ") + e.what());
      ok = 0;
    }
  }
  world.broadcast(&ok, 1, DType::I32, 0);
  if (!ok) return std::nullopt;
  return t;
}

void printTrace(std::ostream& os, const TraceReport& t, const RunReport& r) {
  char line[160];
  std::snprintf(line, sizeof line, "  trace     traced pass %.3f ms (median untraced %.3f ms)\n",
                1e3 * t.traced_seconds, 1e3 * r.medianForwardSeconds());
  os << line << "            " << t.graph.dot << " (" << t.graph.nodes << " nodes, " << t.graph.edges
     << " edges), " << t.graph.svg << " (" << t.graph.renderer << ")\n            " << t.dir
     << "/dags.json, " << t.dir << "/trace.json and " << t.dir << "/ranks/rank<N>.trace.json\n";
}

}  // namespace

int runCommand(const RunOptions& o, const comm::MpiSession& mpi) {
  // Every collective from here on is watched (docs/reliability.md).
  comm::reliabilitySettings() = {o.timeout_seconds, o.check_collectives};
  comm::setContextDescriber(&describeCurrentOp);
  comm::setCallSiteProvider(&callSite);
  comm::ProgressBoard::open();
  auto mpi_world = comm::MpiCommunicator::wrap(MPI_COMM_WORLD, "world");
  const std::optional<config::Deployment> deployment =
      loadOnEveryRank(o.deployment_path, o.overrides, o.strategy, true, *mpi_world);
  if (!deployment) return kExitBadInput;
  const config::Deployment& d = *deployment;
  if (!sameDeploymentOnEveryRank(d, *mpi_world)) return kExitBadInput;
  if (!o.test_fault.empty()) {
    std::string error;
    try {
      installTestFault(o.test_fault, mpi_world->rank());
    } catch (const ConfigError& e) {
      error = e.what();
    }
    if (!noRankFailed(*mpi_world, error, "another rank refused --test-fault")) {
      return kExitBadInput;
    }
  }
  std::optional<WeightFiles> weight_files;
  if (!o.weights_path.empty()) {
    weight_files = weightsOnEveryRank(o.weights_path, d.model, *mpi_world);
    if (!weight_files) return kExitBadInput;
  }
  const GeneratedWeights generated_weights(d.seed);
  const WeightSource& weights =
      weight_files ? static_cast<const WeightSource&>(*weight_files) : generated_weights;
  const std::optional<ExecutionContext> context =
      contextOnEveryRank(o.device, mpi, d.workload.dtype, *mpi_world);
  if (!context) return kExitBadInput;
  comm::Communicator* world = context->world.get();
  Backend& backend = *context->backend;

  RunReport report;
  report.deployment = d;
  report.deployment_path = o.deployment_path;
  report.plan = config::makePlan(d);
  if (world->rank() == 0) {
    report.prediction =
        predictForward(o.deployment_path, o.overrides, d, report.plan, world->size());
  }
  if (weight_files) report.weights = weight_files->describe(d.model);
  report.blas_threads = o.blas_threads > 0 ? o.blas_threads : defaultBlasThreads(mpi);
  report.warmup = o.warmup;
  kernels::cpu::setBlasThreads(report.blas_threads);

  const auto& st = d.strategy;
  const config::ParallelLayout layout(st.tp, st.pp, st.dp, world->rank(), st.ep);
  if (!fitsOnEveryRank(d, report.plan, layout, backend, *mpi_world)) return kExitBadInput;
  // With --trace the executor runs on recorders that wrap the backend and the communicators;
  // they record only during the one traced pass. Without it, nothing is wrapped.
  std::unique_ptr<Tracer> tracer;
  std::unique_ptr<TracingBackend> traced_backend;
  std::unique_ptr<TracingCommunicator> traced_world;
  Backend* exec_backend = &backend;
  comm::Communicator* exec_world = world;
  if (!o.trace_dir.empty()) {
    tracer = std::make_unique<Tracer>(backend, world->rank());
    traced_backend = std::make_unique<TracingBackend>(backend, *tracer);
    traced_world = TracingCommunicator::wrapWorld(*world, *tracer);
    exec_backend = traced_backend.get();
    exec_world = traced_world.get();
  }
  // --check-numerics wraps outermost, around the tracer: its check (and, on a GPU, the copy it
  // makes) runs after the tracer's end mark, so a traced op's time is the op's alone.
  std::unique_ptr<NumericsCheckingBackend> checked_backend;
  if (o.check_numerics) {
    checked_backend = std::make_unique<NumericsCheckingBackend>(*exec_backend);
    exec_backend = checked_backend.get();
  }
  if (!o.fault_nan_weight.empty() && !isWeightName(d.model, o.fault_nan_weight)) {
    if (world->rank() == 0) {
      reportError(0, "--test-fault-nan-weight: no weight named " + o.fault_nan_weight +
                         " in this model (docs/config.md, Weights and their names)");
    }
    return kExitBadInput;
  }
  ProcessGroups groups = ProcessGroups::split(*exec_world, layout);
  report.backend = context->device == backend.name()
                       ? std::string(backend.name())
                       : std::string(backend.name()) + " (" + context->device + ")";
  report.communicator = std::string(world->backendName());
  if (!context->communicator_note.empty()) {
    report.communicator += " (" + context->communicator_note + ")";
  }

  ExecutorOptions exec_options;
  exec_options.log_routing = o.validate;
  exec_options.weights = &weights;
  // Test-only faults wrap what the executor is given; the reference and --dump keep the clean
  // weights.
  std::optional<FaultNanWeight> nan_weights;
  if (!o.fault_nan_weight.empty()) {
    exec_options.weights = &nan_weights.emplace(weights, o.fault_nan_weight);
  }
  if (o.fault_skip_attention_allreduce) {
    groups.tp = std::make_unique<FaultSkipAttentionAllReduce>(std::move(groups.tp));
  }
  const auto build_start = std::chrono::steady_clock::now();
  TransformerExecutor executor(d, report.plan, layout, *exec_backend,
                               {groups.tp.get(), groups.ep.get(), groups.pp.get()}, exec_options);
  const std::chrono::duration<double> build_time = std::chrono::steady_clock::now() - build_start;
  report.weights_seconds = maxOverRanks(*world, build_time.count());
  if (weight_files) {
    // The rank that read the most, with its own reading time (ties: the slower read).
    const double bytes = static_cast<double>(weight_files->bytesRead());
    report.weights_bytes_read = maxOverRanks(*world, bytes);
    report.weights_read_seconds = maxOverRanks(
        *world, bytes == report.weights_bytes_read ? weight_files->secondsReading() : 0.0);
  }
  // Each replica makes only its own rows of the input.
  const Tensor replica_input = makeModelInput(*exec_backend, d, executor.replicaBatch());
  const Tensor output = exec_backend->empty(executor.replicaShape(), d.workload.dtype);

  report.forward_seconds =
      bench::timeForwards(executor, replica_input, output, *world, o.warmup, o.iterations);
  report.stages = gatherStageTimings(*world, report, executor, layout);
  report.moe_layers = gatherMoeCounters(*world, report, executor);
  std::vector<std::vector<std::int32_t>> routing;
  if (o.validate) routing = gatherRouting(*world, report, executor);

  if (o.profile) {
    // A separate pass: timing each op synchronises after it, which the timed passes must not.
    OpProfile profile;
    executor.setProfile(&profile);
    world->barrier();
    executor.forward(replica_input, output);
    executor.setProfile(nullptr);
    report.profile = profile;
  }

  std::optional<TraceReport> trace;
  if (tracer) {
    executor.setTracer(tracer.get());
    world->barrier();  // the ranks' trace clocks start here together
    tracer->start();
    const auto t0 = std::chrono::steady_clock::now();
    executor.forward(replica_input, output);
    const std::chrono::duration<double> dt = std::chrono::steady_clock::now() - t0;
    const std::vector<TraceEvent> events = tracer->finish();
    executor.setTracer(nullptr);
    trace = writeTrace(*world, report, dag::gatherTraces(*world, events), o.trace_dir,
                       maxOverRanks(*world, dt.count()));
    if (!trace) return kExitInternal;
  }

  std::vector<OutputCopy> outputs;
  if (o.validate || !o.dump_dir.empty()) {
    outputs = gatherOutputs(*world, report, executor, backend, output);
  }
  if (o.validate)
    report.validation =
        validate(report, *world, *context->self, backend, weights, outputs, routing);

  if (world->rank() == 0) {
    std::filesystem::create_directories(o.out_dir);
    const std::string result_path = o.out_dir + "/result.json";
    std::ofstream(result_path) << toJson(report).dump(2) << "\n";
    if (!o.dump_dir.empty()) {
      writeDump(o.dump_dir, d, weights, downloadFloats(backend, makeModelInput(backend, d)).data(),
                assembleOutput(outputs, report).data());
    }
    printSummary(std::cout, report);
    std::cout << "  result    " << result_path << "\n";
    if (!o.dump_dir.empty()) std::cout << "  dump      " << o.dump_dir << "/\n";
    if (trace) printTrace(std::cout, *trace, report);
    if (checked_backend) {
      // Reaching here means no rank threw: every checked output on every rank was finite.
      std::cout << "  numerics  no NaN or Inf in any op output (--check-numerics; "
                << checked_backend->checkedOutputs() << " outputs checked on rank 0)\n";
    }
    std::cout << std::flush;
  }
  world->barrier();  // nobody exits before rank 0 has written and printed
  if (report.validation && !report.validation->passed) return kExitValidationFailed;
  return kExitOk;
}

}  // namespace shardrt::launch
