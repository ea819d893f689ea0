#include "runtime/forwarding_backend.h"

namespace shardrt {

std::string_view ForwardingBackend::name() const { return inner_.name(); }

Device ForwardingBackend::device() const { return inner_.device(); }

Tensor ForwardingBackend::empty(Shape shape, DType dtype) {
  return inner_.empty(std::move(shape), dtype);
}

void ForwardingBackend::copyFromHost(const TensorView& dst, const void* src) {
  inner_.copyFromHost(dst, src);
}

void ForwardingBackend::copyToHost(void* dst, const TensorView& src) {
  inner_.copyToHost(dst, src);
}

void ForwardingBackend::copy(const TensorView& dst, const TensorView& src) {
  inner_.copy(dst, src);
}

void ForwardingBackend::synchronize() { inner_.synchronize(); }

double ForwardingBackend::timeOps(const std::function<void()>& body) {
  return inner_.timeOps(body);
}

std::optional<std::size_t> ForwardingBackend::freeMemory() const { return inner_.freeMemory(); }

std::string ForwardingBackend::attentionSummary() const { return inner_.attentionSummary(); }

std::size_t ForwardingBackend::mark() { return inner_.mark(); }

double ForwardingBackend::markMicroseconds(std::size_t mark) {
  return inner_.markMicroseconds(mark);
}

void ForwardingBackend::clearMarks() { inner_.clearMarks(); }

void ForwardingBackend::linear(const TensorView& out, const TensorView& inp,
                               const TensorView& weight) {
  inner_.linear(out, inp, weight);
}

void ForwardingBackend::rmsNorm(const TensorView& out, const TensorView& inp,
                                const TensorView& weight, float eps) {
  inner_.rmsNorm(out, inp, weight, eps);
}

void ForwardingBackend::layerNorm(const TensorView& out, const TensorView& inp,
                                  const TensorView& weight, const TensorView& bias, float eps) {
  inner_.layerNorm(out, inp, weight, bias, eps);
}

void ForwardingBackend::rotaryEmbedding(const TensorView& x, const kernels::RopeFrequencies& rope) {
  inner_.rotaryEmbedding(x, rope);
}

void ForwardingBackend::attention(const TensorView& out, const TensorView& q, const TensorView& k,
                                  const TensorView& v, const kernels::AttentionHeads& heads,
                                  bool causal) {
  inner_.attention(out, q, k, v, heads, causal);
}

void ForwardingBackend::gelu(const TensorView& out, const TensorView& inp) {
  inner_.gelu(out, inp);
}

void ForwardingBackend::swiglu(const TensorView& out, const TensorView& gate,
                               const TensorView& up) {
  inner_.swiglu(out, gate, up);
}

void ForwardingBackend::copyColumns(const TensorView& out, int out_col, const TensorView& inp,
                                    int inp_col, int width) {
  inner_.copyColumns(out, out_col, inp, inp_col, width);
}

void ForwardingBackend::addBias(const TensorView& x, const TensorView& bias) {
  inner_.addBias(x, bias);
}

void ForwardingBackend::sigmoidGateRows(const TensorView& x, const TensorView& gate_logits) {
  inner_.sigmoidGateRows(x, gate_logits);
}

void ForwardingBackend::add(const TensorView& out, const TensorView& a, const TensorView& b) {
  inner_.add(out, a, b);
}

void ForwardingBackend::fillZero(const TensorView& out) { inner_.fillZero(out); }

void ForwardingBackend::groupedLinear(const TensorView& out, const TensorView& inp,
                                      const std::vector<const Tensor*>& weights,
                                      const std::vector<int>& rows) {
  inner_.groupedLinear(out, inp, weights, rows);
}

void ForwardingBackend::routerTopK(const TensorView& experts, const TensorView& weights,
                                   const TensorView& logits, const TensorView* choice_bias,
                                   const kernels::RouterRule& rule) {
  inner_.routerTopK(experts, weights, logits, choice_bias, rule);
}

void ForwardingBackend::routerWeightsOf(const TensorView& weights, const TensorView& experts,
                                        const TensorView& logits, const kernels::RouterRule& rule) {
  inner_.routerWeightsOf(weights, experts, logits, rule);
}

void ForwardingBackend::gatherRows(const TensorView& out, const TensorView& inp,
                                   const TensorView& index) {
  inner_.gatherRows(out, inp, index);
}

void ForwardingBackend::scatterAddRows(const TensorView& out, const TensorView& inp,
                                       const TensorView& index, const TensorView& weight) {
  inner_.scatterAddRows(out, inp, index, weight);
}

void ForwardingBackend::embedRows(const TensorView& out, const TensorView& ids,
                                  const TensorView& table, int first_id) {
  inner_.embedRows(out, ids, table, first_id);
}

void ForwardingBackend::rotaryEmbeddingAt(const TensorView& x, const TensorView& positions,
                                          const kernels::RopeFrequencies& rope) {
  inner_.rotaryEmbeddingAt(x, positions, rope);
}

void ForwardingBackend::scatterRows(const TensorView& out, const TensorView& inp,
                                    const TensorView& index) {
  inner_.scatterRows(out, inp, index);
}

void ForwardingBackend::cachedAttention(const TensorView& out, const TensorView& q,
                                        const TensorView& k_cache, const TensorView& v_cache,
                                        const TensorView& seq, const TensorView& pos,
                                        const kernels::AttentionHeads& heads) {
  inner_.cachedAttention(out, q, k_cache, v_cache, seq, pos, heads);
}

void ForwardingBackend::argmaxRows(const TensorView& best_value, const TensorView& best_index,
                                   const TensorView& x, int first_index) {
  inner_.argmaxRows(best_value, best_index, x, first_index);
}

}  // namespace shardrt
