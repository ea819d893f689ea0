#include "runtime/cpu_backend.h"

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <new>

#include "kernels/cpu/activations.h"
#include "kernels/cpu/argmax.h"
#include "kernels/cpu/attention.h"
#include "kernels/cpu/bias.h"
#include "kernels/cpu/cached_attention.h"
#include "kernels/cpu/column_copy.h"
#include "kernels/cpu/embedding.h"
#include "kernels/cpu/layernorm.h"
#include "kernels/cpu/linear.h"
#include "kernels/cpu/permute.h"
#include "kernels/cpu/residual.h"
#include "kernels/cpu/rmsnorm.h"
#include "kernels/cpu/rope.h"
#include "kernels/cpu/router.h"
#include "kernels/cpu/sigmoid_gate.h"
#include "runtime/op_checks.h"

namespace shardrt {
namespace {

int toInt(std::int64_t v) { return static_cast<int>(v); }  // sizes were checked at load time

}  // namespace

Tensor CpuBackend::empty(Shape shape, DType dtype) {
  // 64-byte alignment: one cache line, and what AVX-512 loads like.
  constexpr std::size_t kAlign = 64;
  const std::size_t bytes = static_cast<std::size_t>(shape.numel()) * dtypeSize(dtype);
  const std::size_t rounded = (bytes + kAlign - 1) / kAlign * kAlign;
  void* p = std::aligned_alloc(kAlign, rounded == 0 ? kAlign : rounded);
  if (!p) throw std::bad_alloc();
  return Tensor(p, &std::free, std::move(shape), dtype, Device::Cpu);
}

void CpuBackend::copyFromHost(const TensorView& dst, const void* src) {
  std::memcpy(dst.raw(), src, dst.bytes());
}

void CpuBackend::copyToHost(void* dst, const TensorView& src) {
  std::memcpy(dst, src.raw(), src.bytes());
}

double CpuBackend::timeOps(const std::function<void()>& body) {
  const auto t0 = std::chrono::steady_clock::now();
  body();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

void CpuBackend::copy(const TensorView& dst, const TensorView& src) {
  op_checks::sameNumel("copy", dst, src);
  std::memcpy(dst.raw(), src.raw(), src.bytes());
}

void CpuBackend::linear(const TensorView& out, const TensorView& inp, const TensorView& weight) {
  op_checks::linear(out, inp, weight);
  kernels::cpu::linear(out.data<float>(), inp.data<float>(), weight.data<float>(),
                       toInt(inp.shape().rows()), toInt(inp.shape().cols()),
                       toInt(out.shape().cols()));
}

void CpuBackend::rmsNorm(const TensorView& out, const TensorView& inp, const TensorView& weight,
                         float eps) {
  op_checks::norm(out, inp, weight);
  kernels::cpu::rmsNorm(out.data<float>(), inp.data<float>(), weight.data<float>(),
                        toInt(inp.shape().rows()), toInt(inp.shape().cols()), eps);
}

void CpuBackend::layerNorm(const TensorView& out, const TensorView& inp, const TensorView& weight,
                           const TensorView& bias, float eps) {
  op_checks::norm(out, inp, weight);
  op_checks::sameNumel("layer_norm bias", weight, bias);
  kernels::cpu::layerNorm(out.data<float>(), inp.data<float>(), weight.data<float>(),
                          bias.data<float>(), toInt(inp.shape().rows()), toInt(inp.shape().cols()),
                          eps);
}

void CpuBackend::rotaryEmbedding(const TensorView& x, const kernels::RopeFrequencies& rope) {
  op_checks::rotary(x);
  const auto& s = x.shape();
  kernels::cpu::rotaryEmbedding(x.data<float>(), toInt(s.size(0)), toInt(s.size(1)),
                                toInt(s.size(2)), toInt(s.size(3)), rope);
}

void CpuBackend::attention(const TensorView& out, const TensorView& q, const TensorView& k,
                           const TensorView& v, const kernels::AttentionHeads& heads, bool causal) {
  op_checks::attention(out, q, k, v, heads);
  const auto& s = q.shape();
  kernels::cpu::attention(out.data<float>(), q.data<float>(), k.data<float>(), v.data<float>(),
                          toInt(s.size(0)), toInt(s.size(1)), toInt(s.size(3)), heads, causal);
}

void CpuBackend::gelu(const TensorView& out, const TensorView& inp) {
  op_checks::sameNumel("gelu", out, inp);
  kernels::cpu::gelu(out.data<float>(), inp.data<float>(), inp.numel());
}

void CpuBackend::swiglu(const TensorView& out, const TensorView& gate, const TensorView& up) {
  op_checks::sameNumel("swiglu", out, gate);
  op_checks::sameNumel("swiglu", out, up);
  kernels::cpu::swiglu(out.data<float>(), gate.data<float>(), up.data<float>(), out.numel());
}

void CpuBackend::add(const TensorView& out, const TensorView& a, const TensorView& b) {
  op_checks::sameNumel("add", out, a);
  op_checks::sameNumel("add", out, b);
  kernels::cpu::residualAdd(out.data<float>(), a.data<float>(), b.data<float>(), out.numel());
}

void CpuBackend::copyColumns(const TensorView& out, int out_col, const TensorView& inp, int inp_col,
                             int width) {
  const int repeat = op_checks::columnBlock(out, out_col, inp, inp_col, width);
  kernels::cpu::copyColumns(out.data<float>(), toInt(out.shape().cols()), out_col,
                            inp.data<float>(), toInt(inp.shape().cols()), inp_col,
                            out.shape().rows(), width, repeat);
}

void CpuBackend::addBias(const TensorView& x, const TensorView& bias) {
  op_checks::bias(x, bias);
  const long cols = x.shape().cols();
  kernels::cpu::addBias(x.data<float>(), bias.data<float>(), x.numel() / cols,
                        static_cast<int>(cols));
}

void CpuBackend::sigmoidGateRows(const TensorView& x, const TensorView& gate_logits) {
  op_checks::rowGate(x, gate_logits);
  const long cols = x.shape().cols();
  kernels::cpu::sigmoidGateRows(x.data<float>(), gate_logits.data<float>(), x.numel() / cols,
                                static_cast<int>(cols));
}

void CpuBackend::fillZero(const TensorView& out) { std::memset(out.raw(), 0, out.bytes()); }

void CpuBackend::groupedLinear(const TensorView& out, const TensorView& inp,
                               const std::vector<const Tensor*>& weights,
                               const std::vector<int>& rows) {
  op_checks::groupedLinear(out, inp, weights, rows);
  long row = 0;
  for (std::size_t g = 0; g < weights.size(); ++g) {
    if (rows[g] > 0) linear(out.rows(row, rows[g]), inp.rows(row, rows[g]), *weights[g]);
    row += rows[g];
  }
}

void CpuBackend::routerTopK(const TensorView& experts, const TensorView& weights,
                            const TensorView& logits, const TensorView* choice_bias,
                            const kernels::RouterRule& rule) {
  op_checks::routerTopK(experts, weights, logits, choice_bias);
  kernels::cpu::routerTopK(experts.data<std::int32_t>(), weights.data<float>(),
                           logits.data<float>(), choice_bias ? choice_bias->data<float>() : nullptr,
                           toInt(logits.shape().rows()), toInt(logits.shape().cols()),
                           toInt(experts.shape().cols()), rule);
}

void CpuBackend::routerWeightsOf(const TensorView& weights, const TensorView& experts,
                                 const TensorView& logits, const kernels::RouterRule& rule) {
  op_checks::routerWeightsOf(weights, experts, logits);
  kernels::cpu::routerWeightsOf(weights.data<float>(), experts.data<std::int32_t>(),
                                logits.data<float>(), toInt(logits.shape().rows()),
                                toInt(logits.shape().cols()), toInt(experts.shape().cols()), rule);
}

void CpuBackend::gatherRows(const TensorView& out, const TensorView& inp, const TensorView& index) {
  op_checks::rowIndex("gather_rows", out, inp, index);
  kernels::cpu::gatherRows(out.data<float>(), inp.data<float>(), index.data<std::int32_t>(),
                           index.numel(), toInt(inp.shape().cols()));
}

void CpuBackend::scatterAddRows(const TensorView& out, const TensorView& inp,
                                const TensorView& index, const TensorView& weight) {
  op_checks::rowIndex("scatter_add_rows", inp, out, index);
  op_checks::sameNumel("scatter_add_rows weight", index, weight);
  kernels::cpu::scatterAddRows(out.data<float>(), inp.data<float>(), index.data<std::int32_t>(),
                               weight.data<float>(), index.numel(), toInt(inp.shape().cols()));
}

void CpuBackend::embedRows(const TensorView& out, const TensorView& ids, const TensorView& table,
                           int first_id) {
  op_checks::embedding(out, ids, table);
  kernels::cpu::embedRows(out.data<float>(), ids.data<std::int32_t>(), table.data<float>(),
                          out.shape().rows(), toInt(out.shape().cols()), table.shape().rows(),
                          first_id);
}

void CpuBackend::rotaryEmbeddingAt(const TensorView& x, const TensorView& positions,
                                   const kernels::RopeFrequencies& rope) {
  op_checks::rotaryAt(x, positions);
  const Shape& s = x.shape();
  kernels::cpu::rotaryEmbeddingAt(x.data<float>(), positions.data<std::int32_t>(),
                                  positions.numel(), toInt(s.size(s.rank() - 2)), toInt(s.cols()),
                                  rope);
}

void CpuBackend::scatterRows(const TensorView& out, const TensorView& inp,
                             const TensorView& index) {
  op_checks::rowIndex("scatter_rows", inp, out, index);
  kernels::cpu::scatterRows(out.data<float>(), inp.data<float>(), index.data<std::int32_t>(),
                            index.numel(), toInt(inp.shape().cols()));
}

void CpuBackend::cachedAttention(const TensorView& out, const TensorView& q,
                                 const TensorView& k_cache, const TensorView& v_cache,
                                 const TensorView& seq, const TensorView& pos,
                                 const kernels::AttentionHeads& heads) {
  op_checks::cachedAttention(out, q, k_cache, v_cache, seq, pos, heads);
  kernels::cpu::cachedAttention(out.data<float>(), q.data<float>(), k_cache.data<float>(),
                                v_cache.data<float>(), seq.data<std::int32_t>(),
                                pos.data<std::int32_t>(), seq.numel(),
                                toInt(k_cache.shape().size(1)), toInt(q.shape().cols()), heads);
}

void CpuBackend::argmaxRows(const TensorView& best_value, const TensorView& best_index,
                            const TensorView& x, int first_index) {
  op_checks::argmax(best_value, best_index, x);
  kernels::cpu::argmaxRows(best_value.data<float>(), best_index.data<std::int32_t>(),
                           x.data<float>(), x.shape().rows(), toInt(x.shape().cols()), first_index);
}

}  // namespace shardrt
