// ForwardingBackend passes every call to its inner Backend with the same arguments and returns
// what the inner one returned: each call is made once on a recording fake directly and once
// through the forwarder, and the two records must be the same.
#include <gtest/gtest.h>

#include <functional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "runtime/forwarding_backend.h"

namespace shardrt {
namespace {

// A view at a made-up address: the fake never reads memory, it only writes down addresses.
TensorView fakeView(std::uintptr_t address) {
  return TensorView(reinterpret_cast<void*>(address), {Dim("rows", 2), Dim("cols", 3)}, DType::F32,
                    Device::Meta);
}

// Writes each call it receives, with its arguments, as one line.
class RecordingBackend final : public Backend {
 public:
  std::vector<std::string> calls;

  std::string_view name() const override { return "recording"; }
  Device device() const override { return Device::Meta; }
  Tensor empty(Shape shape, DType dtype) override {
    log("empty", shape.str(), dtypeName(dtype));
    return Tensor(
        reinterpret_cast<void*>(0xE000), [](void*) {}, std::move(shape), dtype, Device::Meta);
  }
  void copyFromHost(const TensorView& dst, const void* src) override {
    log("copyFromHost", dst.raw(), src);
  }
  void copyToHost(void* dst, const TensorView& src) override { log("copyToHost", dst, src.raw()); }
  void copy(const TensorView& dst, const TensorView& src) override {
    log("copy", dst.raw(), src.raw());
  }
  void synchronize() override { log("synchronize"); }
  double timeOps(const std::function<void()>& body) override {
    log("timeOps");
    body();
    return 42.5;
  }
  std::optional<std::size_t> freeMemory() const override { return 12345; }
  std::size_t mark() override {
    log("mark");
    return 7;
  }
  double markMicroseconds(std::size_t mark) override {
    log("markMicroseconds", mark);
    return 2.5 * static_cast<double>(mark);
  }
  void clearMarks() override { log("clearMarks"); }

  void linear(const TensorView& out, const TensorView& inp, const TensorView& weight) override {
    log("linear", out.raw(), inp.raw(), weight.raw());
  }
  void rmsNorm(const TensorView& out, const TensorView& inp, const TensorView& weight,
               float eps) override {
    log("rmsNorm", out.raw(), inp.raw(), weight.raw(), eps);
  }
  void layerNorm(const TensorView& out, const TensorView& inp, const TensorView& weight,
                 const TensorView& bias, float eps) override {
    log("layerNorm", out.raw(), inp.raw(), weight.raw(), bias.raw(), eps);
  }
  void rotaryEmbedding(const TensorView& x, const kernels::RopeFrequencies& rope) override {
    log("rotaryEmbedding", x.raw(), static_cast<float>(rope.theta));
  }
  void attention(const TensorView& out, const TensorView& q, const TensorView& k,
                 const TensorView& v, const kernels::AttentionHeads& heads, bool causal) override {
    log("attention", out.raw(), q.raw(), k.raw(), v.raw(), heads.q_heads, heads.kv_heads,
        heads.q_head_begin, heads.kv_head_begin, heads.group_size, causal);
  }
  void gelu(const TensorView& out, const TensorView& inp) override {
    log("gelu", out.raw(), inp.raw());
  }
  void swiglu(const TensorView& out, const TensorView& gate, const TensorView& up) override {
    log("swiglu", out.raw(), gate.raw(), up.raw());
  }
  void addBias(const TensorView& x, const TensorView& bias) override {
    log("addBias", x.raw(), bias.raw());
  }
  void sigmoidGateRows(const TensorView& x, const TensorView& gate_logits) override {
    log("sigmoidGateRows", x.raw(), gate_logits.raw());
  }
  void add(const TensorView& out, const TensorView& a, const TensorView& b) override {
    log("add", out.raw(), a.raw(), b.raw());
  }
  void fillZero(const TensorView& out) override { log("fillZero", out.raw()); }
  void groupedLinear(const TensorView& out, const TensorView& inp,
                     const std::vector<const Tensor*>& weights,
                     const std::vector<int>& rows) override {
    log("groupedLinear", out.raw(), inp.raw(), weights.size(), weights.at(0), rows.size(),
        rows.at(1));
  }
  void routerTopK(const TensorView& experts, const TensorView& weights, const TensorView& logits,
                  const TensorView* choice_bias, const kernels::RouterRule& rule) override {
    log("routerTopK", experts.raw(), weights.raw(), logits.raw(),
        choice_bias ? choice_bias->raw() : nullptr, rule.sigmoid, rule.normalize, rule.scale,
        rule.groups, rule.top_groups, rule.group_top_two);
  }
  void routerWeightsOf(const TensorView& weights, const TensorView& experts,
                       const TensorView& logits, const kernels::RouterRule& rule) override {
    log("routerWeightsOf", weights.raw(), experts.raw(), logits.raw(), rule.sigmoid,
        rule.normalize, rule.scale, rule.groups, rule.top_groups, rule.group_top_two);
  }
  void copyColumns(const TensorView& out, int out_col, const TensorView& inp, int inp_col,
                   int width) override {
    log("copyColumns", out.raw(), out_col, inp.raw(), inp_col, width);
  }
  void gatherRows(const TensorView& out, const TensorView& inp, const TensorView& index) override {
    log("gatherRows", out.raw(), inp.raw(), index.raw());
  }
  void scatterAddRows(const TensorView& out, const TensorView& inp, const TensorView& index,
                      const TensorView& weight) override {
    log("scatterAddRows", out.raw(), inp.raw(), index.raw(), weight.raw());
  }
  void embedRows(const TensorView& out, const TensorView& ids, const TensorView& table,
                 int first_id) override {
    log("embedRows", out.raw(), ids.raw(), table.raw(), first_id);
  }
  void rotaryEmbeddingAt(const TensorView& x, const TensorView& positions,
                         const kernels::RopeFrequencies& rope) override {
    log("rotaryEmbeddingAt", x.raw(), positions.raw(), static_cast<float>(rope.theta));
  }
  void scatterRows(const TensorView& out, const TensorView& inp, const TensorView& index) override {
    log("scatterRows", out.raw(), inp.raw(), index.raw());
  }
  void cachedAttention(const TensorView& out, const TensorView& q, const TensorView& k_cache,
                       const TensorView& v_cache, const TensorView& seq, const TensorView& pos,
                       const kernels::AttentionHeads& heads) override {
    log("cachedAttention", out.raw(), q.raw(), k_cache.raw(), v_cache.raw(), seq.raw(), pos.raw(),
        heads.q_heads, heads.kv_heads, heads.window);
  }
  void argmaxRows(const TensorView& best_value, const TensorView& best_index, const TensorView& x,
                  int first_index) override {
    log("argmaxRows", best_value.raw(), best_index.raw(), x.raw(), first_index);
  }

 private:
  template <typename... Args>
  void log(const char* call, const Args&... args) {
    std::ostringstream line;
    line << call;
    ((line << ' ' << args), ...);
    calls.push_back(line.str());
  }
};

// One call of every Backend method, each with arguments distinct from the others', and what
// it returned, as text.
std::vector<std::function<std::string(Backend&)>> everyCall() {
  static const Tensor weight(
      reinterpret_cast<void*>(0xA0), [](void*) {}, {Dim("n", 1)}, DType::F32, Device::Meta);
  const TensorView a = fakeView(0x10), b = fakeView(0x20), c = fakeView(0x30), d = fakeView(0x40);
  const TensorView e = fakeView(0x50);
  auto none = [](auto&& call) {
    return [call](Backend& be) {
      call(be);
      return std::string();
    };
  };
  return {
      [](Backend& be) { return std::string(be.name()); },
      [](Backend& be) { return std::to_string(static_cast<int>(be.device())); },
      [](Backend& be) {
        const Tensor t = be.empty({Dim("tokens", 4), Dim("hidden", 5)}, DType::BF16);
        return t.shape().str() + " " +
               std::to_string(reinterpret_cast<std::uintptr_t>(t.view().raw()));
      },
      none([=](Backend& be) { be.copyFromHost(a, reinterpret_cast<const void*>(0x60)); }),
      none([=](Backend& be) { be.copyToHost(reinterpret_cast<void*>(0x70), b); }),
      none([=](Backend& be) { be.copy(c, d); }),
      none([](Backend& be) { be.synchronize(); }),
      [](Backend& be) {
        int ran = 0;
        const double s = be.timeOps([&] { ++ran; });
        return std::to_string(s) + " ran " + std::to_string(ran);
      },
      [](Backend& be) { return std::to_string(be.freeMemory().value_or(0)); },
      [](Backend& be) { return std::to_string(be.mark()); },
      [](Backend& be) { return std::to_string(be.markMicroseconds(3)); },
      none([](Backend& be) { be.clearMarks(); }),
      none([=](Backend& be) { be.linear(a, b, c); }),
      none([=](Backend& be) { be.rmsNorm(b, c, d, 1e-5f); }),
      none([=](Backend& be) { be.layerNorm(c, d, e, a, 2e-5f); }),
      none([=](Backend& be) { be.rotaryEmbedding(d, 500000.0f); }),
      none([=](Backend& be) {
        be.attention(e, a, b, c, {4, 2, 1, 3, 2}, false);
      }),
      none([=](Backend& be) { be.gelu(b, a); }),
      none([=](Backend& be) { be.swiglu(c, b, a); }),
      none([=](Backend& be) { be.add(d, c, b); }),
      none([=](Backend& be) { be.addBias(c, e); }),
      none([=](Backend& be) { be.copyColumns(d, 3, b, 5, 7); }),
      none([=](Backend& be) { be.sigmoidGateRows(d, a); }),
      none([=](Backend& be) { be.fillZero(e); }),
      none([=](Backend& be) {
        be.groupedLinear(a, c, {&weight, &weight}, {3, 9});
      }),
      none([=](Backend& be) { be.routerTopK(b, d, e, &a, {true, false, 2.5f, 4, 2, false}); }),
      none([=](Backend& be) { be.routerWeightsOf(e, c, a, {false, true, 0.5f, 3, 1, true}); }),
      none([=](Backend& be) { be.gatherRows(c, e, a); }),
      none([=](Backend& be) { be.scatterAddRows(d, a, b, c); }),
      none([=](Backend& be) { be.embedRows(a, b, c, 17); }),
      none([=](Backend& be) { be.rotaryEmbeddingAt(b, c, 10000.0f); }),
      none([=](Backend& be) { be.scatterRows(c, d, e); }),
      none([=](Backend& be) {
        be.cachedAttention(e, a, b, c, d, e, {4, 2, 1, 3, 2, 0.0f, 9});
      }),
      none([=](Backend& be) { be.argmaxRows(d, e, a, 23); }),
  };
}

TEST(ForwardingBackend, ForwardsEveryCallWithItsArgumentsAndResult) {
  RecordingBackend direct, inner;
  ForwardingBackend forwarding(inner);
  const auto calls = everyCall();
  for (std::size_t i = 0; i < calls.size(); ++i) {
    const std::string want = calls[i](direct);
    const std::string got = calls[i](forwarding);
    SCOPED_TRACE("call " + std::to_string(i) + ": " +
                 (direct.calls.empty() ? want : direct.calls.back()));
    EXPECT_EQ(got, want);
    EXPECT_EQ(inner.calls, direct.calls);  // the same calls reached the inner backend
  }
  EXPECT_EQ(direct.calls.size(), calls.size() - 3);  // name, device, freeMemory log nothing
}

}  // namespace
}  // namespace shardrt
