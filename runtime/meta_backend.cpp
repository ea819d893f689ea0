#include "runtime/meta_backend.h"

#include <cstring>

#include "comm/meta_address.h"
#include "runtime/op_checks.h"

namespace shardrt {
namespace {

void noFree(void*) {}

}  // namespace

MetaBackend::MetaBackend() : next_(comm::kMetaAddressBase) {}

Tensor MetaBackend::empty(Shape shape, DType dtype) {
  const auto bytes = static_cast<std::uintptr_t>(shape.numel()) * dtypeSize(dtype);
  void* address = reinterpret_cast<void*>(next_);
  next_ += (bytes + 255) / 256 * 256 + 256;  // distinct, aligned, never reused
  return Tensor(address, &noFree, std::move(shape), dtype, Device::Meta);
}

void MetaBackend::copyToHost(void* dst, const TensorView& src) {
  auto it = host_values_.find(reinterpret_cast<std::uintptr_t>(src.raw()));
  if (it == host_values_.end()) {
    std::memset(dst, 0, src.bytes());
    return;
  }
  std::memcpy(dst, it->second.data(), std::min(src.bytes(), it->second.size()));
  host_values_.erase(it);
}

void MetaBackend::copy(const TensorView& dst, const TensorView& src) {
  op_checks::sameNumel("copy", dst, src);
}

double MetaBackend::timeOps(const std::function<void()>& body) {
  body();
  return 0.0;
}

void MetaBackend::linear(const TensorView& out, const TensorView& inp, const TensorView& weight) {
  op_checks::linear(out, inp, weight);
}

void MetaBackend::rmsNorm(const TensorView& out, const TensorView& inp, const TensorView& weight,
                          float) {
  op_checks::norm(out, inp, weight);
}

void MetaBackend::layerNorm(const TensorView& out, const TensorView& inp, const TensorView& weight,
                            const TensorView& bias, float) {
  op_checks::norm(out, inp, weight);
  op_checks::sameNumel("layer_norm bias", weight, bias);
}

void MetaBackend::rotaryEmbedding(const TensorView& x, const kernels::RopeFrequencies&) {
  op_checks::rotary(x);
}

void MetaBackend::attention(const TensorView& out, const TensorView& q, const TensorView& k,
                            const TensorView& v, const kernels::AttentionHeads& heads, bool) {
  op_checks::attention(out, q, k, v, heads);
}

void MetaBackend::gelu(const TensorView& out, const TensorView& inp) {
  op_checks::sameNumel("gelu", out, inp);
}

void MetaBackend::swiglu(const TensorView& out, const TensorView& gate, const TensorView& up) {
  op_checks::sameNumel("swiglu", out, gate);
  op_checks::sameNumel("swiglu", out, up);
}

void MetaBackend::copyColumns(const TensorView& out, int out_col, const TensorView& inp,
                              int inp_col, int width) {
  op_checks::columnBlock(out, out_col, inp, inp_col, width);
}

void MetaBackend::addBias(const TensorView& x, const TensorView& bias) { op_checks::bias(x, bias); }

void MetaBackend::sigmoidGateRows(const TensorView& x, const TensorView& gate_logits) {
  op_checks::rowGate(x, gate_logits);
}

void MetaBackend::add(const TensorView& out, const TensorView& a, const TensorView& b) {
  op_checks::sameNumel("add", out, a);
  op_checks::sameNumel("add", out, b);
}

void MetaBackend::groupedLinear(const TensorView& out, const TensorView& inp,
                                const std::vector<const Tensor*>& weights,
                                const std::vector<int>& rows) {
  op_checks::groupedLinear(out, inp, weights, rows);
}

void MetaBackend::routerTopK(const TensorView& experts, const TensorView& weights,
                             const TensorView& logits, const TensorView* choice_bias,
                             const kernels::RouterRule&) {
  op_checks::routerTopK(experts, weights, logits, choice_bias);
  const auto tokens = experts.shape().rows();
  const auto k = experts.shape().cols();
  const auto e = logits.shape().cols();
  std::vector<char> ids(experts.bytes()), w(weights.bytes());
  auto* id = reinterpret_cast<std::int32_t*>(ids.data());
  auto* wt = reinterpret_cast<float*>(w.data());
  for (std::int64_t t = 0; t < tokens; ++t) {
    for (std::int64_t j = 0; j < k; ++j) {
      id[t * k + j] = static_cast<std::int32_t>((t * k + j) % e);
      wt[t * k + j] = 1.0f / static_cast<float>(k);
    }
  }
  host_values_[reinterpret_cast<std::uintptr_t>(experts.raw())] = std::move(ids);
  host_values_[reinterpret_cast<std::uintptr_t>(weights.raw())] = std::move(w);
}

void MetaBackend::routerWeightsOf(const TensorView& weights, const TensorView& experts,
                                  const TensorView& logits, const kernels::RouterRule&) {
  op_checks::routerWeightsOf(weights, experts, logits);
}

void MetaBackend::gatherRows(const TensorView& out, const TensorView& inp,
                             const TensorView& index) {
  op_checks::rowIndex("gather_rows", out, inp, index);
}

void MetaBackend::scatterAddRows(const TensorView& out, const TensorView& inp,
                                 const TensorView& index, const TensorView& weight) {
  op_checks::rowIndex("scatter_add_rows", inp, out, index);
  op_checks::sameNumel("scatter_add_rows weight", index, weight);
}

void MetaBackend::embedRows(const TensorView& out, const TensorView& ids, const TensorView& table,
                            int) {
  op_checks::embedding(out, ids, table);
}

void MetaBackend::rotaryEmbeddingAt(const TensorView& x, const TensorView& positions,
                                    const kernels::RopeFrequencies&) {
  op_checks::rotaryAt(x, positions);
}

void MetaBackend::scatterRows(const TensorView& out, const TensorView& inp,
                              const TensorView& index) {
  op_checks::rowIndex("scatter_rows", inp, out, index);
}

void MetaBackend::cachedAttention(const TensorView& out, const TensorView& q,
                                  const TensorView& k_cache, const TensorView& v_cache,
                                  const TensorView& seq, const TensorView& pos,
                                  const kernels::AttentionHeads& heads) {
  op_checks::cachedAttention(out, q, k_cache, v_cache, seq, pos, heads);
}

void MetaBackend::argmaxRows(const TensorView& best_value, const TensorView& best_index,
                             const TensorView& x, int) {
  op_checks::argmax(best_value, best_index, x);
}

}  // namespace shardrt
