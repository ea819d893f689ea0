#include "config/size_limits.h"

#include <initializer_list>
#include <string>

#include "common/errors.h"

namespace shardrt::config {
namespace {

std::string powerOfTwo(std::int64_t bound) {
  int e = 0;
  while ((std::int64_t{1} << e) < bound) ++e;
  return (std::int64_t{1} << e) == bound ? "2^" + std::to_string(e)
                                         : "2^" + std::to_string(e) + "-1";
}

// The product of the factors, or -1 when it overflows 64 bits (every factor is a positive
// size from the file, so a true product is never negative).
std::int64_t product(std::initializer_list<std::int64_t> factors) {
  std::int64_t p = 1;
  for (std::int64_t f : factors) {
    if (__builtin_mul_overflow(p, f, &p)) return -1;
  }
  return p;
}

// `what` names the fields multiplied ("model.hidden * model.ffn_hidden") and `noun` what the
// product counts ("the FFN weight has").
void atMost(const std::string& what, const std::string& noun,
            std::initializer_list<std::int64_t> factors, std::int64_t bound,
            const char* unit = "elements") {
  const std::int64_t p = product(factors);
  if (p >= 0 && p <= bound) return;
  const std::string got = p < 0 ? "more than 2^63" : std::to_string(p);
  throw ConfigError(what, noun + " " + got + (*unit ? " " : "") + unit + ", above the limit of " +
                              powerOfTwo(bound));
}

void dimension(const char* field, std::int64_t size) {
  atMost(field, "is", {size}, kMaxDimension, "");
}

}  // namespace

void checkSizes(const Deployment& deployment) {
  const ModelConfig& m = deployment.model;
  const std::int64_t hidden = m.hidden, ffn = m.ffn_hidden, hd = m.head_dim;
  // Each dimension on its own first: the products below then cannot overflow 64 bits unless
  // three or more are multiplied, which product() checks anyway.
  dimension("model.layers", m.layers);
  dimension("model.hidden", hidden);
  dimension("model.heads", m.heads);
  dimension("model.kv_heads", m.kv_heads);
  dimension("model.head_dim", hd);
  dimension("model.ffn_hidden", ffn);
  dimension("workload.batch_size", deployment.workload.batch_size);
  dimension("workload.seq_len", deployment.workload.seq_len);
  // Row widths: the attention projections' outputs are one row of heads * head_dim.
  atMost("model.heads * model.head_dim", "the attention width is", {m.heads, hd}, kMaxDimension);
  atMost("model.kv_heads * model.head_dim", "the key/value width is", {m.kv_heads, hd},
         kMaxDimension);

  // One weight matrix each; layers * all of them below.
  const std::int64_t q_width = std::int64_t{m.heads} * hd, kv_width = std::int64_t{m.kv_heads} * hd;
  atMost("model.hidden * model.ffn_hidden", "the FFN weight has", {hidden, ffn},
         kMaxTensorElements);
  atMost("model.hidden * model.heads * model.head_dim", "the query projection has",
         {hidden, q_width}, kMaxTensorElements);

  const std::int64_t tokens =
      std::int64_t{deployment.workload.batch_size} * deployment.workload.seq_len;
  atMost("workload.batch_size * workload.seq_len", "the batch has", {tokens}, kMaxTokens, "tokens");
  atMost("workload.batch_size * seq_len * model.hidden", "the residual stream has",
         {tokens, hidden}, kMaxActivationElements);
  atMost("workload.batch_size * seq_len * model.ffn_hidden", "the FFN activation has",
         {tokens, ffn}, kMaxActivationElements);
  atMost("workload.batch_size * seq_len * model.heads * head_dim", "the query activation has",
         {tokens, q_width}, kMaxActivationElements);

  // Weights of one layer, counted as the dense one (q, k, v, o, up, gate, down) plus, for MoE,
  // the routed and shared experts and the router: an upper bound (an MoE layer has no dense
  // FFN), which is all a cap on the total needs.
  std::int64_t layer_weights =
      product({hidden, 2 * q_width + 2 * kv_width}) + product({3, hidden, ffn});
  if (m.hasMoe()) {
    const MoeConfig& moe = m.moe;
    dimension("model.moe.experts", moe.experts);
    dimension("model.moe.expert_ffn_hidden", moe.expert_ffn_hidden);
    dimension("model.moe.shared_experts", moe.shared_experts);
    atMost("model.moe.shared_experts * expert_ffn_hidden", "the shared experts' width is",
           {moe.shared_experts, moe.expert_ffn_hidden}, kMaxDimension);
    dimension("model.moe.shared_ffn_hidden", moe.shared_ffn_hidden);
    atMost("model.moe.experts * expert_ffn_hidden * model.hidden",
           "one MoE layer's routed experts have", {moe.experts, moe.expert_ffn_hidden, hidden},
           kMaxTensorElements);
    atMost("workload.batch_size * seq_len * model.moe.experts", "the router's logits have",
           {tokens, moe.experts}, kMaxActivationElements);
    atMost("workload.batch_size * seq_len * model.moe.top_k * model.hidden",
           "the dispatched tokens have", {tokens, moe.top_k, hidden}, kMaxActivationElements);
    atMost("workload.batch_size * seq_len * model.moe.top_k * expert_ffn_hidden",
           "the experts' FFN activation has", {tokens, moe.top_k, moe.expert_ffn_hidden},
           kMaxActivationElements);
    atMost("model.moe.shared_experts * expert_ffn_hidden * model.hidden",
           "the shared experts' weight has", {moe.shared_experts, moe.expert_ffn_hidden, hidden},
           kMaxTensorElements);
    atMost("model.moe.shared_ffn_hidden * model.hidden", "the shared expert's weight has",
           {moe.shared_ffn_hidden, hidden}, kMaxTensorElements);
    // The bounds above keep every term below 2^52: the sum cannot overflow.
    layer_weights += product({3, hidden, std::int64_t{moe.experts} * moe.expert_ffn_hidden}) +
                     product({3, hidden, moe.sharedWidth()}) + product({hidden, moe.experts + 1});
  }
  atMost("model.layers * (weights of one layer)", "the model's weights have",
         {m.layers, layer_weights}, kMaxModelElements);

  const StrategyConfig& s = deployment.strategy;
  for (const auto& [field, degree] : {std::pair<const char*, int>{"strategy.tp", s.tp},
                                      {"strategy.pp", s.pp},
                                      {"strategy.ep", s.ep},
                                      {"strategy.dp", s.dp},
                                      {"strategy.microbatches", s.microbatches}}) {
    atMost(field, "is", {degree}, kMaxRanks, "");
  }
  atMost("strategy.tp * pp * dp", "asks for", {s.tp, s.pp, s.dp}, kMaxRanks, "ranks");
}

}  // namespace shardrt::config
