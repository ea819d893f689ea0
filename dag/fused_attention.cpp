#include "dag/fused_attention.h"

#include <stdexcept>

namespace shardrt::dag {
namespace {

GraphNode part(const GraphNode& kernel, const char* suffix, const char* op, std::string title) {
  GraphNode n = kernel;
  n.id = kernel.id + "_" + suffix;
  n.op = op;
  n.title = std::move(title);
  n.inputs.clear();
  n.weights.clear();
  n.outputs.clear();
  n.flops = 0.0;
  return n;
}

}  // namespace

AttentionOperators attentionOperators(const GraphNode& kernel, const TraceEvent& e) {
  if (e.inputs.size() != 3 || e.outputs.size() != 1 || e.inputs[0].shape.rank() != 4 ||
      e.inputs[1].shape.rank() != 4) {
    throw std::logic_error(
        "graph: an attention record without q, k, v [batch, seq, heads, dim]"
        " and one output");
  }
  const Shape& q = e.inputs[0].shape;  // [batch_size, seq_len, heads, d_k]
  const Shape& k = e.inputs[1].shape;  // [batch_size, seq_len, kv_heads, d_k]
  const Shape& v = e.inputs[2].shape;
  // One score per query head, query position and key position: the key positions are k's
  // seq_len (rule 13 has no other name for them).
  const Shape scores({q[0], q[2], q[1], k[1]});
  const std::string& name = e.name.empty() ? e.op : e.name;
  AttentionOperators ops{
      part(kernel, "qk", kAttentionScoresOp, name + " Q·K^T / sqrt(d_k)"),
      part(kernel, "softmax", kAttentionSoftmaxOp,
           name + (e.mask.empty() ? " softmax (no mask)" : " " + e.mask + " mask + softmax")),
      part(kernel, "v", kAttentionValuesOp, name + " probs·V")};
  ops.scores.inputs = {q, k};
  ops.scores.outputs = {scores};
  ops.softmax.inputs = {scores};
  ops.softmax.outputs = {scores};
  ops.values.inputs = {scores, v};
  ops.values.outputs = {e.outputs[0].shape};
  // The tracer counts the two products alone (2 * d_k FLOPs per query head and visible key
  // each, the count FlashAttention reports); the softmax's few operations per score are not in
  // it, so it gets none, and the two halves add up to the call's FLOPs exactly.
  ops.scores.flops = e.flops / 2;
  ops.values.flops = e.flops - ops.scores.flops;
  return ops;
}

}  // namespace shardrt::dag
