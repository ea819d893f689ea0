#include "bench/gemm_timing.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "bench/op_timing.h"
#include "runtime/host_values.h"
#include "runtime/rank_agreement.h"

namespace shardrt::bench {
namespace {

std::vector<float> randomValues(std::size_t n, std::mt19937& rng) {
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

// The first and last rows (edge tiles) and two random ones between.
std::vector<long> sampleRows(long m, std::mt19937& rng) {
  std::vector<long> rows = {0, m - 1};
  std::uniform_int_distribution<long> pick(0, m - 1);
  for (int i = 0; i < 2; ++i) rows.push_back(pick(rng));
  std::sort(rows.begin(), rows.end());
  rows.erase(std::unique(rows.begin(), rows.end()), rows.end());
  return rows;
}

// |got - ref| <= rel * |ref| + abs * sum_k |a_k w_k|: the second term bounds the rounding of
// a k-term sum in the accumulator, the first the rounding of the stored result (bf16: 2^-8).
struct Tolerance {
  double rel, abs;
};
Tolerance toleranceFor(DType t) {
  return t == DType::BF16 ? Tolerance{8e-3, 1e-4} : Tolerance{1e-6, 1e-5};
}

std::int32_t wrongInSample(Backend& backend, const Tensor& inp, const Tensor& weight,
                           const Tensor& out, const std::vector<long>& rows, DType dtype) {
  const long n = out.shape().cols(), k = inp.shape().cols();
  // Read back from the device: in bf16 the reference must use the rounded inputs.
  const std::vector<float> w = downloadFloats(backend, weight);
  const Tolerance tol = toleranceFor(dtype);
  std::int32_t wrong = 0;
  for (long r : rows) {
    const std::vector<float> a = downloadFloats(backend, inp.view().rows(r, 1));
    const std::vector<float> c = downloadFloats(backend, out.view().rows(r, 1));
    for (long j = 0; j < n; ++j) {
      double ref = 0.0, mag = 0.0;
      for (long i = 0; i < k; ++i) {
        const double p = static_cast<double>(a[i]) * w[j * k + i];
        ref += p;
        mag += std::abs(p);
      }
      // NaN fails: the output was poisoned before the op, so an unwritten element shows.
      if (!(std::abs(c[j] - ref) <= tol.rel * std::abs(ref) + tol.abs * mag)) ++wrong;
    }
  }
  return wrong;
}

}  // namespace

GemmTiming timeGemm(Backend& backend, comm::Communicator& world, const GemmShape& s, DType dtype,
                    const GemmTimingOptions& o, unsigned seed) {
  std::mt19937 rng(seed * 7919u + static_cast<unsigned>(world.rank()));
  Tensor inp = backend.empty({Dim("rows", s.m), Dim("in", s.k)}, dtype);
  Tensor weight = backend.empty({Dim("out", s.n), Dim("in", s.k)}, dtype);
  Tensor out = backend.empty({Dim("rows", s.m), Dim("out", s.n)}, dtype);
  uploadFloats(backend, inp, randomValues(static_cast<std::size_t>(s.m * s.k), rng));
  uploadFloats(backend, weight, randomValues(static_cast<std::size_t>(s.n * s.k), rng));
  uploadFloats(backend, out,
               std::vector<float>(static_cast<std::size_t>(s.m * s.n),
                                  std::numeric_limits<float>::quiet_NaN()));
  auto call = [&] { backend.linear(out, inp, weight); };

  GemmTiming t;
  world.barrier();
  const double first = backend.timeOps(call);
  if (o.fault_wrong_element) {  // proves that the check sees a wrong result
    std::vector<float> row = downloadFloats(backend, out.view().rows(0, 1));
    row[0] += 1.0f;
    uploadFloats(backend, out.view().rows(0, 1), row);
  }
  const std::vector<long> rows = sampleRows(s.m, rng);
  t.checked_rows = static_cast<int>(rows.size());
  t.wrong = wrongInSample(backend, inp, weight, out, rows, dtype);
  world.allReduce(&t.wrong, 1, DType::I32, comm::ReduceOp::Sum);

  t.iterations = o.iterations;
  if (o.budget_seconds > 0.0) {  // one count on every rank: they meet at a barrier each time
    const double slowest_first = maxOverRanks(world, first);
    t.iterations = static_cast<int>(std::clamp(o.budget_seconds / slowest_first, 3.0, 200.0));
  }
  for (int i = 0; i < o.warmup; ++i) call();
  backend.synchronize();
  const std::vector<double> all =
      gatherOverRanks(world, medianSecondsTogether(backend, world, t.iterations, call));
  t.median_seconds = median(all);
  t.slowest_seconds = *std::max_element(all.begin(), all.end());
  return t;
}

}  // namespace shardrt::bench
