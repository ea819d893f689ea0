// A Backend that records every op it forwards to another one: what `shardrt run --trace` and
// `shardrt dag` put between the executor and the real (or meta) backend. Each op becomes a
// TraceEvent with its named shapes, the memory it read and wrote, two clock marks on the
// device's timeline, its FLOPs and bytes. Inside an MoE layer's expert block, grouped GEMMs and
// elementwise ops over the experts' rows are recorded once per expert, sharing the call's
// time span (they ran as one launch).
#pragma once

#include <functional>
#include <string>

#include "runtime/forwarding_backend.h"
#include "runtime/tracer.h"

namespace shardrt {

class TracingBackend final : public ForwardingBackend {
 public:
  TracingBackend(Backend& inner, Tracer& tracer) : ForwardingBackend(inner), tracer_(tracer) {}

  // Allocations and copies are bookkeeping: they tell the graph where data came from.
  Tensor empty(Shape shape, DType dtype) override;
  void copyFromHost(const TensorView& dst, const void* src) override;
  void copy(const TensorView& dst, const TensorView& src) override;

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

 private:
  struct Op {
    OpKind kind;
    const char* op;
    std::vector<TensorView> inputs, weights, outputs;
    double flops = 0.0;
    std::string mask = {};  // attention's mask (TraceEvent::mask)
  };
  // Runs body between two clock marks and records op (once per expert where `per_expert`
  // and the tracer names expert rows that cover the op's rows).
  void run(const Op& op, const std::function<void()>& body, bool per_expert = false);
  TraceEvent event(const Op& op) const;

  Tracer& tracer_;
};

}  // namespace shardrt
