// Host-side bookkeeping of an MoE layer's token exchange: which token slots survive the
// capacity limit, what each rank sends to which expert owner (counts first, then rows), and
// how received rows are regrouped by expert and sent back. Pure functions of the routing, so
// that they are tested without MPI and every backend shares them.
//
// A slot is (token, k): the token's k-th choice of expert. Slots are sent sorted by
// (destination ep rank, expert, token), so a receiver knows from the per-expert counts alone
// where each expert's rows start in each source's block.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "planner/plan.h"

namespace shardrt {

// Whether each slot (tokens x top_k) is kept. Tokens are whole sequences of seq_len back to
// back; within each sequence an expert takes at most `capacity` slots, earlier positions
// first (capacity < 0: dropless, all kept).
std::vector<char> capacityMask(const std::int32_t* experts, int tokens, int top_k, int seq_len,
                               int num_experts, int capacity);

struct DispatchPlan {
  std::vector<std::int32_t> send_token;          // per sent row: the token (row of the microbatch)
  std::vector<float> send_weight;                // per sent row: the router weight of its slot
  std::vector<std::size_t> send_rows;            // per destination ep rank
  std::vector<std::int32_t> send_expert_counts;  // [ep][experts]: rows per expert per rank
  long dropped = 0;                              // slots of the share that capacity dropped
};

// The slots of tokens [share.begin, share.end) that are kept, to the ep rank owning each
// expert (owner[e]).
DispatchPlan planDispatch(const std::int32_t* experts, const float* weights,
                          const std::vector<char>& kept, planner::Range share, int top_k,
                          int num_experts, const std::vector<int>& owner, int ep);

struct ReceivePlan {
  std::vector<std::size_t> recv_rows;      // per source ep rank
  std::vector<std::int32_t> expert_major;  // received row index, in local-expert-major order
  std::vector<std::int32_t> source_major;  // the inverse: position in expert-major order
  std::vector<int> rows_per_expert;        // per local expert, in placement order
};

// recv_expert_counts: [ep][experts] rows each source sends for each expert.
ReceivePlan planReceive(const std::vector<std::int32_t>& recv_expert_counts,
                        const std::vector<int>& local_experts, int ep, int num_experts);

}  // namespace shardrt
