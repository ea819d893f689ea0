#include "runtime/numerics_checking_backend.h"

#include <cstring>
#include <numeric>

#include "runtime/op_context.h"

namespace shardrt {
namespace {

// IEEE bits with the sign cleared: at or above the all-ones exponent is Inf or NaN, above it
// NaN. Integer compares on the bits, so the loop vectorises and needs no floating-point mode.
template <typename Bits>
void countBits(const void* data, std::int64_t n, Bits exponent, NonFiniteCount& c) {
  const auto* p = static_cast<const unsigned char*>(data);
  const Bits magnitude = static_cast<Bits>(~(Bits(1) << (8 * sizeof(Bits) - 1)));
  std::int64_t bad = 0, nan = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    Bits b;
    std::memcpy(&b, p + i * sizeof(Bits), sizeof b);  // no aliasing of float as integer
    b &= magnitude;
    bad += b >= exponent;
    nan += b > exponent;
  }
  c.nan = nan;
  c.inf = bad - nan;
  if (bad == 0) return;
  for (std::int64_t i = 0; i < n; ++i) {  // only on failure: where the first one is
    Bits b;
    std::memcpy(&b, p + i * sizeof(Bits), sizeof b);
    if ((b & magnitude) >= exponent) {
      c.first_bad = i;
      return;
    }
  }
}

std::string describe(const std::string& backend_op, const std::string& context,
                     const NonFiniteCount& c, const std::string& detail) {
  std::string what;
  if (c.nan > 0) what = std::to_string(c.nan) + " NaN";
  if (c.nan > 0 && c.inf > 0) what += " and ";
  if (c.inf > 0) what += std::to_string(c.inf) + " Inf";
  std::string line = "--check-numerics: ";
  line += context.empty() ? "outside any op" : context;
  line += ": " + backend_op;
  if (!detail.empty()) line += " (" + detail + ")";
  line += " wrote " + what + " of " + std::to_string(c.total) + " output values (first at index " +
          std::to_string(c.first_bad) + ")";
  return line;
}

}  // namespace

NonFiniteCount countNonFinite(const void* data, DType dtype, std::int64_t n) {
  NonFiniteCount c;
  switch (dtype) {
    case DType::F32:
      c.total = n;
      countBits<std::uint32_t>(data, n, 0x7F800000u, c);
      break;
    case DType::BF16:
      c.total = n;
      countBits<std::uint16_t>(data, n, 0x7F80u, c);
      break;
    case DType::I32:
      break;  // integers are always finite
  }
  return c;
}

NumericsError::NumericsError(std::string backend_op, std::string context, NonFiniteCount count,
                             std::string detail)
    : std::runtime_error(describe(backend_op, context, count, detail)),
      backend_op_(std::move(backend_op)),
      context_(std::move(context)),
      count_(count) {}

NonFiniteCount NumericsCheckingBackend::count(const TensorView& out) {
  switch (out.device()) {
    case Device::Meta:
      return {};  // shapes only: nothing to look at
    case Device::Cpu:
      return countNonFinite(out.raw(), out.dtype(), out.numel());
    case Device::Cuda:
      break;
  }
  // The device's copy waits for the op to finish; a device reduction would copy 16 bytes
  // instead of the tensor, but this is a debug flag and needs no kernel of its own.
  host_.resize(out.bytes());
  inner().copyToHost(host_.data(), out);
  return countNonFinite(host_.data(), out.dtype(), out.numel());
}

void NumericsCheckingBackend::check(const char* op, const TensorView& out) {
  ++checked_;
  const NonFiniteCount c = count(out);
  if (c.bad() > 0) throw NumericsError(op, describeCurrentOp(), c, "");
}

void NumericsCheckingBackend::linear(const TensorView& out, const TensorView& inp,
                                     const TensorView& weight) {
  inner().linear(out, inp, weight);
  check("linear", out);
}

void NumericsCheckingBackend::rmsNorm(const TensorView& out, const TensorView& inp,
                                      const TensorView& weight, float eps) {
  inner().rmsNorm(out, inp, weight, eps);
  check("rmsnorm", out);
}

void NumericsCheckingBackend::layerNorm(const TensorView& out, const TensorView& inp,
                                        const TensorView& weight, const TensorView& bias,
                                        float eps) {
  inner().layerNorm(out, inp, weight, bias, eps);
  check("layernorm", out);
}

void NumericsCheckingBackend::rotaryEmbedding(const TensorView& x,
                                              const kernels::RopeFrequencies& rope) {
  inner().rotaryEmbedding(x, rope);
  check("rope", x);
}

void NumericsCheckingBackend::attention(const TensorView& out, const TensorView& q,
                                        const TensorView& k, const TensorView& v,
                                        const kernels::AttentionHeads& heads, bool causal) {
  inner().attention(out, q, k, v, heads, causal);
  check("attention", out);
}

void NumericsCheckingBackend::gelu(const TensorView& out, const TensorView& inp) {
  inner().gelu(out, inp);
  check("gelu", out);
}

void NumericsCheckingBackend::swiglu(const TensorView& out, const TensorView& gate,
                                     const TensorView& up) {
  inner().swiglu(out, gate, up);
  check("swiglu", out);
}

void NumericsCheckingBackend::copyColumns(const TensorView& out, int out_col, const TensorView& inp,
                                          int inp_col, int width) {
  inner().copyColumns(out, out_col, inp, inp_col, width);
  check("copy_columns", out);
}

void NumericsCheckingBackend::addBias(const TensorView& x, const TensorView& bias) {
  inner().addBias(x, bias);
  check("add_bias", x);
}

void NumericsCheckingBackend::sigmoidGateRows(const TensorView& x, const TensorView& gate_logits) {
  inner().sigmoidGateRows(x, gate_logits);
  check("sigmoid_gate", x);
}

void NumericsCheckingBackend::add(const TensorView& out, const TensorView& a, const TensorView& b) {
  inner().add(out, a, b);
  check("add", out);
}

void NumericsCheckingBackend::groupedLinear(const TensorView& out, const TensorView& inp,
                                            const std::vector<const Tensor*>& weights,
                                            const std::vector<int>& rows) {
  inner().groupedLinear(out, inp, weights, rows);
  ++checked_;
  // Only the groups' rows were written: rows past them may be whatever the buffer held.
  const long written = std::accumulate(rows.begin(), rows.end(), 0L);
  const NonFiniteCount c = count(out.rows(0, written));
  if (c.bad() == 0) return;
  // Which group (local expert, in placement order) made the first bad value.
  const std::int64_t row = c.first_bad / (c.total / written);
  long end = 0;
  std::size_t g = 0;
  while (g + 1 < rows.size() && (end += rows[g]) <= row) ++g;
  throw NumericsError("grouped_linear", describeCurrentOp(), c,
                      "first in group " + std::to_string(g) + " of " + std::to_string(rows.size()));
}

void NumericsCheckingBackend::routerTopK(const TensorView& experts, const TensorView& weights,
                                         const TensorView& logits, const TensorView* choice_bias,
                                         const kernels::RouterRule& rule) {
  inner().routerTopK(experts, weights, logits, choice_bias, rule);
  check("router_topk", weights);  // the experts are indices (i32)
}

void NumericsCheckingBackend::routerWeightsOf(const TensorView& weights, const TensorView& experts,
                                              const TensorView& logits,
                                              const kernels::RouterRule& rule) {
  inner().routerWeightsOf(weights, experts, logits, rule);
  check("router_weights_of", weights);
}

void NumericsCheckingBackend::gatherRows(const TensorView& out, const TensorView& inp,
                                         const TensorView& index) {
  inner().gatherRows(out, inp, index);
  check("gather_rows", out);
}

void NumericsCheckingBackend::scatterAddRows(const TensorView& out, const TensorView& inp,
                                             const TensorView& index, const TensorView& weight) {
  inner().scatterAddRows(out, inp, index, weight);
  check("scatter_add_rows", out);
}

void NumericsCheckingBackend::embedRows(const TensorView& out, const TensorView& ids,
                                        const TensorView& table, int first_id) {
  inner().embedRows(out, ids, table, first_id);
  check("embed_rows", out);
}

void NumericsCheckingBackend::rotaryEmbeddingAt(const TensorView& x, const TensorView& positions,
                                                const kernels::RopeFrequencies& rope) {
  inner().rotaryEmbeddingAt(x, positions, rope);
  check("rotary_embedding_at", x);
}

void NumericsCheckingBackend::scatterRows(const TensorView& out, const TensorView& inp,
                                          const TensorView& index) {
  inner().scatterRows(out, inp, index);
  check("scatter_rows", inp);  // the rows written; the rest of out may be unwritten cache
}

void NumericsCheckingBackend::cachedAttention(const TensorView& out, const TensorView& q,
                                              const TensorView& k_cache, const TensorView& v_cache,
                                              const TensorView& seq, const TensorView& pos,
                                              const kernels::AttentionHeads& heads) {
  inner().cachedAttention(out, q, k_cache, v_cache, seq, pos, heads);
  check("cached_attention", out);
}

void NumericsCheckingBackend::argmaxRows(const TensorView& best_value, const TensorView& best_index,
                                         const TensorView& x, int first_index) {
  inner().argmaxRows(best_value, best_index, x, first_index);
  check("argmax_rows", best_value);
}

}  // namespace shardrt
