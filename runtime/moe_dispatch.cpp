#include "runtime/moe_dispatch.h"

#include <algorithm>
#include <stdexcept>

namespace shardrt {

std::vector<char> capacityMask(const std::int32_t* experts, int tokens, int top_k, int seq_len,
                               int num_experts, int capacity) {
  std::vector<char> kept(static_cast<std::size_t>(tokens) * top_k, 1);
  if (capacity < 0) return kept;
  std::vector<int> taken(num_experts);
  for (int t = 0; t < tokens; ++t) {
    if (t % seq_len == 0) std::fill(taken.begin(), taken.end(), 0);  // a new sequence
    for (int k = 0; k < top_k; ++k) {
      const std::size_t slot = static_cast<std::size_t>(t) * top_k + k;
      kept[slot] = taken[experts[slot]]++ < capacity;
    }
  }
  return kept;
}

DispatchPlan planDispatch(const std::int32_t* experts, const float* weights,
                          const std::vector<char>& kept, config::Range share, int top_k,
                          int num_experts, const std::vector<std::vector<int>>& copies, int ep,
                          int ep_rank) {
  DispatchPlan plan;
  plan.send_rows.assign(ep, 0);
  plan.send_expert_counts.assign(static_cast<std::size_t>(ep) * num_experts, 0);
  std::vector<std::size_t> slots;
  std::vector<int> dest;  // per kept slot: the ep rank of the copy it goes to
  std::vector<std::size_t> taken(num_experts, 0);
  for (int t = share.begin; t < share.end; ++t) {
    for (int k = 0; k < top_k; ++k) {
      const std::size_t slot = static_cast<std::size_t>(t) * top_k + k;
      if (!kept[slot]) {
        ++plan.dropped;
        continue;
      }
      const auto& held_by = copies.at(experts[slot]);
      if (held_by.empty()) throw std::logic_error("moe: an expert that no ep rank holds");
      const std::size_t turn = taken[experts[slot]]++ + static_cast<std::size_t>(ep_rank);
      slots.push_back(slot);
      dest.push_back(held_by[turn % held_by.size()]);
    }
  }
  // Sorted by (destination, expert), equal keys in token order: a counting sort over the
  // ep x experts keys, O(slots). The GPU waits for this plan: with a comparison sort here the
  // Mixtral-shaped layer's dispatch took 3.8 ms on an H200, with this one 1.35 ms
  // (docs/benchmarks.md, runs 1 and 2 of 2026-12-04).
  const auto key = [&](std::size_t i) {
    return static_cast<std::size_t>(dest[i]) * num_experts + experts[slots[i]];
  };
  std::vector<std::size_t> next(static_cast<std::size_t>(ep) * num_experts + 1, 0);
  for (std::size_t i = 0; i < slots.size(); ++i) ++next[key(i) + 1];
  for (std::size_t b = 1; b < next.size(); ++b) next[b] += next[b - 1];
  std::vector<std::size_t> order(slots.size());
  for (std::size_t i = 0; i < slots.size(); ++i) order[next[key(i)]++] = i;
  plan.send_token.reserve(order.size());
  plan.send_weight.reserve(order.size());
  for (std::size_t i : order) {
    const std::size_t slot = slots[i];
    plan.send_token.push_back(static_cast<std::int32_t>(slot / top_k));
    plan.send_weight.push_back(weights[slot]);
    ++plan.send_rows[dest[i]];
    ++plan.send_expert_counts[static_cast<std::size_t>(dest[i]) * num_experts + experts[slot]];
  }
  return plan;
}

ReceivePlan planReceive(const std::vector<std::int32_t>& recv_expert_counts,
                        const std::vector<int>& local_experts, int ep, int num_experts) {
  ReceivePlan plan;
  plan.recv_rows.assign(ep, 0);
  // start[p][e]: where expert e's rows from source p begin in the received buffer.
  std::vector<std::size_t> start(static_cast<std::size_t>(ep) * num_experts);
  std::size_t offset = 0;
  for (int p = 0; p < ep; ++p) {
    for (int e = 0; e < num_experts; ++e) {
      const std::size_t i = static_cast<std::size_t>(p) * num_experts + e;
      start[i] = offset;
      offset += recv_expert_counts[i];
      plan.recv_rows[p] += recv_expert_counts[i];
    }
  }
  for (int e : local_experts) {
    int rows = 0;
    for (int p = 0; p < ep; ++p) {
      const std::size_t i = static_cast<std::size_t>(p) * num_experts + e;
      for (int r = 0; r < recv_expert_counts[i]; ++r) {
        plan.expert_major.push_back(static_cast<std::int32_t>(start[i] + r));
      }
      rows += recv_expert_counts[i];
    }
    plan.rows_per_expert.push_back(rows);
  }
  if (plan.expert_major.size() != offset) {
    throw std::logic_error("moe: received rows for experts this rank does not hold");
  }
  plan.source_major.assign(plan.expert_major.size(), 0);
  for (std::size_t i = 0; i < plan.expert_major.size(); ++i) {
    plan.source_major[plan.expert_major[i]] = static_cast<std::int32_t>(i);
  }
  return plan;
}

}  // namespace shardrt
