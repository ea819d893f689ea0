#include "runtime/tracing_backend.h"

#include <numeric>

namespace shardrt {
namespace {

double bytesOf(const std::vector<TensorView>& views) {
  double b = 0.0;
  for (const auto& v : views) b += static_cast<double>(v.bytes());
  return b;
}

// Rows [begin, begin + count) of every view whose first dimension is the experts' rows.
std::vector<TensorView> expertSlice(const std::vector<TensorView>& views, long total, long begin,
                                    long count) {
  std::vector<TensorView> out;
  for (const auto& v : views) {
    out.push_back(v.shape().rank() > 0 && v.shape().size(0) == total ? v.rows(begin, count) : v);
  }
  return out;
}

}  // namespace

TraceEvent TracingBackend::event(const Op& op) const {
  TraceEvent e;
  e.kind = op.kind;
  e.op = op.op;
  for (const auto& v : op.inputs) e.inputs.push_back(tracer_.ref(v));
  for (const auto& v : op.weights) e.weights.push_back(tracer_.ref(v));
  for (const auto& v : op.outputs) e.outputs.push_back(tracer_.ref(v));
  e.flops = op.flops;
  e.mask = op.mask;
  e.bytes = bytesOf(op.inputs) + bytesOf(op.weights) + bytesOf(op.outputs);
  return e;
}

void TracingBackend::run(const Op& op, const std::function<void()>& body, bool per_expert) {
  if (!tracer_.recording()) {
    body();
    return;
  }
  const std::size_t start = tracer_.mark();
  body();
  const std::size_t end = tracer_.mark();
  const auto& rows = tracer_.expertRows();
  const long total = std::accumulate(rows.begin(), rows.end(), 0L);
  if (!per_expert || rows.empty() || op.outputs.empty() || op.outputs[0].shape().rank() == 0 ||
      op.outputs[0].shape().size(0) != total) {
    tracer_.record(event(op), start, end);
    return;
  }
  long begin = 0;
  for (std::size_t g = 0; g < rows.size(); ++g) {
    Op part = op;
    part.inputs = expertSlice(op.inputs, total, begin, rows[g]);
    part.outputs = expertSlice(op.outputs, total, begin, rows[g]);
    part.flops = total > 0 ? op.flops * rows[g] / total : 0.0;
    TraceEvent e = event(part);
    e.expert = tracer_.expertIds()[g];
    tracer_.record(std::move(e), start, end);
    begin += rows[g];
  }
}

Tensor TracingBackend::empty(Shape shape, DType dtype) {
  Tensor t = inner().empty(std::move(shape), dtype);
  tracer_.allocated(t);
  return t;
}

void TracingBackend::copyFromHost(const TensorView& dst, const void* src) {
  inner().copyFromHost(dst, src);
  if (tracer_.recording()) tracer_.recordBookkeeping(kOpHostWrite, {}, {tracer_.ref(dst)});
}

void TracingBackend::copy(const TensorView& dst, const TensorView& src) {
  inner().copy(dst, src);
  if (tracer_.recording()) {
    tracer_.recordBookkeeping(kOpDeviceCopy, {tracer_.ref(src)}, {tracer_.ref(dst)});
  }
}

void TracingBackend::linear(const TensorView& out, const TensorView& inp,
                            const TensorView& weight) {
  const double flops =
      2.0 * static_cast<double>(out.shape().rows()) * static_cast<double>(weight.numel());
  run({OpKind::Compute, "linear", {inp}, {weight}, {out}, flops},
      [&] { inner().linear(out, inp, weight); });
}

void TracingBackend::rmsNorm(const TensorView& out, const TensorView& inp, const TensorView& weight,
                             float eps) {
  run({OpKind::Compute, "rmsnorm", {inp}, {weight}, {out}},
      [&] { inner().rmsNorm(out, inp, weight, eps); });
}

void TracingBackend::layerNorm(const TensorView& out, const TensorView& inp,
                               const TensorView& weight, const TensorView& bias, float eps) {
  run({OpKind::Compute, "layernorm", {inp}, {weight, bias}, {out}},
      [&] { inner().layerNorm(out, inp, weight, bias, eps); });
}

void TracingBackend::rotaryEmbedding(const TensorView& x, const kernels::RopeFrequencies& rope) {
  run({OpKind::Compute, "rope", {x}, {}, {x}}, [&] { inner().rotaryEmbedding(x, rope); });
}

void TracingBackend::attention(const TensorView& out, const TensorView& q, const TensorView& k,
                               const TensorView& v, const kernels::AttentionHeads& heads,
                               bool causal) {
  // QK^T and PV: 4 * d_k FLOPs per (query head, visible key); a causal row i sees i + 1 keys.
  const auto& s = q.shape();
  const double seq = static_cast<double>(s.size(1));
  const double pairs = causal ? 0.5 * seq * (seq + 1.0) : seq * seq;
  const double flops = 4.0 * s.size(0) * s.size(2) * s.size(3) * pairs;
  const std::string mask = !causal ? ""
                           : heads.window > 0
                               ? "causal sliding-window (" + std::to_string(heads.window) + ")"
                               : "causal";
  run({OpKind::Compute, "attention", {q, k, v}, {}, {out}, flops, mask},
      [&] { inner().attention(out, q, k, v, heads, causal); });
}

void TracingBackend::gelu(const TensorView& out, const TensorView& inp) {
  run(
      {OpKind::Compute, "gelu", {inp}, {}, {out}}, [&] { inner().gelu(out, inp); }, true);
}

void TracingBackend::swiglu(const TensorView& out, const TensorView& gate, const TensorView& up) {
  run(
      {OpKind::Compute, "swiglu", {gate, up}, {}, {out}}, [&] { inner().swiglu(out, gate, up); },
      true);
}

void TracingBackend::copyColumns(const TensorView& out, int out_col, const TensorView& inp,
                                 int inp_col, int width) {
  // A gather of columns into place: drawn as routing/aggregation (a parallelogram).
  run({OpKind::Route, "copy_columns", {inp}, {}, {out}},
      [&] { inner().copyColumns(out, out_col, inp, inp_col, width); });
}

void TracingBackend::addBias(const TensorView& x, const TensorView& bias) {
  run({OpKind::Compute, "add_bias", {x}, {bias}, {x}}, [&] { inner().addBias(x, bias); });
}

void TracingBackend::sigmoidGateRows(const TensorView& x, const TensorView& gate_logits) {
  run({OpKind::Compute, "sigmoid_gate", {x, gate_logits}, {}, {x}},
      [&] { inner().sigmoidGateRows(x, gate_logits); });
}

void TracingBackend::add(const TensorView& out, const TensorView& a, const TensorView& b) {
  run({OpKind::Compute, "add", {a, b}, {}, {out}}, [&] { inner().add(out, a, b); });
}

void TracingBackend::fillZero(const TensorView& out) {
  inner().fillZero(out);
  // Zeros overwrite whatever was there; nothing traced produced them.
  if (tracer_.recording()) tracer_.recordBookkeeping(kOpHostWrite, {}, {tracer_.ref(out)});
}

void TracingBackend::groupedLinear(const TensorView& out, const TensorView& inp,
                                   const std::vector<const Tensor*>& weights,
                                   const std::vector<int>& rows) {
  if (!tracer_.recording()) {
    inner().groupedLinear(out, inp, weights, rows);
    return;
  }
  const std::size_t start = tracer_.mark();
  inner().groupedLinear(out, inp, weights, rows);
  const std::size_t end = tracer_.mark();
  // One record per group (expert), all spanning the one launch.
  const auto& ids = tracer_.expertIds();
  long begin = 0;
  for (std::size_t g = 0; g < weights.size(); ++g) {
    const TensorView w = *weights[g];
    const double flops = 2.0 * rows[g] * static_cast<double>(w.numel());
    TraceEvent e = event({OpKind::Compute,
                          "linear",
                          {inp.rows(begin, rows[g])},
                          {w},
                          {out.rows(begin, rows[g])},
                          flops});
    e.expert = g < ids.size() ? ids[g] : static_cast<int>(g);
    tracer_.record(std::move(e), start, end);
    begin += rows[g];
  }
}

void TracingBackend::routerTopK(const TensorView& experts, const TensorView& weights,
                                const TensorView& logits, const TensorView* choice_bias,
                                const kernels::RouterRule& rule) {
  // The choice bias is a weight of the layer: the node lists it beside the logits.
  std::vector<TensorView> bias;
  if (choice_bias) bias.push_back(*choice_bias);
  run({OpKind::Route, "topk", {logits}, bias, {experts, weights}},
      [&] { inner().routerTopK(experts, weights, logits, choice_bias, rule); });
}

void TracingBackend::routerWeightsOf(const TensorView& weights, const TensorView& experts,
                                     const TensorView& logits, const kernels::RouterRule& rule) {
  run({OpKind::Route, "router_weights", {logits, experts}, {}, {weights}},
      [&] { inner().routerWeightsOf(weights, experts, logits, rule); });
}

void TracingBackend::gatherRows(const TensorView& out, const TensorView& inp,
                                const TensorView& index) {
  run({OpKind::Route, "permute", {inp, index}, {}, {out}},
      [&] { inner().gatherRows(out, inp, index); });
}

void TracingBackend::scatterAddRows(const TensorView& out, const TensorView& inp,
                                    const TensorView& index, const TensorView& weight) {
  run({OpKind::Route, "weighted_combine", {inp, index, weight}, {}, {out}},
      [&] { inner().scatterAddRows(out, inp, index, weight); });
}

void TracingBackend::embedRows(const TensorView& out, const TensorView& ids,
                               const TensorView& table, int first_id) {
  // A lookup of rows by token id: drawn as routing (a parallelogram), the table a weight.
  run({OpKind::Route, "embedding", {ids}, {table}, {out}},
      [&] { inner().embedRows(out, ids, table, first_id); });
}

void TracingBackend::rotaryEmbeddingAt(const TensorView& x, const TensorView& positions,
                                       const kernels::RopeFrequencies& rope) {
  run({OpKind::Compute, "rope", {x, positions}, {}, {x}},
      [&] { inner().rotaryEmbeddingAt(x, positions, rope); });
}

void TracingBackend::scatterRows(const TensorView& out, const TensorView& inp,
                                 const TensorView& index) {
  run({OpKind::Route, "kv_cache_write", {inp, index}, {}, {out}},
      [&] { inner().scatterRows(out, inp, index); });
}

void TracingBackend::cachedAttention(const TensorView& out, const TensorView& q,
                                     const TensorView& k_cache, const TensorView& v_cache,
                                     const TensorView& seq, const TensorView& pos,
                                     const kernels::AttentionHeads& heads) {
  // The visible keys per token follow from the positions, which are on the device: the FLOPs
  // are the executor's count (4 * d_k per query head and visible key), not recomputed here.
  const std::string mask =
      heads.window > 0
          ? "causal-by-position sliding-window (" + std::to_string(heads.window) + ")"
          : "causal-by-position";
  run({OpKind::Compute, "cached_attention", {q, k_cache, v_cache, seq, pos}, {}, {out},
       tracer_.labelFlops(), mask},
      [&] { inner().cachedAttention(out, q, k_cache, v_cache, seq, pos, heads); });
}

void TracingBackend::argmaxRows(const TensorView& best_value, const TensorView& best_index,
                                const TensorView& x, int first_index) {
  run({OpKind::Compute, "argmax", {x}, {}, {best_value, best_index}},
      [&] { inner().argmaxRows(best_value, best_index, x, first_index); });
}

}  // namespace shardrt
