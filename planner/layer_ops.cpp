#include "planner/layer_ops.h"

#include <cmath>

#include "config/plan.h"

namespace shardrt::planner {
namespace {

constexpr double kF32 = 4.0, kI32 = 4.0;  // router logits and weights, row indices

// A layer's ops in the order they run; each sized as the tracer sizes it: the bytes of every
// tensor view the op reads or writes (an in-place op reads and writes its view), weights
// included.
class OpList {
 public:
  OpList(int layer, double act_bytes) : layer_(layer), w_(act_bytes) {}

  // out[m x n] = inp[m x k] W[n x k]^T, `out_bytes` per output element (the router's logits
  // are fp32 whatever the activations).
  void gemm(const std::string& name, double m, double n, double k, double count = 1.0,
            double out_bytes = 0.0) {
    PricedOp op = base(name, "linear", OpClass::Gemm, count);
    op.m = m;
    op.n = n;
    op.k = k;
    op.flops = 2.0 * m * n * k;
    op.bytes = (m * k + n * k) * w_ + m * n * (out_bytes > 0.0 ? out_bytes : w_);
    ops_.push_back(std::move(op));
  }
  // A pass over memory of `bytes` (read plus written).
  void memory(const std::string& name, const char* call, double bytes, const char* rate,
              double count = 1.0) {
    PricedOp op = base(name, call, OpClass::Memory, count);
    op.bytes = bytes;
    op.rate = rate;
    ops_.push_back(std::move(op));
  }
  // A norm of `rows` rows of `width`: in, weight (and a layernorm's bias), out.
  void norm(const std::string& name, config::NormKind kind, double rows, double width) {
    const bool rms = kind == config::NormKind::RmsNorm;
    const char* call = rms ? "rmsnorm" : "layernorm";
    memory(name, call, (2.0 * rows * width + (rms ? 1.0 : 2.0) * width) * w_, call);
  }
  void attention(OpClass cls, const char* call, double flops, double bytes) {
    PricedOp op = base("attention", call, cls, 1.0);
    op.flops = flops;
    op.bytes = bytes;
    ops_.push_back(std::move(op));
  }
  // A collective of a group of `ranks`, left out for one rank where the runtime skips it
  // (`one_rank`: it runs it even then, as a copy the alpha-beta model prices at 0).
  void collective(const std::string& name, const char* call, Collective kind, const char* group,
                  int ranks, double size, double sent, bool one_rank = false) {
    if (ranks <= 1 && !one_rank) return;
    PricedOp op = base(name, call, OpClass::Collective, 1.0);
    op.collective = kind;
    op.group = group;
    op.ranks = ranks;
    op.size = size;
    op.bytes = sent;
    ops_.push_back(std::move(op));
  }
  double w() const { return w_; }
  std::vector<PricedOp> take() { return std::move(ops_); }

 private:
  PricedOp base(const std::string& name, const char* call, OpClass cls, double count) const {
    PricedOp op;
    op.layer = layer_;
    op.name = name;
    op.op = call;
    op.cls = cls;
    op.count = count;
    return op;
  }
  int layer_;
  double w_;
  std::vector<PricedOp> ops_;
};

// A tensor-parallel MLP of `columns` local columns (runtime/transformer.cpp, mlp).
void mlpOps(OpList& ops, const config::ModelConfig& m, const std::string& prefix, double T,
            double columns) {
  const double H = m.hidden, w = ops.w();
  if (m.activation == config::Activation::SwiGlu) {
    ops.gemm(prefix + "gate_proj", T, columns, H);
    ops.gemm(prefix + "up_proj", T, columns, H);
    ops.memory(prefix + "swiglu", "swiglu", 3.0 * T * columns * w, "swiglu");
  } else {
    ops.gemm(prefix + "up_proj", T, columns, H);
    ops.memory(prefix + "gelu", "gelu", 2.0 * T * columns * w, "gelu");
  }
  ops.gemm(prefix + "down_proj", T, H, columns);
}

// Latent attention's projections (runtime/latent_attention.cpp, project): q (or its latent),
// the kv latent and its rotary key, the heads' up-projection, k and the zero-padded v
// assembled by column copies.
void latentProjectionOps(OpList& ops, const config::ModelConfig& m, double T, double hq) {
  const auto& a = m.mla;
  const double H = m.hidden, hd = m.head_dim, w = ops.w();
  const double kv = a.kv_rank, rope = a.rope_dim, up = a.nope_dim + a.v_dim;
  if (a.q_rank > 0) {
    ops.gemm("q_a_proj", T, a.q_rank, H);
    ops.norm("q_a_layernorm", config::NormKind::RmsNorm, T, a.q_rank);
    ops.gemm("q_b_proj", T, hq * hd, a.q_rank);
  } else {
    ops.gemm("q_proj", T, hq * hd, H);
  }
  ops.memory("rope", "rope", 2.0 * T * hq * hd * w, "rope");
  ops.gemm("kv_a_proj_with_mqa", T, kv + rope, H);
  ops.memory("kv_latent", "copy_columns", T * (2.0 * kv + rope) * w, nullptr);
  ops.memory("k_rope", "copy_columns", T * (kv + 2.0 * rope) * w, nullptr);
  ops.norm("kv_a_layernorm", config::NormKind::RmsNorm, T, kv);
  ops.memory("rope", "rope", 2.0 * T * rope * w, "rope");
  ops.gemm("kv_b_proj", T, hq * up, kv);
  ops.memory("k_nope", "copy_columns", T * hq * (up + hd) * w, nullptr);
  ops.memory("k_rope_heads", "copy_columns", T * (rope + hq * hd) * w, nullptr);
  ops.memory("k_assemble", "add", 3.0 * T * hq * hd * w, "add");
  ops.memory("v_padded", "copy_columns", T * hq * (up + hd) * w, nullptr);
}

// The routed experts (runtime/moe_block.cpp): router and top-k, the dispatch (rows gathered
// by destination, the all-to-all), the rows grouped by expert, each active expert's FFN, the
// rows returned (gathered back, the all-to-all), the weighted combine and the all-gather of
// the tp shares.
void routedExpertOps(OpList& ops, const config::ModelConfig& m,
                     const config::StrategyConfig& strategy, const LayerPass& pass) {
  const auto& moe = m.moe;
  const double T = pass.tokens, H = m.hidden, w = ops.w();
  const double E = moe.experts, k = moe.top_k, Fe = moe.expert_ffn_hidden;
  const double share = T / strategy.tp, S = pass.sent_slots, R = pass.received_rows;
  ops.gemm("router", T, E, H, 1.0, kF32);
  ops.memory("router", "topk",
             T * E * kF32 + (moe.choice_bias ? E * kF32 : 0.0) + 2.0 * T * k * kI32, nullptr);
  ops.memory("dispatch", "permute", T * H * w + S * kI32 + S * H * w, nullptr);
  // Each all-to-all priced at the larger of what the rank sends and receives; the tracer
  // counts the rows that leave the rank.
  const double exchanged = std::max(S, R) * H * w;
  ops.collective("dispatch", "all_to_all", Collective::AllToAll, "ep", strategy.ep, exchanged,
                 S * (1.0 - pass.self_share) * H * w);
  if (pass.local_experts > 0) {
    ops.memory("group_by_expert", "permute", R * (2.0 * H * w + kI32), nullptr);
    const double active = pass.active_experts;
    if (active > 0.0) {
      const double rows = R / active;  // per active expert
      if (m.activation == config::Activation::SwiGlu) {
        ops.gemm("fc1_gate", rows, Fe, H, active);
        ops.gemm("fc1_up", rows, Fe, H, active);
        ops.memory("act", "swiglu", 3.0 * rows * Fe * w, "swiglu", active);
      } else {
        ops.gemm("fc1", rows, Fe, H, active);
        ops.memory("act", "gelu", 2.0 * rows * Fe * w, "gelu", active);
      }
      ops.gemm("fc2", rows, H, Fe, active);
    }
  }
  ops.memory("combine", "permute", R * (2.0 * H * w + kI32), nullptr);
  ops.collective("combine", "all_to_all", Collective::AllToAll, "ep", strategy.ep, exchanged,
                 (R - S * pass.self_share) * H * w);
  ops.memory("combine", "weighted_combine", S * (H * w + 2.0 * kI32) + share * H * w, nullptr);
  ops.collective("combine", "all_gather", Collective::AllGather, "tp", strategy.tp, T * H * w,
                 share * H * w, true);
}

}  // namespace

double activeExperts(int local, double rows) {
  if (local <= 0 || rows <= 0.0) return 0.0;
  return local * (1.0 - std::pow(1.0 - 1.0 / local, rows));
}

std::vector<PricedOp> layerOps(const config::ModelConfig& m, const config::StrategyConfig& strategy,
                               DType dtype, const LayerPass& pass, bool moe, int layer) {
  OpList ops(layer, static_cast<double>(dtypeSize(dtype)));
  const double w = ops.w(), T = pass.tokens, H = m.hidden, hd = m.head_dim;
  const double hq = static_cast<double>(m.heads) / strategy.tp;
  const double hkv = config::kvHeadsFor({0, m.heads / strategy.tp}, m.groupSize()).size();
  const int tp = strategy.tp;

  // Attention block: norm, q/k/v, rope, attention, o_proj, all-reduce, residual add.
  ops.norm("attn_norm", m.norm, T, H);
  if (m.mla.on()) {
    latentProjectionOps(ops, m, T, hq);
  } else {
    ops.gemm("q_proj", T, hq * hd, H);
    ops.gemm("k_proj", T, hkv * hd, H);
    ops.gemm("v_proj", T, hkv * hd, H);
    if (m.qkv_bias) {  // Qwen2: in place, the bias a weight
      ops.memory("q_bias", "add_bias", (2.0 * T + 1.0) * hq * hd * w, nullptr);
      ops.memory("k_bias", "add_bias", (2.0 * T + 1.0) * hkv * hd * w, nullptr);
      ops.memory("v_bias", "add_bias", (2.0 * T + 1.0) * hkv * hd * w, nullptr);
    }
    if (m.qk_norm) {  // Qwen3: each head's vector normed
      ops.norm("q_norm", config::NormKind::RmsNorm, T * hq, hd);
      ops.norm("k_norm", config::NormKind::RmsNorm, T * hkv, hd);
    }
    if (m.rope) {
      ops.memory("rope", "rope", 2.0 * T * hq * hd * w, "rope");
      ops.memory("rope", "rope", 2.0 * T * hkv * hd * w, "rope");
    }
  }
  if (!pass.cached) {
    ops.attention(OpClass::Attention, "attention", pass.attention_flops, pass.attention_bytes);
  } else {
    // Generation: the step's keys and values scattered into the cache, then attention over it.
    ops.memory("k_cache_write", "kv_cache_write", 2.0 * T * hkv * hd * w, nullptr);
    ops.memory("v_cache_write", "kv_cache_write", 2.0 * T * hkv * hd * w, nullptr);
    ops.attention(OpClass::CachedAttention, "cached_attention", pass.attention_flops,
                  pass.attention_bytes);
  }
  if (m.mla.on()) {
    ops.memory("attn_values", "copy_columns", T * hq * (hd + m.mla.v_dim) * w, nullptr);
  }
  ops.gemm("o_proj", T, H, hq * (m.mla.on() ? m.mla.v_dim : hd));
  ops.collective("all_reduce", "all_reduce", Collective::AllReduce, "tp", tp, T * H * w, T * H * w);
  ops.memory("residual_add", "add", 3.0 * T * H * w, "add");

  // FFN block: norm, a dense MLP or the routed experts (and shared ones), residual add.
  ops.norm("ffn_norm", m.norm, T, H);
  if (!moe) {
    mlpOps(ops, m, "", T, static_cast<double>(m.ffn_hidden) / tp);
    ops.collective("all_reduce", "all_reduce", Collective::AllReduce, "tp", tp, T * H * w,
                   T * H * w);
  } else {
    routedExpertOps(ops, m, strategy, pass);
    if (m.moe.shared_experts > 0) {
      mlpOps(ops, m, "shared_", T, static_cast<double>(m.moe.sharedWidth()) / tp);
      if (m.moe.shared_gate) {  // Qwen2-MoE: sigmoid(x Wg^T) scales each token's output
        ops.gemm("shared_expert_gate", T, 1.0, H);
        ops.memory("shared_expert_gated", "sigmoid_gate", (2.0 * H + 1.0) * T * w, nullptr);
      }
      ops.collective("all_reduce", "all_reduce", Collective::AllReduce, "tp", tp, T * H * w,
                     T * H * w);
      ops.memory("shared_expert_add", "add", 3.0 * T * H * w, "add");
    }
  }
  ops.memory("residual_add", "add", 3.0 * T * H * w, "add");
  return ops.take();
}

PricedOp finalNormOp(const config::ModelConfig& model, DType dtype, double tokens) {
  OpList ops(-1, static_cast<double>(dtypeSize(dtype)));
  ops.norm("final_norm", model.norm, tokens, model.hidden);
  return ops.take().front();
}

PricedOp stageSendOp(const config::ModelConfig& model, DType dtype, double tokens) {
  OpList ops(-1, static_cast<double>(dtypeSize(dtype)));
  const double bytes = tokens * model.hidden * ops.w();
  ops.collective("send", "send", Collective::SendRecv, "pp", 2, bytes, bytes);
  return ops.take().front();
}

}  // namespace shardrt::planner
