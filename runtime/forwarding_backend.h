// A Backend that passes every call, unchanged, to another Backend it does not own: the base of
// the decorators (runtime/tracing_backend.h, runtime/numerics_checking_backend.h), so that
// each overrides only the calls it watches and an op added to the Backend reaches the inner
// one through every decorator without anyone remembering to forward it.
#pragma once

#include "runtime/backend.h"

namespace shardrt {

class ForwardingBackend : public Backend {
 public:
  explicit ForwardingBackend(Backend& inner) : inner_(inner) {}

  std::string_view name() const override;
  Device device() const override;
  Tensor empty(Shape shape, DType dtype) override;
  void copyFromHost(const TensorView& dst, const void* src) override;
  void copyToHost(void* dst, const TensorView& src) override;
  void copy(const TensorView& dst, const TensorView& src) override;
  void synchronize() override;
  double timeOps(const std::function<void()>& body) override;
  std::optional<std::size_t> freeMemory() const override;
  std::string attentionSummary() const override;
  bool canCapture() const override { return inner_.canCapture(); }
  void beginCapture() override { inner_.beginCapture(); }
  int endCapture() override { return inner_.endCapture(); }
  void replay(int graph) override { inner_.replay(graph); }
  std::size_t mark() override;
  double markMicroseconds(std::size_t mark) override;
  void clearMarks() override;

  void linear(const TensorView& out, const TensorView& inp, const TensorView& weight) override;
  void rmsNorm(const TensorView& out, const TensorView& inp, const TensorView& weight,
               float eps) override;
  void layerNorm(const TensorView& out, const TensorView& inp, const TensorView& weight,
                 const TensorView& bias, float eps) override;
  void rotaryEmbedding(const TensorView& x, const kernels::RopeFrequencies& rope) override;
  void attention(const TensorView& out, const TensorView& q, const TensorView& k,
                 const TensorView& v, const kernels::AttentionHeads& heads, bool causal) override;
  void gelu(const TensorView& out, const TensorView& inp) override;
  void swiglu(const TensorView& out, const TensorView& gate, const TensorView& up) override;
  void add(const TensorView& out, const TensorView& a, const TensorView& b) override;
  void addBias(const TensorView& x, const TensorView& bias) override;
  void copyColumns(const TensorView& out, int out_col, const TensorView& inp, int inp_col,
                   int width) override;
  void sigmoidGateRows(const TensorView& x, const TensorView& gate_logits) override;
  void fillZero(const TensorView& out) override;
  void groupedLinear(const TensorView& out, const TensorView& inp,
                     const std::vector<const Tensor*>& weights,
                     const std::vector<int>& rows) override;
  void routerTopK(const TensorView& experts, const TensorView& weights, const TensorView& logits,
                  const TensorView* choice_bias, const kernels::RouterRule& rule) override;
  void routerWeightsOf(const TensorView& weights, const TensorView& experts,
                       const TensorView& logits, const kernels::RouterRule& rule) override;
  void gatherRows(const TensorView& out, const TensorView& inp, const TensorView& index) override;
  void scatterAddRows(const TensorView& out, const TensorView& inp, const TensorView& index,
                      const TensorView& weight) override;
  void embedRows(const TensorView& out, const TensorView& ids, const TensorView& table,
                 int first_id) override;
  void rotaryEmbeddingAt(const TensorView& x, const TensorView& positions,
                         const kernels::RopeFrequencies& rope) override;
  void scatterRows(const TensorView& out, const TensorView& inp, const TensorView& index) override;
  void cachedAttention(const TensorView& out, const TensorView& q, const TensorView& k_cache,
                       const TensorView& v_cache, const TensorView& seq, const TensorView& pos,
                       const kernels::AttentionHeads& heads) override;
  void argmaxRows(const TensorView& best_value, const TensorView& best_index, const TensorView& x,
                  int first_index) override;

 protected:
  Backend& inner() const { return inner_; }

 private:
  Backend& inner_;
};

}  // namespace shardrt
