// The unsharded reference made to follow a run's routing (how bf16 validation measures
// arithmetic alone): following its own routing changes nothing, bit for bit; following another
// routing moves exactly the tokens it names and still logs the reference's own choice.
#include <gtest/gtest.h>

#include <algorithm>

#include "comm/mpi_communicator.h"
#include "runtime/cpu_backend.h"
#include "runtime/model_input.h"
#include "runtime/reference.h"
#include "runtime/validation.h"

namespace shardrt {
namespace {

config::Deployment smallMoe() {
  config::Deployment d;
  d.name = "follow-routing";
  d.seed = 77;
  d.model.layers = 2;
  d.model.hidden = 48;
  d.model.heads = 4;
  d.model.kv_heads = 2;
  d.model.head_dim = 12;
  d.model.ffn_hidden = 40;
  d.model.moe = {8, 2, 24, config::RouterScoring::Softmax, true, 0, 0.0, 1};
  d.workload.batch_size = 2;
  d.workload.seq_len = 11;
  return d;
}

struct Result {
  std::vector<float> out;
  ReferenceRouting routing;
};

Result reference(const config::Deployment& d, const std::vector<RoutingLog>* follow) {
  CpuBackend be;
  auto self = comm::MpiCommunicator::wrap(MPI_COMM_SELF, "self");
  const Tensor in = makeModelInput(be, d);
  const Tensor out = be.empty(in.shape(), DType::F32);
  Result r;
  r.routing = computeUnshardedReference(be, d, *self, in, out, true, follow);
  r.out.assign(out.data<float>(), out.data<float>() + out.numel());
  return r;
}

TEST(FollowRouting, OwnRoutingReproducesTheReferenceBitForBit) {
  const config::Deployment d = smallMoe();
  const Result own = reference(d, nullptr);
  const Result again = reference(d, &own.routing.routing);
  EXPECT_EQ(again.out, own.out);
  for (int l = 0; l < d.model.layers; ++l) {
    EXPECT_EQ(again.routing.routing[l].experts, own.routing.routing[l].experts) << "layer " << l;
    EXPECT_EQ(again.routing.counters[l].expert_tokens, own.routing.counters[l].expert_tokens);
  }
}

TEST(FollowRouting, AnotherRoutingMovesTheNamedTokensAndLogsTheOwnChoice) {
  const config::Deployment d = smallMoe();
  const int k = d.model.moe.top_k;
  const Result own = reference(d, nullptr);
  std::vector<RoutingLog> forced = own.routing.routing;
  // Token 5 of layer 0 goes to the two lowest experts it did not choose.
  std::int32_t* token = forced[0].experts.data() + 5 * k;
  const std::vector<std::int32_t> before(token, token + k);
  std::vector<std::int32_t> after;
  for (int e = 0; static_cast<int>(after.size()) < k; ++e) {
    if (std::find(before.begin(), before.end(), e) == before.end()) after.push_back(e);
  }
  std::copy(after.begin(), after.end(), token);

  const Result moved = reference(d, &forced);
  EXPECT_EQ(moved.routing.routing[0].experts, own.routing.routing[0].experts);  // own choice
  std::vector<long> want = own.routing.counters[0].expert_tokens;
  for (std::int32_t e : before) --want[e];
  for (std::int32_t e : after) ++want[e];
  EXPECT_EQ(moved.routing.counters[0].expert_tokens, want);
  const double diff = compare(moved.out.data(), own.out.data(), own.out.size()).rel_err;
  EXPECT_GT(diff, 1e-4) << "routing one token elsewhere must change the output";
}

}  // namespace
}  // namespace shardrt
