// --check-numerics' Backend decorator: clean ops pass through bit for bit, the first output
// holding NaN or Inf throws naming the op and the count; and validation never passes a NaN.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <random>
#include <set>

#include "common/bfloat16.h"
#include "runtime/cpu_backend.h"
#include "runtime/numerics_checking_backend.h"
#include "runtime/op_context.h"
#include "runtime/validation.h"
#include "tests/test_util.h"

namespace shardrt {
namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();

Tensor upload(Backend& be, Shape shape, const std::vector<float>& values) {
  Tensor t = be.empty(std::move(shape), DType::F32);
  be.copyFromHost(t, values.data());
  return t;
}

Tensor uploadIndex(Backend& be, const std::vector<std::int32_t>& values) {
  Tensor t = be.empty({Dim("rows", static_cast<long>(values.size()))}, DType::I32);
  be.copyFromHost(t, values.data());
  return t;
}

std::vector<unsigned char> bytesOf(Backend& be, const TensorView& t) {
  std::vector<unsigned char> out(t.bytes());
  be.copyToHost(out.data(), t);
  return out;
}

// Every op of the Backend that writes, once, on random data from `seed`: each output's bytes.
std::vector<std::vector<unsigned char>> runEveryOp(Backend& be, unsigned seed) {
  const int tokens = 6, hidden = 16, n = 8, experts = 4;
  auto rnd = [&](std::size_t count) { return testing::randomVector(count, seed++); };
  const Shape rows_hidden{Dim("tokens", tokens), Dim("hidden", hidden)};
  Tensor x = upload(be, rows_hidden, rnd(tokens * hidden));
  Tensor x2 = upload(be, rows_hidden, rnd(tokens * hidden));
  Tensor w = upload(be, {Dim("out", n), Dim("in", hidden)}, rnd(n * hidden));
  Tensor gamma = upload(be, {Dim("hidden", hidden)}, rnd(hidden));
  Tensor beta = upload(be, {Dim("hidden", hidden)}, rnd(hidden));
  const Shape qs{Dim("b", 1), Dim("s", tokens), Dim("heads", 2), Dim("d_k", 8)};
  const Shape kvs{Dim("b", 1), Dim("s", tokens), Dim("kv_heads", 1), Dim("d_k", 8)};
  Tensor q = upload(be, qs, rnd(tokens * 16));
  Tensor k = upload(be, kvs, rnd(tokens * 8));
  Tensor v = upload(be, kvs, rnd(tokens * 8));
  std::vector<Tensor> gw;
  for (int g = 0; g < 3; ++g) gw.push_back(upload(be, w.shape(), rnd(n * hidden)));
  Tensor logits =
      upload(be, {Dim("tokens", tokens), Dim("experts", experts)}, rnd(tokens * experts));

  std::vector<std::vector<unsigned char>> outs;
  Tensor lin = be.empty({Dim("tokens", tokens), Dim("out", n)}, DType::F32);
  be.linear(lin, x, w);
  outs.push_back(bytesOf(be, lin));
  Tensor normed = be.empty(rows_hidden, DType::F32);
  be.rmsNorm(normed, x, gamma, 1e-5f);
  outs.push_back(bytesOf(be, normed));
  be.layerNorm(normed, x, gamma, beta, 1e-5f);
  outs.push_back(bytesOf(be, normed));
  be.rotaryEmbedding(q, 10000.0f);
  outs.push_back(bytesOf(be, q));
  Tensor attn = be.empty(qs, DType::F32);
  be.attention(attn, q, k, v, {2, 1, 0, 0, 2}, true);
  outs.push_back(bytesOf(be, attn));
  Tensor act = be.empty(rows_hidden, DType::F32);
  be.gelu(act, x);
  outs.push_back(bytesOf(be, act));
  be.swiglu(act, x, x2);
  outs.push_back(bytesOf(be, act));
  be.add(act, x, x2);
  outs.push_back(bytesOf(be, act));
  be.groupedLinear(lin, x, {&gw[0], &gw[1], &gw[2]}, {2, 0, 4});
  outs.push_back(bytesOf(be, lin));
  Tensor idx = be.empty({Dim("tokens", tokens), Dim("top_k", 2)}, DType::I32);
  Tensor wts = be.empty(idx.shape(), DType::F32);
  be.routerTopK(idx, wts, logits, nullptr, {});
  outs.push_back(bytesOf(be, idx));
  outs.push_back(bytesOf(be, wts));
  // Experts chosen elsewhere (a reference following a run's routing), two per token.
  const std::vector<std::int32_t> forced_h{3, 0, 1, 2, 2, 1, 0, 3, 1, 0, 2, 3};
  Tensor forced = be.empty(idx.shape(), DType::I32);
  be.copyFromHost(forced, forced_h.data());
  Tensor forced_wts = be.empty(idx.shape(), DType::F32);
  kernels::RouterRule sigmoid_raw;
  sigmoid_raw.sigmoid = true;
  sigmoid_raw.normalize = false;
  be.routerWeightsOf(forced_wts, forced, logits, sigmoid_raw);
  outs.push_back(bytesOf(be, forced_wts));
  Tensor gathered = be.empty({Dim("rows", 3), Dim("hidden", hidden)}, DType::F32);
  be.gatherRows(gathered, x, uploadIndex(be, {5, 0, 2}));
  outs.push_back(bytesOf(be, gathered));
  Tensor scattered = upload(be, rows_hidden, rnd(tokens * hidden));
  be.scatterAddRows(scattered, gathered, uploadIndex(be, {1, 1, 4}),
                    upload(be, {Dim("rows", 3)}, rnd(3)));
  outs.push_back(bytesOf(be, scattered));
  return outs;
}

// Each test starts outside any op and leaves the process's op context as it found it.
class NumericsCheck : public ::testing::Test {
 protected:
  void SetUp() override { currentOp() = OpContext{}; }
  void TearDown() override { currentOp() = OpContext{}; }
};

TEST_F(NumericsCheck, CleanOpsPassThroughBitForBit) {
  for (unsigned seed : {1u, 77u, 4242u}) {
    CpuBackend plain, inner;
    NumericsCheckingBackend checked(inner);
    const auto want = runEveryOp(plain, seed);
    const auto got = runEveryOp(checked, seed);
    ASSERT_EQ(got.size(), want.size());
    for (std::size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i], want[i]) << "output " << i;
    EXPECT_EQ(checked.checkedOutputs(), 13);  // every op that writes, the router once
  }
}

TEST_F(NumericsCheck, NanInputToLinearIsCaughtNamingTheOpAndCount) {
  CpuBackend inner;
  NumericsCheckingBackend be(inner);
  const int tokens = 5, hidden = 12, n = 7;
  std::vector<float> xs = testing::randomVector(tokens * hidden, 3);
  std::mt19937 rng(11);
  const int bad_row = std::uniform_int_distribution<int>(0, tokens - 1)(rng);
  xs[bad_row * hidden + std::uniform_int_distribution<int>(0, hidden - 1)(rng)] = kNaN;
  Tensor x = upload(be, {Dim("tokens", tokens), Dim("hidden", hidden)}, xs);
  Tensor w = upload(be, {Dim("out", n), Dim("in", hidden)}, testing::randomVector(n * hidden, 4));
  Tensor y = be.empty({Dim("tokens", tokens), Dim("out", n)}, DType::F32);
  enterOp("q_proj");
  currentOp().layer = 3;
  currentOp().microbatch = 0;
  try {
    be.linear(y, x, w);
    FAIL() << "a NaN input to linear went through";
  } catch (const NumericsError& e) {
    // One NaN in a row of the input poisons that row's every output.
    EXPECT_EQ(e.count().nan, n);
    EXPECT_EQ(e.count().inf, 0);
    EXPECT_EQ(e.count().total, tokens * n);
    EXPECT_EQ(e.count().first_bad, bad_row * n);
    EXPECT_EQ(e.backendOp(), "linear");
    const std::string want = "--check-numerics: op q_proj of layer 3, microbatch 0: linear wrote " +
                             std::to_string(n) + " NaN of " + std::to_string(tokens * n) +
                             " output values (first at index " + std::to_string(bad_row * n) + ")";
    EXPECT_EQ(std::string(e.what()), want);
  }
}

TEST_F(NumericsCheck, InfInAddIsCaughtAndInfMinusInfIsNaN) {
  CpuBackend inner;
  NumericsCheckingBackend be(inner);
  const int count = 40;
  std::vector<float> a = testing::randomVector(count, 5), b = testing::randomVector(count, 6);
  b[7] = kInf;
  b[19] = -kInf;
  a[30] = kInf;
  b[30] = -kInf;  // Inf + -Inf: NaN
  const Shape s{Dim("n", count)};
  Tensor ta = upload(be, s, a), tb = upload(be, s, b), out = be.empty(s, DType::F32);
  enterOp("residual_add");
  currentOp().layer = 1;
  try {
    be.add(out, ta, tb);
    FAIL() << "an Inf in add went through";
  } catch (const NumericsError& e) {
    EXPECT_EQ(e.count().inf, 2);
    EXPECT_EQ(e.count().nan, 1);
    EXPECT_EQ(e.count().first_bad, 7);
    EXPECT_NE(std::string(e.what()).find("op residual_add of layer 1: add wrote 1 NaN and 2 Inf"
                                         " of 40 output values"),
              std::string::npos)
        << e.what();
  }
}

TEST_F(NumericsCheck, CountsEveryKindOfNonFiniteExactlyInFp32AndBf16) {
  std::mt19937 rng(2024);
  const int n = 1000;
  std::vector<float> v = testing::randomVector(n, 9);
  // Finite extremes that a sloppy test (|x| > big) would count.
  v[1] = std::numeric_limits<float>::max();
  v[2] = -std::numeric_limits<float>::max();
  v[3] = std::numeric_limits<float>::denorm_min();
  v[4] = -0.0f;
  std::set<int> spots;
  while (spots.size() < 30) spots.insert(std::uniform_int_distribution<int>(5, n - 1)(rng));
  int nans = 0, infs = 0, first = n;
  for (int i : spots) {
    first = std::min(first, i);
    switch (i % 4) {
      case 0:
        v[i] = kNaN;
        ++nans;
        break;
      case 1:
        v[i] = -kNaN;
        ++nans;
        break;  // NaN with the sign bit set
      case 2:
        v[i] = kInf;
        ++infs;
        break;
      default:
        v[i] = -kInf;
        ++infs;
        break;
    }
  }
  const NonFiniteCount c32 = countNonFinite(v.data(), DType::F32, n);
  EXPECT_EQ(c32.nan, nans);
  EXPECT_EQ(c32.inf, infs);
  EXPECT_EQ(c32.total, n);
  EXPECT_EQ(c32.first_bad, first);

  const std::vector<bfloat16> h = toBfloat16(v);  // NaN stays NaN, max float rounds to Inf
  const NonFiniteCount c16 = countNonFinite(h.data(), DType::BF16, n);
  EXPECT_EQ(c16.nan, nans);
  EXPECT_EQ(c16.inf, infs + 2);  // +-FLT_MAX round up past bf16's largest finite value
  EXPECT_EQ(c16.first_bad, 1);

  const std::vector<std::int32_t> ints(n, -1);  // 0xFFFFFFFF would be a NaN as fp32
  EXPECT_EQ(countNonFinite(ints.data(), DType::I32, n).bad(), 0);
}

// bf16 and device memory through the decorator: a backend whose tensors are "on the GPU" (the
// decorator must copy them to the host to count) and whose add copies `a` into out bit for bit.
class FakeDeviceBackend final : public Backend {
 public:
  std::string_view name() const override { return "fake-device"; }
  Device device() const override { return Device::Cuda; }
  Tensor empty(Shape shape, DType dtype) override {
    const std::size_t bytes = static_cast<std::size_t>(shape.numel()) * dtypeSize(dtype);
    return Tensor(std::malloc(bytes > 0 ? bytes : 1), &std::free, std::move(shape), dtype,
                  Device::Cuda);
  }
  void copyFromHost(const TensorView& dst, const void* src) override {
    std::memcpy(dst.raw(), src, dst.bytes());
  }
  void copyToHost(void* dst, const TensorView& src) override {
    ++host_copies;
    std::memcpy(dst, src.raw(), src.bytes());
  }
  void copy(const TensorView& dst, const TensorView& src) override { copyFromHost(dst, src.raw()); }
  void synchronize() override {}
  double timeOps(const std::function<void()>& body) override {
    body();
    return 0.0;
  }
  std::optional<std::size_t> freeMemory() const override { return std::nullopt; }
  void add(const TensorView& out, const TensorView& a, const TensorView&) override { copy(out, a); }
  void addBias(const TensorView&, const TensorView&) override { unused(); }
  void sigmoidGateRows(const TensorView&, const TensorView&) override { unused(); }
  // The rest are not used here.
  void linear(const TensorView&, const TensorView&, const TensorView&) override { unused(); }
  void rmsNorm(const TensorView&, const TensorView&, const TensorView&, float) override {
    unused();
  }
  void layerNorm(const TensorView&, const TensorView&, const TensorView&, const TensorView&,
                 float) override {
    unused();
  }
  void rotaryEmbedding(const TensorView&, const kernels::RopeFrequencies&) override { unused(); }
  void attention(const TensorView&, const TensorView&, const TensorView&, const TensorView&,
                 const kernels::AttentionHeads&, bool) override {
    unused();
  }
  void gelu(const TensorView&, const TensorView&) override { unused(); }
  void swiglu(const TensorView&, const TensorView&, const TensorView&) override { unused(); }
  void fillZero(const TensorView&) override { unused(); }
  void groupedLinear(const TensorView&, const TensorView&, const std::vector<const Tensor*>&,
                     const std::vector<int>&) override {
    unused();
  }
  void routerTopK(const TensorView&, const TensorView&, const TensorView&, const TensorView*,
                  const kernels::RouterRule&) override {
    unused();
  }
  void routerWeightsOf(const TensorView&, const TensorView&, const TensorView&,
                       const kernels::RouterRule&) override {
    unused();
  }
  void copyColumns(const TensorView&, int, const TensorView&, int, int) override { unused(); }
  void gatherRows(const TensorView&, const TensorView&, const TensorView&) override { unused(); }
  void scatterAddRows(const TensorView&, const TensorView&, const TensorView&,
                      const TensorView&) override {
    unused();
  }
  void embedRows(const TensorView&, const TensorView&, const TensorView&, int) override {
    unused();
  }
  void rotaryEmbeddingAt(const TensorView&, const TensorView&,
                         const kernels::RopeFrequencies&) override {
    unused();
  }
  void scatterRows(const TensorView&, const TensorView&, const TensorView&) override { unused(); }
  void cachedAttention(const TensorView&, const TensorView&, const TensorView&, const TensorView&,
                       const TensorView&, const TensorView&,
                       const kernels::AttentionHeads&) override {
    unused();
  }
  void argmaxRows(const TensorView&, const TensorView&, const TensorView&, int) override {
    unused();
  }
  int host_copies = 0;

 private:
  static void unused() { throw std::logic_error("FakeDeviceBackend: op not faked"); }
};

TEST_F(NumericsCheck, Bf16OnADeviceIsCopiedToTheHostAndCounted) {
  FakeDeviceBackend inner;
  NumericsCheckingBackend be(inner);
  const int n = 300;
  std::vector<float> values = testing::randomVector(n, 12);
  const Shape s{Dim("n", n)};
  Tensor a = be.empty(s, DType::BF16), out = be.empty(s, DType::BF16);
  be.copyFromHost(a, toBfloat16(values).data());
  be.add(out, a, a);  // clean: passes
  EXPECT_EQ(inner.host_copies, 1);

  std::mt19937 rng(13);
  std::set<int> nan_at;
  while (nan_at.size() < 9) nan_at.insert(std::uniform_int_distribution<int>(0, n - 1)(rng));
  for (int i : nan_at) values[i] = kNaN;
  int inf_at = 0;
  while (nan_at.count(inf_at)) ++inf_at;
  values[inf_at] = kInf;
  be.copyFromHost(a, toBfloat16(values).data());
  enterOp("act");
  try {
    be.add(out, a, a);
    FAIL() << "bf16 NaN on the device went through";
  } catch (const NumericsError& e) {
    EXPECT_EQ(e.count().nan, 9);
    EXPECT_EQ(e.count().inf, 1);
    EXPECT_EQ(e.count().total, n);
    EXPECT_NE(std::string(e.what()).find("op act: add wrote 9 NaN and 1 Inf of 300"),
              std::string::npos)
        << e.what();
  }
}

TEST_F(NumericsCheck, GroupedLinearNamesTheGroupAndLooksOnlyAtWrittenRows) {
  CpuBackend inner;
  NumericsCheckingBackend be(inner);
  const int hidden = 10, n = 6;
  const std::vector<int> rows = {3, 0, 4, 2};
  const Shape ws{Dim("out", n), Dim("in", hidden)};
  std::vector<Tensor> w;
  for (int g = 0; g < 4; ++g)
    w.push_back(upload(be, ws, testing::randomVector(n * hidden, 20 + g)));
  Tensor x =
      upload(be, {Dim("tokens", 9), Dim("hidden", hidden)}, testing::randomVector(9 * hidden, 30));
  Tensor y = be.empty({Dim("tokens", 9), Dim("out", n)}, DType::F32);
  be.groupedLinear(y, x, {&w[0], &w[1], &w[2], &w[3]}, rows);  // clean

  std::vector<float> poisoned = testing::randomVector(n * hidden, 22);
  poisoned[2 * hidden] = kNaN;  // group 2's output column 2
  be.copyFromHost(w[2], poisoned.data());
  enterOp("expert_ffn");
  currentOp().layer = 1;
  try {
    be.groupedLinear(y, x, {&w[0], &w[1], &w[2], &w[3]}, rows);
    FAIL() << "a NaN expert weight went through";
  } catch (const NumericsError& e) {
    EXPECT_EQ(e.count().nan, 4);  // group 2's 4 rows, one column each
    EXPECT_EQ(e.count().first_bad, 3 * n + 2);
    EXPECT_NE(std::string(e.what()).find(
                  "op expert_ffn of layer 1: grouped_linear (first in group 2 of 4) wrote 4 NaN"),
              std::string::npos)
        << e.what();
  }
}

TEST(Validation, NanOrInfAnywhereFailsAndRanksWorst) {
  const std::size_t n = 500;
  const std::vector<float> ref = testing::randomVector(n, 40);
  std::vector<float> out = ref;
  const double tol = validationTolerance(DType::F32);
  EXPECT_TRUE(compare(out.data(), ref.data(), n).passes(tol));
  std::mt19937 rng(41);
  for (float bad : {kNaN, kInf, -kInf}) {
    const std::size_t at = std::uniform_int_distribution<std::size_t>(0, n - 1)(rng);
    out = ref;
    out[at] = bad;
    const Comparison c = compare(out.data(), ref.data(), n);
    EXPECT_FALSE(c.passes(tol)) << bad;
    EXPECT_FALSE(c.passes(INFINITY)) << "a NaN result passed an unbounded tolerance";
    EXPECT_EQ(c.rel_err, INFINITY);  // compares as worse than any finite error
    EXPECT_EQ(c.max_abs_err, INFINITY);
    std::vector<float> bad_ref = ref;
    bad_ref[at] = bad;  // a poisoned reference must not make a clean result pass either
    const Comparison r = compare(ref.data(), bad_ref.data(), n);
    EXPECT_FALSE(r.passes(tol)) << bad;
    EXPECT_GT(r.rel_err, 1.0);
  }
}

}  // namespace
}  // namespace shardrt
