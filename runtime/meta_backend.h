// The meta Backend: shapes only. Tensors get addresses that are never dereferenced (nothing is
// allocated or computed), every op checks its shapes as the real backends do, and the router
// routes by a stated assumption instead of scores: token t's k slots go to experts
// (t * k + j) mod experts, j < k, so every expert receives the same number of slots (uniform).
// With the meta Communicator it runs the executor of every rank of a deployment in one
// process (`shardrt dag`).
#pragma once

#include <map>
#include <vector>

#include "runtime/backend.h"

namespace shardrt {

inline constexpr const char* kMetaRoutingAssumption =
    "MoE routing assumed uniform (token t's k slots to experts t*k .. t*k+k-1 mod experts)";

class MetaBackend final : public Backend {
 public:
  MetaBackend();
  std::string_view name() const override { return "meta"; }
  Device device() const override { return Device::Meta; }
  Tensor empty(Shape shape, DType dtype) override;
  void copyFromHost(const TensorView&, const void*) override {}
  // The router's results as the assumption made them; zeros for anything else.
  void copyToHost(void* dst, const TensorView& src) override;
  void copy(const TensorView& dst, const TensorView& src) override;
  void synchronize() override {}
  double timeOps(const std::function<void()>& body) override;
  std::optional<std::size_t> freeMemory() const override { return std::nullopt; }

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
  void fillZero(const TensorView&) override {}
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
  std::uintptr_t next_;  // the next fake address
  // Router outputs by address, until the executor copies them to the host.
  std::map<std::uintptr_t, std::vector<char>> host_values_;
};

}  // namespace shardrt
