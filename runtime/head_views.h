// Views of the executor's per-head activations, and the FLOPs of a projection: shared by the
// attention paths (runtime/transformer.cpp, runtime/latent_attention.cpp).
#pragma once

#include <string>

#include "runtime/tensor.h"

namespace shardrt {

// (batch, seq, heads, d) seen as (batch, seq, heads*d): what a projection writes or reads
// (kv_heads*d_k for the keys and values of grouped-query attention).
inline TensorView mergeHeads(const TensorView& t) {
  const auto& s = t.shape();
  return t.reshaped({s[0], s[1],
                     Dim(s[2].name + "*" + s[3].name, s.size(2) * s.size(3),
                         s[2].global * s.size(3))});
}

// (batch, seq, heads, d) seen as (batch*seq*heads, d): one row a head.
inline TensorView headRows(const TensorView& t) {
  const auto& s = t.shape();
  return t.reshaped({Dim("rows", s.size(0) * s.size(1) * s.size(2)), s[3]});
}

// The first `rows` rows of a buffer, or an empty view of one never allocated: the part of an
// activation buffer sized for the largest pass that the pass at hand uses. With `global`, the
// first dimension's global size becomes it: a generation step's tokens are `rows` of the
// round's `global`, not of the buffer's capacity (what the trace's labels print).
inline TensorView firstRows(const Tensor& t, long rows, long global = -1) {
  if (t.shape().rank() == 0) return {};
  const TensorView v = t.view().rows(0, rows);
  if (global < 0) return v;
  std::vector<Dim> dims = v.shape().dims();
  dims[0].global = global;
  return v.reshaped(Shape(std::move(dims)));
}

// The first shape.numel() elements of a buffer, seen as `shape`: a pass's part of a scratch
// buffer sized for the widest of its uses.
inline TensorView prefixAs(const Tensor& t, Shape shape) {
  const TensorView flat = t.view().reshaped({Dim("elements", t.numel())});
  return flat.rows(0, shape.numel()).reshaped(std::move(shape));
}

// y = x W^T over `tokens` rows: 2 FLOPs per weight element per token.
inline double linearFlops(long tokens, const Tensor& weight) {
  return 2.0 * static_cast<double>(tokens) * static_cast<double>(weight.numel());
}

}  // namespace shardrt
