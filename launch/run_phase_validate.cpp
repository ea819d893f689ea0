// The validate phase of `shardrt run` (launch/run_phases.h): every copy of the output on
// rank 0, held against the unsharded reference (and on a GPU the fp32 CPU model), and every
// MoE layer's routing against the reference's.
#include <algorithm>

#include "comm/mpi_communicator.h"
#include "launch/run_phases.h"
#include "runtime/cpu_backend.h"
#include "runtime/host_values.h"
#include "runtime/model_input.h"
#include "runtime/reference.h"

namespace shardrt::launch {
namespace {

// Every tp rank of the last stage holds a whole copy of its replica's rows: the worst of them
// against `reference` (the whole batch, `row` values per batch row), and whose it is.
Comparison worstCopy(const std::vector<OutputCopy>& outputs, const std::vector<float>& reference,
                     std::size_t row, int* worst_rank) {
  Comparison worst;
  bool first = true;
  for (const auto& copy : outputs) {
    const Comparison c =
        compare(copy.values.data(), reference.data() + copy.batch.begin * row, copy.values.size());
    if (first || !c.finite || c.rel_err > worst.rel_err) {
      worst = c;
      if (worst_rank) *worst_rank = copy.world_rank;
      first = false;
    }
  }
  return worst;
}

// The same model in fp32 on the CPU: catches a kernel that is wrong the same way in the
// sharded run and in the single-device reference.
Comparison versusCpuModel(const RunReport& r, Backend& backend, const Tensor& input,
                          const WeightSource& weights, const std::vector<RoutingLog>* follow,
                          const std::vector<OutputCopy>& outputs, std::size_t row) {
  CpuBackend cpu;
  auto cpu_self = comm::MpiCommunicator::wrap(MPI_COMM_SELF, "self");
  config::Deployment fp32 = r.deployment;
  fp32.workload.dtype = DType::F32;
  Tensor cpu_input = cpu.empty(input.shape(), DType::F32);
  uploadFloats(cpu, cpu_input, downloadFloats(backend, input));
  Tensor cpu_ref = cpu.empty(input.shape(), DType::F32);
  computeUnshardedReference(cpu, fp32, *cpu_self, cpu_input, cpu_ref, false, follow, &weights);
  const std::vector<float> cpu_host = downloadFloats(cpu, cpu_ref);
  return worstCopy(outputs, cpu_host, row, nullptr);
}

// Routing: a token whose expert set differs from the reference's is a flip, an MoE layer whose
// slots per expert or dropped slots differ is a load mismatch.
void countRoutingDifferences(ValidationReport& v, const RunReport& r,
                             const std::vector<std::vector<std::int32_t>>& routing,
                             const ReferenceRouting& reference) {
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
}

// Rank 0 computes the references and fills `v`; returns the verdict.
bool compareOnRankZero(ValidationReport& v, const RunState& run) {
  const RunReport& r = run.report;
  Backend& backend = *run.backend;
  std::vector<RoutingLog> run_routing;
  for (const auto& layer : run.routing) run_routing.push_back({layer});
  const std::vector<RoutingLog>* follow = v.routing_decides ? nullptr : &run_routing;
  const Tensor input = makeModelInput(backend, r.deployment);  // the whole batch
  Tensor ref = backend.empty(input.shape(), input.dtype());
  const ReferenceRouting reference = computeUnshardedReference(
      backend, r.deployment, *run.context->self, input, ref, true, follow, run.weights);
  const std::vector<float> ref_host = downloadFloats(backend, ref);
  const std::size_t row = ref_host.size() / r.deployment.workload.batch_size;
  v.worst = worstCopy(run.outputs, ref_host, row, &v.worst_rank);
  if (backend.device() != Device::Cpu) {
    v.versus_cpu = versusCpuModel(r, backend, input, *run.weights, follow, run.outputs, row);
  }
  countRoutingDifferences(v, r, run.routing, reference);
  const bool cpu_ok = !v.versus_cpu || v.versus_cpu->passes(v.tolerance);
  const bool routing_ok = !v.routing_decides || v.load_mismatches == 0;
  return v.worst.passes(v.tolerance) && cpu_ok && routing_ok;
}

// Every rank returns rank 0's verdict.
ValidationReport compareWithReference(const RunState& run) {
  const DType dtype = run.report.deployment.workload.dtype;
  ValidationReport v;
  v.tolerance = validationTolerance(dtype);
  // fp32: the references route on their own and any difference in slots per expert fails the
  // run. bf16: they follow the run's routing, so a near-tie that bf16 rounding flipped is
  // counted but does not show up as a numerical error (docs/architecture.md).
  v.routing_decides = dtype == DType::F32;
  std::int32_t passed = 0;
  if (run.world->rank() == 0) passed = compareOnRankZero(v, run) ? 1 : 0;
  run.world->broadcast(&passed, 1, DType::I32, 0);
  v.passed = passed != 0;
  return v;
}

}  // namespace

void validate(RunState& run) {
  const RunOptions& o = run.options;
  if (o.validate || o.dump_given) {
    run.outputs = gatherOutputs(*run.world, run.report, *run.executor, *run.backend, run.output);
  }
  if (o.validate) run.report.validation = compareWithReference(run);
}

}  // namespace shardrt::launch
