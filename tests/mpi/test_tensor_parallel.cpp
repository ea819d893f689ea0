// The sharded forward against the unsharded reference, in process, with tp = the world size,
// over model variants the CLI matrix does not cover (bidirectional, no rope, kv heads that
// straddle shards, odd sizes). Tolerance: fp32 normwise 1e-5, as `shardrt run --validate`.
#include <gtest/gtest.h>

#include "comm/mpi_communicator.h"
#include "config/parallel_layout.h"
#include "config/plan.h"
#include "runtime/cpu_backend.h"
#include "runtime/fault_skip_attention_all_reduce.h"
#include "runtime/model_input.h"
#include "runtime/process_groups.h"
#include "runtime/reference.h"
#include "runtime/transformer.h"
#include "runtime/validation.h"

namespace shardrt {
namespace {

struct Variant {
  const char* name;
  int heads, kv_heads, head_dim, ffn_per_rank;
  config::NormKind norm;
  config::Activation act;
  bool rope, causal;
};

config::Deployment deploymentFor(const Variant& v, int tp) {
  config::Deployment d;
  d.name = v.name;
  d.seed = 2024;
  d.model.layers = 3;
  d.model.hidden = 72;
  d.model.heads = v.heads;
  d.model.kv_heads = v.kv_heads;
  d.model.head_dim = v.head_dim;
  d.model.ffn_hidden = v.ffn_per_rank * tp;
  d.model.norm = v.norm;
  d.model.activation = v.act;
  d.model.rope = v.rope;
  d.model.causal = v.causal;
  d.workload.batch_size = 3;
  d.workload.seq_len = 21;
  d.strategy.tp = tp;
  return d;
}

// The sharded output's error against the reference, on this rank.
double shardedError(const config::Deployment& d, bool skip_allreduce) {
  auto world = comm::MpiCommunicator::wrap(MPI_COMM_WORLD, "world");
  auto self = comm::MpiCommunicator::wrap(MPI_COMM_SELF, "self");
  const config::ParallelLayout layout(d.strategy.tp, 1, 1, world->rank());
  ProcessGroups groups = ProcessGroups::split(*world, layout);
  if (skip_allreduce) {
    groups.tp = std::make_unique<FaultSkipAttentionAllReduce>(std::move(groups.tp));
  }
  CpuBackend be;
  const config::Plan plan = config::makePlan(d);
  TransformerExecutor ex(d, plan, layout, be, {groups.tp.get(), groups.ep.get(), groups.pp.get()});
  const Tensor in = makeModelInput(be, d);
  const Tensor out = be.empty(ex.replicaShape(), DType::F32);
  const Tensor ref = be.empty(ex.replicaShape(), DType::F32);
  ex.forward(in, out);
  computeUnshardedReference(be, d, *self, in, ref, false);
  return compare(out.data<float>(), ref.data<float>(), static_cast<std::size_t>(out.numel()))
      .rel_err;
}

class TensorParallel : public ::testing::TestWithParam<Variant> {};

TEST_P(TensorParallel, ShardedForwardMatchesUnshardedReference) {
  int size = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  const Variant v = GetParam();
  if (v.heads % size) GTEST_SKIP() << v.heads << " heads do not split over " << size << " ranks";
  EXPECT_LT(shardedError(deploymentFor(v, size), false), 1e-5);
}

using config::Activation;
using config::NormKind;
INSTANTIATE_TEST_SUITE_P(
    Variants, TensorParallel,
    ::testing::Values(
        Variant{"mha_bidirectional", 4, 4, 10, 13, NormKind::LayerNorm, Activation::Gelu, true,
                false},
        Variant{"gqa_no_rope", 8, 2, 6, 11, NormKind::RmsNorm, Activation::SwiGlu, false, true},
        Variant{"mqa", 4, 1, 12, 9, NormKind::RmsNorm, Activation::Gelu, true, true},
        // 12 heads, 6 kv heads over 4 ranks: rank 1 holds query heads 3-5, reading kv 1 and 2.
        Variant{"kv_straddles_shards", 12, 6, 8, 7, NormKind::LayerNorm, Activation::SwiGlu, true,
                true}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(TensorParallelFault, SkippedAllReduceIsCaught) {
  int size = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  if (size < 2) GTEST_SKIP() << "Test requires at least 2 processes";
  const Variant v{"fault", 4, 4, 8, 8, NormKind::RmsNorm, Activation::SwiGlu, true, true};
  EXPECT_GT(shardedError(deploymentFor(v, size), true), 1e-2);
}

}  // namespace
}  // namespace shardrt
