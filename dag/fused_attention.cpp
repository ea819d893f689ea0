#include "dag/fused_attention.h"

#include <cstdio>
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

CachedAttentionOperators cachedAttentionOperators(const GraphNode& kernel, const TraceEvent& e) {
  if (e.inputs.size() != 5 || e.outputs.size() != 1 || e.inputs[0].shape.rank() != 4 ||
      e.inputs[1].shape.rank() != 4 || e.inputs[2].shape.rank() != 4) {
    throw std::logic_error(
        "graph: a cached_attention record without q [tokens, 1, heads, d_k], the k and v caches "
        "[sequences, context, kv_heads, d_k], sequence and position, and one output");
  }
  const Shape& q = e.inputs[0].shape;
  const Shape& k_cache = e.inputs[1].shape;
  const Shape& v_cache = e.inputs[2].shape;
  const Shape& seq = e.inputs[3].shape;
  const Shape& pos = e.inputs[4].shape;
  const Shape keys({q[0], k_cache[1], k_cache[2], k_cache[3]});
  const Shape values({q[0], v_cache[1], v_cache[2], v_cache[3]});
  const Shape scores({q[0], q[2], k_cache[1]});
  // The executor counts 4 * d_k FLOPs per query head and visible key: the scores left.
  const double all = static_cast<double>(scores.numel());
  const double visible = q[3].size > 0 ? e.flops / (4.0 * static_cast<double>(q[3].size)) : 0.0;
  std::string left;
  if (all > 0 && visible >= 0 && visible <= all) {
    char buf[96];
    std::snprintf(buf, sizeof buf, " (%.0f of %.0f scores visible)", visible, all);
    left = buf;
  }
  const std::string& name = e.name.empty() ? e.op : e.name;
  CachedAttentionOperators ops{
      part(kernel, "k", kCacheReadOp, name + " read keys from the k cache"),
      part(kernel, "qk", kAttentionScoresOp, name + " Q·K^T / sqrt(d_k)"),
      part(kernel, "softmax", kAttentionSoftmaxOp, name + " " + e.mask + " mask + softmax" + left),
      part(kernel, "vread", kCacheReadOp, name + " read values from the v cache"),
      part(kernel, "v", kAttentionValuesOp, name + " probs·V")};
  ops.read_keys.kind = ops.read_values.kind = "route";
  ops.read_keys.inputs = {k_cache, seq, pos};
  ops.read_keys.outputs = {keys};
  ops.scores.inputs = {q, keys};
  ops.scores.outputs = {scores};
  ops.softmax.inputs = {scores};
  ops.softmax.outputs = {scores};
  ops.read_values.inputs = {v_cache, seq, pos};
  ops.read_values.outputs = {values};
  ops.values.inputs = {scores, values};
  ops.values.outputs = {e.outputs[0].shape};
  ops.scores.flops = e.flops / 2;
  ops.values.flops = e.flops - ops.scores.flops;
  return ops;
}

}  // namespace shardrt::dag
