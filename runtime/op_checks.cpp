#include "runtime/op_checks.h"

#include <stdexcept>
#include <string>

namespace shardrt::op_checks {
namespace {

[[noreturn]] void fail(const char* op, const std::string& why) {
  throw std::logic_error(std::string(op) + ": " + why);
}

}  // namespace

void linear(const TensorView& out, const TensorView& inp, const TensorView& weight) {
  const auto& w = weight.shape();
  if (w.rank() != 2 || inp.shape().cols() != w.size(1) || out.shape().cols() != w.size(0) ||
      out.shape().rows() != inp.shape().rows()) {
    fail("linear", "out " + out.shape().str() + " != inp " + inp.shape().str() + " @ weight " +
                       w.str() + "^T");
  }
}

void norm(const TensorView& out, const TensorView& inp, const TensorView& weight) {
  if (out.shape().numel() != inp.shape().numel() || weight.numel() != inp.shape().cols()) {
    fail("norm", "inp " + inp.shape().str() + ", weight " + weight.shape().str() + ", out " +
                     out.shape().str());
  }
}

void bias(const TensorView& x, const TensorView& bias) {
  if (bias.numel() != x.shape().cols() || x.shape().cols() == 0) {
    fail("add_bias", "x " + x.shape().str() + ", bias " + bias.shape().str());
  }
  if (bias.dtype() != x.dtype()) fail("add_bias", "x and bias hold different dtypes");
}

int columnBlock(const TensorView& out, int out_col, const TensorView& inp, int inp_col, int width) {
  const long out_rows = out.shape().rows(), inp_rows = inp.shape().rows();
  if (out.dtype() != inp.dtype() || width < 0 || out_col < 0 || inp_col < 0 ||
      out_col + width > out.shape().cols() || inp_col + width > inp.shape().cols() ||
      (inp_rows == 0 ? out_rows != 0 : out_rows % inp_rows != 0)) {
    fail("copy_columns", "out " + out.shape().str() + " from column " + std::to_string(out_col) +
                             ", inp " + inp.shape().str() + " from column " +
                             std::to_string(inp_col) + ", width " + std::to_string(width));
  }
  // No rows (a generation step with no tokens on this rank): nothing to repeat.
  return inp_rows == 0 ? 1 : static_cast<int>(out_rows / inp_rows);
}

void rowGate(const TensorView& x, const TensorView& gate_logits) {
  const long cols = x.shape().cols();
  if (cols == 0 || gate_logits.numel() * cols != x.numel()) {
    fail("sigmoid_gate",
         "x " + x.shape().str() + ", gate " + gate_logits.shape().str() + ": one gate per row");
  }
  if (gate_logits.dtype() != x.dtype()) fail("sigmoid_gate", "x and gate hold different dtypes");
}

void rotary(const TensorView& x) {
  if (x.shape().rank() != 4 || x.shape().size(3) % 2 != 0) {
    fail("rotary_embedding",
         "needs (batch, seq_len, heads, even head_dim), got " + x.shape().str());
  }
}

void attention(const TensorView& out, const TensorView& q, const TensorView& k, const TensorView& v,
               const kernels::AttentionHeads& heads) {
  const auto &qs = q.shape(), &ks = k.shape();
  const bool ok = qs.rank() == 4 && ks.rank() == 4 && out.shape() == qs && v.shape() == ks &&
                  qs.size(0) == ks.size(0) && qs.size(1) == ks.size(1) &&
                  qs.size(3) == ks.size(3) && qs.size(2) == heads.q_heads &&
                  ks.size(2) == heads.kv_heads;
  if (!ok) fail("attention", "q " + qs.str() + ", k " + ks.str() + ", out " + out.shape().str());
}

void sameDtype(const char* op, const TensorView& a, const TensorView& b) {
  if (a.dtype() != b.dtype()) {
    fail(op, std::string(dtypeName(a.dtype())) + " " + a.shape().str() + " with " +
                 std::string(dtypeName(b.dtype())) + " " + b.shape().str());
  }
}

void sameNumel(const char* op, const TensorView& a, const TensorView& b) {
  if (a.numel() != b.numel()) fail(op, a.shape().str() + " vs " + b.shape().str());
}

void groupedLinear(const TensorView& out, const TensorView& inp,
                   const std::vector<const Tensor*>& weights, const std::vector<int>& rows) {
  long total = 0;
  for (int r : rows) total += r;
  if (weights.size() != rows.size() || total != inp.shape().rows() || total != out.shape().rows()) {
    fail("grouped_linear", "inp " + inp.shape().str() + ", out " + out.shape().str() + ", " +
                               std::to_string(weights.size()) + " weights for " +
                               std::to_string(rows.size()) + " groups of " + std::to_string(total) +
                               " rows");
  }
  for (const Tensor* w : weights) {
    const auto& ws = w->shape();
    if (ws.rank() != 2 || ws.size(1) != inp.shape().cols() || ws.size(0) != out.shape().cols()) {
      fail("grouped_linear",
           "weight " + ws.str() + " for inp " + inp.shape().str() + ", out " + out.shape().str());
    }
  }
}

namespace {

// experts and weights (tokens, top_k), logits (tokens, experts), top_k <= experts.
void routing(const char* op, const TensorView& experts, const TensorView& weights,
             const TensorView& logits) {
  const auto &es = experts.shape(), &ls = logits.shape();
  if (es != weights.shape() || es.rows() != ls.rows() || es.cols() > ls.cols()) {
    fail(op, "logits " + ls.str() + ", experts " + es.str() + ", weights " + weights.shape().str());
  }
}

}  // namespace

void routerTopK(const TensorView& experts, const TensorView& weights, const TensorView& logits,
                const TensorView* choice_bias) {
  routing("router_top_k", experts, weights, logits);
  if (choice_bias && (choice_bias->dtype() != DType::F32 || choice_bias->shape().rank() != 1 ||
                      choice_bias->numel() != logits.shape().cols())) {
    fail("router_top_k", "choice bias " + choice_bias->shape().str() + " " +
                             std::string(dtypeName(choice_bias->dtype())) + " for logits " +
                             logits.shape().str() + " (want (experts) of f32)");
  }
}

void routerWeightsOf(const TensorView& weights, const TensorView& experts,
                     const TensorView& logits) {
  routing("router_weights_of", experts, weights, logits);
  // The CUDA backend stages these through host vectors of exactly these types.
  if (experts.dtype() != DType::I32 || weights.dtype() != DType::F32 ||
      logits.dtype() != DType::F32) {
    fail("router_weights_of", "experts " + std::string(dtypeName(experts.dtype())) + ", weights " +
                                  std::string(dtypeName(weights.dtype())) + ", logits " +
                                  std::string(dtypeName(logits.dtype())) + " (want i32, f32, f32)");
  }
}

void rowIndex(const char* op, const TensorView& rows, const TensorView& table,
              const TensorView& index) {
  if (rows.shape().cols() != table.shape().cols() || rows.shape().rows() != index.numel()) {
    fail(op, "rows " + rows.shape().str() + ", table " + table.shape().str() + ", index " +
                 index.shape().str());
  }
}

namespace {

// Does t hold exactly n i32 values?
bool indexOf(const TensorView& t, std::int64_t n) {
  return t.dtype() == DType::I32 && t.numel() == n;
}

// (tokens, ..., heads, head_dim): the token count, or -1 for rank < 3.
std::int64_t tokensOf(const Shape& s) {
  if (s.rank() < 3 || s.size(s.rank() - 1) * s.size(s.rank() - 2) == 0) return -1;
  return s.numel() / (s.size(s.rank() - 1) * s.size(s.rank() - 2));
}

}  // namespace

void embedding(const TensorView& out, const TensorView& ids, const TensorView& table) {
  if (out.shape().cols() != table.shape().cols() || !indexOf(ids, out.shape().rows()) ||
      out.dtype() != table.dtype()) {
    fail("embed_rows", "out " + out.shape().str() + ", ids " + ids.shape().str() + " " +
                           std::string(dtypeName(ids.dtype())) + ", table " + table.shape().str());
  }
}

void rotaryAt(const TensorView& x, const TensorView& positions) {
  const Shape& s = x.shape();
  const std::int64_t tokens = tokensOf(s);
  if (tokens < 0 || s.cols() % 2 != 0 || !indexOf(positions, tokens)) {
    fail("rotary_embedding_at",
         "needs x (tokens, ..., heads, even head_dim) and i32 positions "
         "(tokens), got x " +
             s.str() + ", positions " + positions.shape().str());
  }
}

void cachedAttention(const TensorView& out, const TensorView& q, const TensorView& k_cache,
                     const TensorView& v_cache, const TensorView& seq, const TensorView& pos,
                     const kernels::AttentionHeads& heads) {
  const Shape &qs = q.shape(), &ks = k_cache.shape();
  const std::int64_t tokens = tokensOf(qs);
  const bool ok = tokens >= 0 && out.shape() == qs && ks.rank() == 4 && v_cache.shape() == ks &&
                  qs.size(qs.rank() - 2) == heads.q_heads && ks.size(2) == heads.kv_heads &&
                  qs.cols() == ks.cols() && indexOf(seq, tokens) && indexOf(pos, tokens) &&
                  q.dtype() == k_cache.dtype() && k_cache.dtype() == v_cache.dtype();
  if (!ok) {
    fail("cached_attention", "q " + qs.str() + ", k_cache " + ks.str() + ", v_cache " +
                                 v_cache.shape().str() + ", out " + out.shape().str() + ", seq " +
                                 seq.shape().str() + ", pos " + pos.shape().str());
  }
}

void argmax(const TensorView& best_value, const TensorView& best_index, const TensorView& x) {
  const std::int64_t rows = x.shape().rows();
  if (best_value.dtype() != DType::F32 || best_value.numel() != rows ||
      !indexOf(best_index, rows) || x.shape().cols() == 0) {
    fail("argmax_rows", "x " + x.shape().str() + ", best_value " + best_value.shape().str() +
                            ", best_index " + best_index.shape().str() + " (want f32 and i32)");
  }
}

}  // namespace shardrt::op_checks
