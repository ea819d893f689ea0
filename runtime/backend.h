// The Backend: tensor ops and GEMMs on one device. The executor's forward is written once
// against this interface; cpu (kernels/cpu + OpenBLAS) implements it here, cuda (our kernels
// + cuBLAS) and meta (shapes only) plug into the same seam. Every op takes views of memory
// the Backend allocated; every backend checks shapes with runtime/op_checks.h.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kernels/attention_heads.h"
#include "kernels/rope_frequencies.h"
#include "kernels/router_rule.h"
#include "runtime/tensor.h"

namespace shardrt {

class Backend {
 public:
  virtual ~Backend() = default;

  virtual std::string_view name() const = 0;
  virtual Device device() const = 0;

  virtual Tensor empty(Shape shape, DType dtype) = 0;
  virtual void copyFromHost(const TensorView& dst, const void* src) = 0;  // dst.bytes() bytes
  virtual void copyToHost(void* dst, const TensorView& src) = 0;
  virtual void copy(const TensorView& dst, const TensorView& src) = 0;  // same device
  virtual void synchronize() = 0;  // returns once every op issued so far has finished
  // Seconds the work `body` issues takes on this device, waiting for it to finish.
  virtual double timeOps(const std::function<void()>& body) = 0;
  // Bytes the device can still allocate; nullopt where the backend does not know (host RAM).
  virtual std::optional<std::size_t> freeMemory() const = 0;

  // The tracer's clock, on the device's own timeline: mark() notes the point after the work
  // issued so far (host clock here; CUDA events on a GPU, so that an asynchronous op is timed
  // when it ran, not when it was launched). Once synchronize() has returned,
  // markMicroseconds(m) is m's time in microseconds after the first mark since clearMarks().
  // Which attention kernel ran, for the run summary: empty where there is no choice (every
  // backend but cuda with --attention cudnn), so that a silent fallback is visible.
  virtual std::string attentionSummary() const { return {}; }

  virtual std::size_t mark();
  virtual double markMicroseconds(std::size_t mark);
  virtual void clearMarks();

  // Device work recorded once and replayed (CUDA graphs: at small batches a decode step costs
  // its launches more than its arithmetic). beginCapture() records the work issued after it
  // instead of running it; endCapture() returns a handle to it; replay(graph) runs it again,
  // reading whatever its buffers hold then. The work must allocate nothing, copy nothing to or
  // from the host and wait for nothing on the host. Only where canCapture(); elsewhere they
  // throw std::logic_error.
  virtual bool canCapture() const { return false; }
  virtual void beginCapture();
  virtual int endCapture();
  virtual void replay(int graph);

  // out (..., N) = inp (..., K) @ weight (N, K)^T
  virtual void linear(const TensorView& out, const TensorView& inp, const TensorView& weight) = 0;
  // Normalise over the last dimension; out may be inp.
  virtual void rmsNorm(const TensorView& out, const TensorView& inp, const TensorView& weight,
                       float eps) = 0;
  virtual void layerNorm(const TensorView& out, const TensorView& inp, const TensorView& weight,
                         const TensorView& bias, float eps) = 0;
  // x (batch, seq_len, heads, head_dim), rotated in place.
  virtual void rotaryEmbedding(const TensorView& x, const kernels::RopeFrequencies& rope) = 0;
  // q, out (batch, seq_len, q_heads, head_dim); k, v (batch, seq_len, kv_heads, head_dim).
  virtual void attention(const TensorView& out, const TensorView& q, const TensorView& k,
                         const TensorView& v, const kernels::AttentionHeads& heads,
                         bool causal) = 0;
  virtual void gelu(const TensorView& out, const TensorView& inp) = 0;
  virtual void swiglu(const TensorView& out, const TensorView& gate, const TensorView& up) = 0;
  virtual void add(const TensorView& out, const TensorView& a, const TensorView& b) = 0;
  // x (..., cols) += bias (cols) on every row: a linear layer's bias after its GEMM.
  virtual void addBias(const TensorView& x, const TensorView& bias) = 0;
  // out[r, out_col + j] = inp[r / repeat, inp_col + j] for j < width and every other element
  // of out 0, out and inp as (rows, cols) by their last dimension, repeat = out rows / inp rows
  // (a whole number): a block of columns, each inp row filling `repeat` out rows
  // (kernels/cpu/column_copy.h). Multi-head latent attention assembles its keys and values
  // with it.
  virtual void copyColumns(const TensorView& out, int out_col, const TensorView& inp, int inp_col,
                           int width) = 0;
  // x (tokens, cols) *= sigmoid(gate_logits (tokens, 1)), row by row: Qwen2-MoE's gated
  // shared expert.
  virtual void sigmoidGateRows(const TensorView& x, const TensorView& gate_logits) = 0;
  virtual void fillZero(const TensorView& out) = 0;
  // For each group g: rows[g] rows of out (.., N) = the same rows of inp (.., K) @ weights[g]
  // (N, K)^T, the groups' rows back to back. One launch on backends that can (all the local
  // experts of an MoE layer at once).
  virtual void groupedLinear(const TensorView& out, const TensorView& inp,
                             const std::vector<const Tensor*>& weights,
                             const std::vector<int>& rows) = 0;

  // Mixture-of-Experts routing. logits (tokens, experts) and choice_bias (experts, f32) or null
  // -> experts (tokens, top_k, i32) and weights (tokens, top_k): kernels/router_rule.h states
  // the rule every backend follows.
  virtual void routerTopK(const TensorView& experts, const TensorView& weights,
                          const TensorView& logits, const TensorView* choice_bias,
                          const kernels::RouterRule& rule) = 0;
  // The weights the router gives experts chosen elsewhere: experts (tokens, top_k, i32) and
  // logits (tokens, experts) -> weights (tokens, top_k), each expert's score by routerTopK's
  // rule, renormalised over the chosen when normalize is set, then scaled
  // (kernels/router_rule.h). A reference follows a run's routing with it (runtime/moe_block.h).
  virtual void routerWeightsOf(const TensorView& weights, const TensorView& experts,
                               const TensorView& logits, const kernels::RouterRule& rule) = 0;
  // out (rows, cols) = inp[index] row by row; index (rows, i32).
  virtual void gatherRows(const TensorView& out, const TensorView& inp,
                          const TensorView& index) = 0;
  // out[index[i]] += weight[i] * inp[i]; index, weight (rows).
  virtual void scatterAddRows(const TensorView& out, const TensorView& inp, const TensorView& index,
                              const TensorView& weight) = 0;

  // Generation (runtime/generation_executor.h): tokens in, the KV cache, tokens out.
  // out (tokens, hidden) = table's rows for ids (tokens, i32), table (rows, hidden) holding the
  // ids first_id.. of a vocabulary split over tp; zeros for ids it does not hold
  // (kernels/cpu/embedding.h).
  virtual void embedRows(const TensorView& out, const TensorView& ids, const TensorView& table,
                         int first_id) = 0;
  // x (tokens, ..., heads, head_dim) rotated in place, token t at positions[t] (i32): the
  // rotary embedding of tokens at their places in their sequences.
  virtual void rotaryEmbeddingAt(const TensorView& x, const TensorView& positions,
                                 const kernels::RopeFrequencies& rope) = 0;
  // out[index[i]] = inp[i], row by row, no row of out named twice: new keys and values into
  // the KV cache.
  virtual void scatterRows(const TensorView& out, const TensorView& inp,
                           const TensorView& index) = 0;
  // Attention of tokens over the KV cache (kernels/cpu/cached_attention.h): q, out (tokens, ...,
  // q_heads, head_dim); k_cache, v_cache (sequences, context, kv_heads, head_dim); token t is
  // sequence seq[t]'s token at position pos[t] (i32) and sees its keys up to pos[t], causally.
  virtual void cachedAttention(const TensorView& out, const TensorView& q,
                               const TensorView& k_cache, const TensorView& v_cache,
                               const TensorView& seq, const TensorView& pos,
                               const kernels::AttentionHeads& heads) = 0;
  // best_value (rows, f32) and best_index (rows, i32) = each row's largest value in x (rows,
  // cols) and its column + first_index, the first on ties (kernels/cpu/argmax.h).
  virtual void argmaxRows(const TensorView& best_value, const TensorView& best_index,
                          const TensorView& x, int first_index) = 0;

 private:
  std::vector<double> host_marks_;  // steady-clock seconds, for the default marks
};

}  // namespace shardrt
