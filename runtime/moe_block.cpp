#include "runtime/moe_block.h"

#include <algorithm>
#include <stdexcept>

#include "runtime/model_router.h"
#include "runtime/moe_dispatch.h"

namespace shardrt {
namespace {

config::Range tpShare(long tokens, int tp, int rank) {
  // The first tokens % tp ranks take one token more.
  const long base = tokens / tp, extra = tokens % tp;
  const long begin = rank * base + std::min<long>(rank, extra);
  return {static_cast<int>(begin), static_cast<int>(begin + base + (rank < extra ? 1 : 0))};
}

std::vector<std::size_t> scaled(const std::vector<std::size_t>& rows, std::size_t cols) {
  std::vector<std::size_t> out(rows.size());
  for (std::size_t i = 0; i < rows.size(); ++i) out[i] = rows[i] * cols;
  return out;
}

}  // namespace

MoeBlock::MoeBlock(const config::ModelConfig& model, const config::Plan& plan, int seq_len,
                   Backend& backend, comm::Communicator& tp, comm::Communicator& ep, OpTimer& timer)
    : model_(model), seq_len_(seq_len), backend_(backend), tp_(tp), ep_(ep), run_(timer) {
  for (int e = 0; e < model.moe.experts; ++e) copies_.push_back(plan.expertCopies(e));
  local_experts_ = plan.expert_placement.at(ep.rank());
}

template <typename T>
Tensor MoeBlock::upload(const std::vector<T>& host, const char* name) {
  Tensor t = backend_.empty({Dim(name, static_cast<std::int64_t>(host.size()))}, dtypeOf<T>());
  if (!host.empty()) backend_.copyFromHost(t, host.data());
  // Host code made these indices from the router's choice: the trace shows that step.
  if (Tracer* tracer = run_.tracer(); tracer && tracer->recording() && routing_) {
    tracer->recordHostOp("routing_indices",
                         {tracer->ref(routing_->first), tracer->ref(routing_->second)},
                         {tracer->ref(t)});
  }
  return t;
}

void MoeBlock::runExperts(const TensorView& in, const TensorView& out,
                          const LayerWeights& layer_weights,
                          const std::vector<int>& rows_per_expert) {
  const bool swiglu = model_.activation == config::Activation::SwiGlu;
  const int f = model_.moe.expert_ffn_hidden;
  const long rows = in.shape().rows();
  // With no rows the ops below run nothing, but they are still issued: every expert appears in
  // the trace, as in the dry run, whatever the routing did.
  auto weights = [&](ExpertWeight which) {
    std::vector<const Tensor*> list;
    for (const ExpertWeights& ew : layer_weights.experts) list.push_back(&ew[which]);
    return list;
  };
  // All local experts at once: one grouped GEMM per projection, the activation on all rows.
  const double gemm = 2.0 * static_cast<double>(rows) * f * model_.hidden;
  run_("expert_ffn", (swiglu ? 3 : 2) * gemm, [&] {
    Tensor a = backend_.empty({Dim("tokens", rows), Dim("ffn_hidden", f)}, in.dtype());
    Tracer* tracer = run_.tracer();
    if (swiglu) {
      Tensor b = backend_.empty(a.shape(), in.dtype());
      {
        TraceLabel label(tracer, "fc1_gate");
        backend_.groupedLinear(a, in, weights(ExpertWeight::GateProj), rows_per_expert);
      }
      {
        TraceLabel label(tracer, "fc1_up");
        backend_.groupedLinear(b, in, weights(ExpertWeight::UpProj), rows_per_expert);
      }
      TraceLabel label(tracer, "act");
      backend_.swiglu(a, a, b);
    } else {
      {
        TraceLabel label(tracer, "fc1");
        backend_.groupedLinear(a, in, weights(ExpertWeight::UpProj), rows_per_expert);
      }
      TraceLabel label(tracer, "act");
      backend_.gelu(a, a);
    }
    TraceLabel label(tracer, "fc2");
    backend_.groupedLinear(out, a, weights(ExpertWeight::DownProj), rows_per_expert);
  });
}

void MoeBlock::followRouting(const RoutingLog& forced, long first_token, const Tensor& logits,
                             std::vector<std::int32_t>& idx, std::vector<float>& wts) {
  const auto& moe = model_.moe;
  const int k = moe.top_k, tokens = static_cast<int>(idx.size()) / k;
  if (forced.experts.size() < static_cast<std::size_t>((first_token + tokens) * k)) {
    throw std::logic_error("moe: forced routing covers fewer tokens than the batch");
  }
  const std::int32_t* chosen = forced.experts.data() + first_token * k;
  if (std::any_of(chosen, chosen + static_cast<long>(tokens) * k,
                  [&](std::int32_t e) { return e < 0 || e >= moe.experts; })) {
    throw std::logic_error("moe: forced routing names no expert for a token");
  }
  std::copy_n(chosen, idx.size(), idx.begin());
  Tensor experts = backend_.empty({Dim("tokens", tokens), Dim("top_k", k)}, DType::I32);
  Tensor weights = backend_.empty(experts.shape(), DType::F32);
  backend_.copyFromHost(experts, idx.data());
  backend_.routerWeightsOf(weights, experts, logits, routerRuleOf(moe));
  backend_.copyToHost(wts.data(), weights);
}

void MoeBlock::forward(const TensorView& normed, const TensorView& out,
                       const LayerWeights& layer_weights, long first_token, MoeCounters& counters,
                       RoutingLog* log, const RoutingLog* forced) {
  const auto& moe = model_.moe;
  const int tokens = static_cast<int>(normed.shape().rows());
  const int hidden = model_.hidden, k = moe.top_k, experts = moe.experts, ep = ep_.size();
  const DType dt = normed.dtype();  // the rows moved keep the activations' dtype

  // Router: logits, scores, top-k on every token of the microbatch.
  Tensor idx = backend_.empty({Dim("tokens", tokens), Dim("top_k", k)}, DType::I32);
  Tensor wts = backend_.empty(idx.shape(), DType::F32);
  Tensor logits = backend_.empty({Dim("tokens", tokens), Dim("experts", experts)}, DType::F32);
  run_("router", 2.0 * tokens * hidden * experts, [&] {
    backend_.linear(logits, normed, layer_weights[LayerWeight::Router]);
    TensorView bias;
    if (moe.choice_bias) bias = layer_weights[LayerWeight::RouterChoiceBias].view();
    backend_.routerTopK(idx, wts, logits, moe.choice_bias ? &bias : nullptr, routerRuleOf(moe));
  });
  std::vector<std::int32_t> idx_h(static_cast<std::size_t>(idx.numel()));
  std::vector<float> wts_h(idx_h.size());
  backend_.copyToHost(idx_h.data(), idx);
  backend_.copyToHost(wts_h.data(), wts);
  if (log) {
    for (int t = 0; t < tokens; ++t) {
      std::int32_t* dst = log->experts.data() + (first_token + t) * k;
      std::copy_n(idx_h.data() + static_cast<long>(t) * k, k, dst);
      std::sort(dst, dst + k);
    }
  }
  if (forced) followRouting(*forced, first_token, logits, idx_h, wts_h);
  routing_.emplace(idx.view(), wts.view());

  // Dispatch: counts first, then the rows of this tp rank's share of the tokens.
  const config::Range share = tpShare(tokens, tp_.size(), tp_.rank());
  DispatchPlan send;
  ReceivePlan recv;
  Tensor recv_rows;
  run_("dispatch", 0, [&] {
    const std::vector<char> kept = capacityMask(idx_h.data(), tokens, k, seq_len_, experts,
                                                moe.dropless() ? -1 : moe.capacity(seq_len_));
    send =
        planDispatch(idx_h.data(), wts_h.data(), kept, share, k, experts, copies_, ep, ep_.rank());
    std::vector<std::int32_t> recv_counts(send.send_expert_counts.size());
    const std::vector<std::size_t> per_peer(ep, static_cast<std::size_t>(experts));
    // Host-side bookkeeping, off the data path: not drawn in the deployment graph.
    if (run_.tracer()) run_.tracer()->quiet(true);
    ep_.allToAllV(send.send_expert_counts.data(), per_peer, recv_counts.data(), per_peer,
                  DType::I32);
    if (run_.tracer()) run_.tracer()->quiet(false);
    recv = planReceive(recv_counts, local_experts_, ep, experts);

    const Tensor send_idx = upload(send.send_token, "rows");
    Tensor send_rows = backend_.empty({Dim("tokens", send_idx.numel()), Dim("hidden", hidden)}, dt);
    backend_.gatherRows(send_rows, normed, send_idx);
    long received = 0;
    for (std::size_t r : recv.recv_rows) received += static_cast<long>(r);
    recv_rows = backend_.empty({Dim("tokens", received), Dim("hidden", hidden)}, dt);
    ep_.allToAllV(send_rows.view().raw(), scaled(send.send_rows, hidden), recv_rows.view().raw(),
                  scaled(recv.recv_rows, hidden), dt);
  });

  // The local experts, on their rows grouped by expert.
  const long received = recv_rows.shape().size(0);
  Tensor expert_in = backend_.empty(recv_rows.shape(), dt);
  Tensor expert_out = backend_.empty(recv_rows.shape(), dt);
  if (!local_experts_.empty()) {  // a rank that holds no expert receives nothing to run
    run_(
        "dispatch", 0,
        [&] { backend_.gatherRows(expert_in, recv_rows, upload(recv.expert_major, "rows")); },
        "group_by_expert");
    if (run_.tracer()) run_.tracer()->setExpertRows(local_experts_, recv.rows_per_expert);
    runExperts(expert_in, expert_out, layer_weights, recv.rows_per_expert);
    if (run_.tracer()) run_.tracer()->clearExpertRows();
  }

  // Combine: rows back to their senders, weighted into token order, shares gathered over tp.
  run_("combine", 0, [&] {
    Tensor back = backend_.empty(recv_rows.shape(), dt);
    backend_.gatherRows(back, expert_out, upload(recv.source_major, "rows"));
    Tensor returned = backend_.empty(
        {Dim("tokens", static_cast<std::int64_t>(send.send_token.size())), Dim("hidden", hidden)},
        dt);
    ep_.allToAllV(back.view().raw(), scaled(recv.recv_rows, hidden), returned.view().raw(),
                  scaled(send.send_rows, hidden), dt);
    Tensor share_out = backend_.empty({Dim("tokens", share.size()), Dim("hidden", hidden)}, dt);
    backend_.fillZero(share_out);
    std::vector<std::int32_t> local_token(send.send_token);
    for (auto& t : local_token) t -= share.begin;
    backend_.scatterAddRows(share_out, returned, upload(local_token, "rows"),
                            upload(send.send_weight, "rows"));
    std::vector<std::size_t> counts(tp_.size());
    for (int r = 0; r < tp_.size(); ++r) {
      counts[r] = static_cast<std::size_t>(tpShare(tokens, tp_.size(), r).size()) * hidden;
    }
    if (run_.tracer()) run_.tracer()->nameView(out);  // a generation step's tokens of its round
    tp_.allGatherV(share_out.view().raw(), out.raw(), counts, dt);
  });

  routing_.reset();
  counters.dropped += send.dropped;
  counters.received += received;
  for (std::size_t i = 0; i < local_experts_.size(); ++i) {
    counters.expert_tokens[local_experts_[i]] += recv.rows_per_expert[i];
  }
}

}  // namespace shardrt
