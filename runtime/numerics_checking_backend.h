// A Backend that checks every op's floating-point output for NaN and Inf: what
// `shardrt run --check-numerics` puts between the executor and the real backend. It forwards
// each op unchanged, then counts the non-finite values the op wrote and, on the first output
// that holds any, throws a NumericsError naming the op (the executor's op context and the
// Backend op), its layer and the count. It only reads, so results are bitwise those of the
// backend it wraps. On a device other than the host each output is copied to the host to be
// counted: a debug flag's cost, not a production path.
//
// Not checked: copies and uploads (they move values some op or the host made; the next op
// that reads them is checked), fillZero, the router's expert indices (i32), and collectives
// (a value that arrives bad is caught by the next op that writes from it; the rank that made
// it caught it first).
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "runtime/forwarding_backend.h"

namespace shardrt {

// NaN and Inf among the values of a tensor.
struct NonFiniteCount {
  std::int64_t nan = 0;
  std::int64_t inf = 0;
  std::int64_t total = 0;       // values looked at
  std::int64_t first_bad = -1;  // index of the first NaN or Inf, -1 when none
  std::int64_t bad() const { return nan + inf; }
};

// Counts over n values at `data` (host memory) of dtype fp32 or bf16; other dtypes count none.
NonFiniteCount countNonFinite(const void* data, DType dtype, std::int64_t n);

// The first op output holding NaN or Inf. One line: "--check-numerics: op q_proj of layer 1,
// microbatch 0: linear wrote 134 NaN of 8576 output values (first at index 0)".
class NumericsError : public std::runtime_error {
 public:
  NumericsError(std::string backend_op, std::string context, NonFiniteCount count,
                std::string detail);
  const std::string& backendOp() const { return backend_op_; }  // "linear", "add", ...
  const std::string& context() const { return context_; }       // describeCurrentOp() or ""
  const NonFiniteCount& count() const { return count_; }

 private:
  std::string backend_op_;
  std::string context_;
  NonFiniteCount count_;
};

class NumericsCheckingBackend final : public ForwardingBackend {
 public:
  explicit NumericsCheckingBackend(Backend& inner) : ForwardingBackend(inner) {}

  // Outputs checked so far (each op output counts once, grouped linears once per call).
  long checkedOutputs() const { return checked_; }

  // The ops that write floating-point values: each forwards, then checks what it wrote.
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
  NonFiniteCount count(const TensorView& out);
  // Throws NumericsError when `out` holds NaN or Inf; `op` is the Backend op's name.
  void check(const char* op, const TensorView& out);

  std::vector<unsigned char> host_;  // staging for device outputs, reused across ops
  long checked_ = 0;
};

}  // namespace shardrt
