// The test-only fault decorators of `shardrt run`: --test-fault-nan-weight's weight source
// poisons element 0 of the named weight's slices and nothing else; --test-fault-skip-allreduce's
// tp group leaves out the first all-reduce of each layer run (the one after o_proj) and passes
// every other call.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>

#include "runtime/fault_nan_weight.h"
#include "runtime/fault_skip_attention_all_reduce.h"
#include "runtime/op_context.h"

namespace shardrt {
namespace {

TEST(FaultNanWeight, PoisonsElementZeroOfTheNamedWeightOnly) {
  const GeneratedWeights clean(2024);
  const FaultNanWeight poisoned(clean, "model.layers.1.mlp.up_proj.weight");
  WeightSpec spec;
  spec.name = "model.layers.1.mlp.up_proj.weight";
  spec.global_shape = {8, 6};
  spec.slice = {{4, 8}, {0, 6}};  // the second tp rank's rows
  const std::vector<float> want = clean.slice(spec), got = poisoned.slice(spec);
  ASSERT_EQ(got.size(), want.size());
  EXPECT_TRUE(std::isnan(got[0]));
  EXPECT_EQ(0, std::memcmp(got.data() + 1, want.data() + 1, (got.size() - 1) * sizeof(float)));

  spec.name = "model.layers.1.mlp.down_proj.weight";
  EXPECT_EQ(poisoned.slice(spec), clean.slice(spec));
}

// Counts the all-reduces that reach it; the rest are not used here.
class CountingCommunicator final : public comm::Communicator {
 public:
  explicit CountingCommunicator(int& all_reduces) : Communicator("tp"), count_(all_reduces) {}
  std::string_view backendName() const override { return "counting"; }
  int rank() const override { return 0; }
  int size() const override { return 2; }
  void allReduce(void*, std::size_t, DType, comm::ReduceOp) override { ++count_; }
  void allGather(const void*, void*, std::size_t, DType) override { unused(); }
  void reduceScatter(const void*, void*, std::size_t, DType, comm::ReduceOp) override { unused(); }
  void gather(const void*, void*, std::size_t, DType, int) override { unused(); }
  void allGatherV(const void*, void*, const std::vector<std::size_t>&, DType) override { unused(); }
  void gatherV(const void*, void*, const std::vector<std::size_t>&, DType, int) override {
    unused();
  }
  void allToAllV(const void*, const std::vector<std::size_t>&, void*,
                 const std::vector<std::size_t>&, DType) override {
    unused();
  }
  void broadcast(void*, std::size_t, DType, int) override { unused(); }
  void send(const void*, std::size_t, DType, int) override { unused(); }
  void recv(void*, std::size_t, DType, int) override { unused(); }
  void post(const void*, std::size_t, DType, int) override { unused(); }
  void flushPosted() override { unused(); }
  void barrier() override { unused(); }
  std::unique_ptr<Communicator> split(int, int, std::string) override {
    unused();
    return nullptr;
  }

 private:
  static void unused() { throw std::logic_error("CountingCommunicator: call not faked"); }
  int& count_;
};

// Each test starts outside any op and leaves the process's op context as it found it.
class FaultSkipAllReduce : public ::testing::Test {
 protected:
  void SetUp() override { currentOp() = OpContext{}; }
  void TearDown() override { currentOp() = OpContext{}; }
};

TEST_F(FaultSkipAllReduce, LeavesOutTheFirstAllReduceOfEachLayerRun) {
  int reached = 0;
  FaultSkipAttentionAllReduce tp(std::make_unique<CountingCommunicator>(reached));
  float partial[4] = {};
  auto allReduce = [&] { tp.allReduce(partial, 4, DType::F32, comm::ReduceOp::Sum); };
  // Two passes of two microbatches of two layers, each as the executor runs it.
  for (int pass = 0; pass < 2; ++pass) {
    for (int mb = 0; mb < 2; ++mb) {
      for (int layer = 0; layer < 2; ++layer) {
        enterLayer(layer, mb);
        for (const char* op : {"attn_norm", "q_proj", "attention", "o_proj"}) enterOp(op);
        enterOp("all_reduce");
        const int before = reached;
        allReduce();
        EXPECT_EQ(reached, before) << "the all-reduce after o_proj went through";
        for (const char* op : {"residual_add", "ffn_norm", "up_proj", "down_proj"}) enterOp(op);
        enterOp("all_reduce");
        allReduce();
        EXPECT_EQ(reached, before + 1) << "the FFN's all-reduce was left out";
      }
    }
  }
  enterLayer(-1, -1);  // outside a layer nothing is left out
  enterOp("all_reduce");
  allReduce();
  EXPECT_EQ(reached, 2 * 2 * 2 + 1);
}

}  // namespace
}  // namespace shardrt
