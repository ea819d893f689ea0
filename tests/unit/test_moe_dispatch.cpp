// The MoE exchange bookkeeping (runtime/moe_dispatch.h) without MPI: the capacity mask on
// hand-built and random routings, the dispatch plan's properties on random routings and
// placements (experts with one copy or several), the split of a replicated expert's slots
// among its copies, and a whole all-to-all simulated in memory (dispatch, receive, regroup by
// expert, send back, weighted combine) for several ep sizes with uneven, empty and replicated
// placements.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <ostream>
#include <random>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

#include "kernels/cpu/permute.h"
#include "runtime/moe_dispatch.h"
#include "tests/test_util.h"

namespace shardrt {
namespace {

using shardrt::testing::randomVector;
using shardrt::testing::relErr;

// top_k distinct experts per token from `allowed`, the later entries of `allowed` more popular
// (so that capacity limits bite), reproducible by seed.
std::vector<std::int32_t> randomRouting(int tokens, int top_k, const std::vector<int>& allowed,
                                        unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(1e-12, 1.0);
  std::vector<std::int32_t> r(static_cast<std::size_t>(tokens) * top_k);
  for (int t = 0; t < tokens; ++t) {
    std::vector<std::pair<double, int>> keys;
    for (std::size_t j = 0; j < allowed.size(); ++j) {
      keys.emplace_back(-std::log(u(rng)) / (1.0 + 2.0 * j), allowed[j]);  // weighted sampling
    }
    std::sort(keys.begin(), keys.end());
    for (int k = 0; k < top_k; ++k) r[static_cast<std::size_t>(t) * top_k + k] = keys[k].second;
  }
  return r;
}

std::vector<int> allExperts(int n) {
  std::vector<int> v(n);
  std::iota(v.begin(), v.end(), 0);
  return v;
}

// ---------------------------------------------------------------------------------------------
// capacityMask

// Hand-built: 7 tokens, top_k 2, sequences of 3 (the last one partial), 4 experts.
const std::vector<std::int32_t> kHandRouting = {
    0, 1,  // t0  seq 0
    1, 0,  // t1
    0, 2,  // t2: expert 0's third slot in seq 0
    0, 3,  // t3  seq 1: counters start again
    3, 0,  // t4
    0, 3,  // t5: third slot of both 0 and 3 in seq 1
    0, 1,  // t6  seq 2 (one token)
};

TEST(CapacityMask, HandBuiltCapacityTwo) {
  const auto kept = capacityMask(kHandRouting.data(), 7, 2, 3, 4, 2);
  const std::vector<char> want = {1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 0, 0, 1, 1};
  EXPECT_EQ(kept, want);
}

TEST(CapacityMask, HandBuiltCapacityOne) {
  const auto kept = capacityMask(kHandRouting.data(), 7, 2, 3, 4, 1);
  const std::vector<char> want = {1, 1, 0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 1, 1};
  EXPECT_EQ(kept, want);
}

TEST(CapacityMask, HandBuiltOneLongSequenceDoesNotReset) {
  // The same routing as a single sequence of 7: the counters never reset, so expert 0 keeps
  // only t0 and t1, expert 1 drops t6, expert 3 drops t5.
  const auto kept = capacityMask(kHandRouting.data(), 7, 2, 7, 4, 2);
  const std::vector<char> want = {1, 1, 1, 1, 0, 1, 0, 1, 1, 0, 0, 0, 0, 0};
  EXPECT_EQ(kept, want);
}

TEST(CapacityMask, HandBuiltZeroAndDropless) {
  EXPECT_EQ(capacityMask(kHandRouting.data(), 7, 2, 3, 4, 0), std::vector<char>(14, 0));
  EXPECT_EQ(capacityMask(kHandRouting.data(), 7, 2, 3, 4, -1), std::vector<char>(14, 1));
  EXPECT_EQ(capacityMask(kHandRouting.data(), 7, 2, 1, 4, 1), std::vector<char>(14, 1))
      << "sequences of one token: every expert is new in each";
}

// The rule itself, slot by slot: a slot is kept iff its expert has fewer than `capacity` kept
// slots at earlier positions of the same sequence. Returns the number of dropped slots.
long expectCapacityRule(const std::vector<std::int32_t>& experts, const std::vector<char>& kept,
                        int tokens, int top_k, int seq_len, int num_experts, int capacity) {
  EXPECT_EQ(kept.size(), experts.size());
  long dropped = 0;
  for (int s = 0; s < tokens; s += seq_len) {
    std::vector<int> n_kept(num_experts, 0);
    for (int t = s; t < std::min(s + seq_len, tokens); ++t) {
      for (int k = 0; k < top_k; ++k) {
        const std::size_t slot = static_cast<std::size_t>(t) * top_k + k;
        const int e = experts[slot];
        const bool want = capacity < 0 || n_kept[e] < capacity;
        EXPECT_EQ(bool(kept[slot]), want) << "token " << t << " k " << k << " expert " << e
                                          << " had " << n_kept[e] << " kept in its sequence";
        if (kept[slot]) ++n_kept[e];
        if (!kept[slot]) ++dropped;
      }
    }
    for (int e = 0; e < num_experts; ++e) {
      if (capacity >= 0) {
        EXPECT_LE(n_kept[e], capacity) << "sequence at " << s << " expert " << e;
      }
    }
  }
  return dropped;
}

TEST(CapacityMask, RandomRoutingsFollowTheRule) {
  const int tokens = 53, top_k = 3, num_experts = 7;
  for (int seq_len : {8, 53, 1, 20}) {
    for (int capacity : {0, 1, 2, 3, 5}) {
      const auto experts = randomRouting(tokens, top_k, allExperts(num_experts), 100 + seq_len);
      const auto kept = capacityMask(experts.data(), tokens, top_k, seq_len, num_experts, capacity);
      SCOPED_TRACE("seq_len " + std::to_string(seq_len) + " capacity " + std::to_string(capacity));
      const long dropped =
          expectCapacityRule(experts, kept, tokens, top_k, seq_len, num_experts, capacity);
      if (capacity == 0) {
        EXPECT_EQ(dropped, long(experts.size()));
      }
      if (capacity > 0 && capacity < 3 && seq_len >= 8) {
        EXPECT_GT(dropped, 0) << "nothing tested";
      }
    }
  }
}

TEST(CapacityMask, DroplessKeepsEverySlot) {
  const int tokens = 41, top_k = 4, num_experts = 9;
  const auto experts = randomRouting(tokens, top_k, allExperts(num_experts), 7);
  const auto kept = capacityMask(experts.data(), tokens, top_k, 5, num_experts, -1);
  EXPECT_EQ(kept, std::vector<char>(experts.size(), 1));
}

// ---------------------------------------------------------------------------------------------
// planDispatch

// The expert of each sent row, read from send_expert_counts: rows go in (destination, expert)
// blocks, so for each destination the experts come in ascending order with their counts.
std::vector<int> rowExperts(const DispatchPlan& plan, int ep, int num_experts) {
  std::vector<int> out;
  for (int p = 0; p < ep; ++p)
    for (int e = 0; e < num_experts; ++e)
      for (int r = 0; r < plan.send_expert_counts[p * num_experts + e]; ++r) out.push_back(e);
  return out;
}

// The destination of each sent row, read from send_rows.
std::vector<int> rowDestinations(const DispatchPlan& plan) {
  std::vector<int> out;
  for (std::size_t p = 0; p < plan.send_rows.size(); ++p)
    out.insert(out.end(), plan.send_rows[p], int(p));
  return out;
}

// One copy per expert, on owner[e].
std::vector<std::vector<int>> singleCopies(const std::vector<int>& owner) {
  std::vector<std::vector<int>> copies;
  for (int o : owner) copies.push_back({o});
  return copies;
}

// The rule of planDispatch, written out independently: for each kept slot of the share, the
// ep rank it must go to (-1 for dropped slots and slots outside the share).
std::vector<int> expectedDestinations(const std::vector<std::int32_t>& experts,
                                      const std::vector<char>& kept, config::Range share, int top_k,
                                      const std::vector<std::vector<int>>& copies, int ep_rank) {
  std::vector<int> dest(experts.size(), -1);
  std::vector<int> seen(copies.size(), 0);  // kept slots of each expert so far, in token order
  for (int t = share.begin; t < share.end; ++t) {
    for (int k = 0; k < top_k; ++k) {
      const std::size_t slot = std::size_t(t) * top_k + k;
      if (!kept[slot]) continue;
      const auto& c = copies[experts[slot]];
      dest[slot] = c[(seen[experts[slot]]++ + ep_rank) % int(c.size())];
    }
  }
  return dest;
}

// Random placement with copies: every expert on a random non-empty set of ranks, each rank
// at most once; returns copies per expert, ascending.
std::vector<std::vector<int>> randomCopies(int num_experts, int ep, std::mt19937& rng) {
  std::vector<std::vector<int>> copies(num_experts);
  std::uniform_int_distribution<int> count(1, ep);
  for (auto& c : copies) {
    std::vector<int> ranks = allExperts(ep);  // 0..ep-1
    std::shuffle(ranks.begin(), ranks.end(), rng);
    ranks.resize(count(rng));
    std::sort(ranks.begin(), ranks.end());
    c = ranks;
  }
  return copies;
}

bool holds(const std::vector<std::vector<int>>& copies, int expert, int rank) {
  const auto& c = copies[expert];
  return std::find(c.begin(), c.end(), rank) != c.end();
}

void expectDispatchProperties(const std::vector<std::int32_t>& experts,
                              const std::vector<float>& weights, const std::vector<char>& kept,
                              config::Range share, int top_k, int num_experts,
                              const std::vector<std::vector<int>>& copies, int ep, int ep_rank,
                              const DispatchPlan& plan) {
  ASSERT_EQ(plan.send_rows.size(), std::size_t(ep));
  ASSERT_EQ(plan.send_expert_counts.size(), std::size_t(ep) * num_experts);
  ASSERT_EQ(plan.send_weight.size(), plan.send_token.size());
  // Counts: per (rank, expert) only for experts that rank holds; rows per rank their sum.
  std::size_t total = 0;
  for (int p = 0; p < ep; ++p) {
    std::size_t rows = 0;
    for (int e = 0; e < num_experts; ++e) {
      const int c = plan.send_expert_counts[p * num_experts + e];
      EXPECT_GE(c, 0);
      if (!holds(copies, e, p)) {
        EXPECT_EQ(c, 0) << "rank " << p << " got rows of expert " << e;
      }
      rows += c;
    }
    EXPECT_EQ(plan.send_rows[p], rows) << "rank " << p;
    total += plan.send_rows[p];
  }
  ASSERT_EQ(total, plan.send_token.size());
  const std::vector<int> row_expert = rowExperts(plan, ep, num_experts);
  const std::vector<int> row_dest = rowDestinations(plan);
  ASSERT_EQ(row_expert.size(), plan.send_token.size());
  ASSERT_EQ(row_dest.size(), plan.send_token.size());
  const std::vector<int> want_dest =
      expectedDestinations(experts, kept, share, top_k, copies, ep_rank);

  // Every row is a kept slot of the share, with that slot's weight, seen once, at the copy
  // the rule names.
  std::vector<char> seen(experts.size(), 0);
  for (std::size_t i = 0; i < plan.send_token.size(); ++i) {
    const int t = plan.send_token[i], e = row_expert[i];
    ASSERT_GE(t, share.begin) << "row " << i << ": token outside the share";
    ASSERT_LT(t, share.end) << "row " << i << ": token outside the share";
    int k = 0;
    while (k < top_k && experts[std::size_t(t) * top_k + k] != e) ++k;
    ASSERT_LT(k, top_k) << "row " << i << ": token " << t << " never chose expert " << e;
    const std::size_t slot = std::size_t(t) * top_k + k;
    EXPECT_TRUE(kept[slot]) << "row " << i << ": a dropped slot was sent";
    EXPECT_EQ(plan.send_weight[i], weights[slot]) << "row " << i;
    EXPECT_FALSE(seen[slot]) << "row " << i << ": slot sent twice";
    EXPECT_EQ(row_dest[i], want_dest[slot])
        << "row " << i << ": token " << t << "'s slot of expert " << e << " at the wrong copy";
    seen[slot] = 1;
  }
  long dropped = 0;
  for (int t = share.begin; t < share.end; ++t) {
    for (int k = 0; k < top_k; ++k) {
      const std::size_t slot = std::size_t(t) * top_k + k;
      if (kept[slot]) {
        EXPECT_TRUE(seen[slot]) << "kept slot (" << t << ", " << k << ") not sent";
      }
      if (!kept[slot]) ++dropped;
    }
  }
  EXPECT_EQ(plan.dropped, dropped);

  // Sorted by (destination, expert, token), strictly: (token, expert) names one slot.
  for (std::size_t i = 1; i < plan.send_token.size(); ++i) {
    const auto a = std::make_tuple(row_dest[i - 1], row_expert[i - 1], plan.send_token[i - 1]);
    const auto b = std::make_tuple(row_dest[i], row_expert[i], plan.send_token[i]);
    EXPECT_LT(a, b) << "rows " << i - 1 << " and " << i << " out of order";
  }

  // The copies of each expert share its kept slots evenly: floor or ceil of slots / copies.
  for (int e = 0; e < num_experts; ++e) {
    int slots = 0;
    for (int p = 0; p < ep; ++p) slots += plan.send_expert_counts[p * num_experts + e];
    const int n = int(copies[e].size());
    for (int p : copies[e]) {
      const int c = plan.send_expert_counts[p * num_experts + e];
      EXPECT_GE(c, slots / n) << "copy of expert " << e << " on rank " << p;
      EXPECT_LE(c, (slots + n - 1) / n) << "copy of expert " << e << " on rank " << p;
    }
  }
}

TEST(PlanDispatch, RandomRoutingsAndPlacements) {
  const int tokens = 41, num_experts = 9, seq_len = 6;
  std::mt19937 rng(2024);
  int cases = 0, replicated = 0;
  for (int ep : {1, 2, 3, 4}) {
    for (int top_k : {2, 3}) {
      for (int capacity : {-1, 1, 2, 4}) {
        // Half the cases one copy per expert, half with random copies.
        std::vector<std::vector<int>> copies;
        if (capacity % 2) {
          std::vector<int> owner(num_experts);
          std::uniform_int_distribution<int> pick(0, ep - 1);
          for (auto& o : owner) o = pick(rng);
          copies = singleCopies(owner);
        } else {
          copies = randomCopies(num_experts, ep, rng);
        }
        for (const auto& c : copies) replicated += c.size() > 1;
        const int ep_rank = std::uniform_int_distribution<int>(0, ep - 1)(rng);
        const auto experts = randomRouting(tokens, top_k, allExperts(num_experts), rng());
        const auto weights = randomVector(experts.size(), rng());
        const auto kept =
            capacityMask(experts.data(), tokens, top_k, seq_len, num_experts, capacity);
        for (config::Range share :
             {config::Range{0, tokens}, config::Range{5, 23}, config::Range{17, tokens},
              config::Range{0, 0}, config::Range{tokens, tokens}, config::Range{13, 14}}) {
          SCOPED_TRACE("ep " + std::to_string(ep) + " rank " + std::to_string(ep_rank) +
                       " top_k " + std::to_string(top_k) + " capacity " +
                       std::to_string(capacity) + " share [" + std::to_string(share.begin) +
                       ", " + std::to_string(share.end) + ")");
          const DispatchPlan plan = planDispatch(experts.data(), weights.data(), kept, share, top_k,
                                                 num_experts, copies, ep, ep_rank);
          expectDispatchProperties(experts, weights, kept, share, top_k, num_experts, copies, ep,
                                   ep_rank, plan);
          if (share.size() == 0) {
            EXPECT_TRUE(plan.send_token.empty());
          }
          ++cases;
        }
      }
    }
  }
  EXPECT_EQ(cases, 4 * 2 * 4 * 6);
  EXPECT_GT(replicated, 20) << "too few replicated experts to test the split";
}

TEST(PlanDispatch, HandBuiltOrderAndCounts) {
  // 4 tokens, top_k 2, experts 0..3 owned by ranks {1, 0, 1, 0}; slot (2, 1) is dropped.
  const std::vector<std::int32_t> experts = {2, 1, 0, 3, 1, 2, 3, 0};
  const std::vector<float> weights = {0.1f, 0.2f, 0.3f, 0.4f, 0.5f, 0.6f, 0.7f, 0.8f};
  std::vector<char> kept(8, 1);
  kept[5] = 0;
  const DispatchPlan plan =
      planDispatch(experts.data(), weights.data(), kept, {0, 4}, 2, 4, {{1}, {0}, {1}, {0}}, 2, 0);
  // rank 0: expert 1 (t0, t2), expert 3 (t1, t3); rank 1: expert 0 (t1, t3), expert 2 (t0).
  EXPECT_EQ(plan.send_token, (std::vector<std::int32_t>{0, 2, 1, 3, 1, 3, 0}));
  EXPECT_EQ(plan.send_weight, (std::vector<float>{0.2f, 0.5f, 0.4f, 0.7f, 0.3f, 0.8f, 0.1f}));
  EXPECT_EQ(plan.send_rows, (std::vector<std::size_t>{4, 3}));
  EXPECT_EQ(plan.send_expert_counts, (std::vector<std::int32_t>{0, 2, 0, 2, 2, 0, 1, 0}));
  EXPECT_EQ(plan.dropped, 1);
}

TEST(PlanDispatch, HandBuiltCopiesTakeTurns) {
  // 6 tokens, top_k 2, ep 3. Expert 0 on ranks {0, 2}, expert 1 on all three, expert 2 on
  // rank 1 only. Every token chooses expert 0; slot (3, 0), of expert 1, is dropped.
  const std::vector<std::int32_t> experts = {0, 1, 2, 0, 0, 1, 1, 0, 0, 2, 1, 0};
  const std::vector<float> weights = {0.1f, 0.2f, 0.3f, 0.4f, 0.5f, 0.6f,
                                      0.7f, 0.8f, 0.9f, 1.0f, 1.1f, 1.2f};
  std::vector<char> kept(12, 1);
  kept[6] = 0;
  const std::vector<std::vector<int>> copies = {{0, 2}, {0, 1, 2}, {1}};
  // Sender at ep rank 1: expert 0's slots (t0..t5) go to ranks 2, 0, 2, 0, 2, 0; expert 1's
  // kept slots (t0, t2, t5) to ranks 1, 2, 0: each expert's turns start at copy 1 % n.
  DispatchPlan plan = planDispatch(experts.data(), weights.data(), kept, {0, 6}, 2, 3, copies, 3, 1);
  EXPECT_EQ(plan.send_token, (std::vector<std::int32_t>{1, 3, 5, 5, 0, 1, 4, 0, 2, 4, 2}));
  EXPECT_EQ(plan.send_weight, (std::vector<float>{0.4f, 0.8f, 1.2f, 1.1f, 0.2f, 0.3f, 1.0f,
                                                  0.1f, 0.5f, 0.9f, 0.6f}));
  EXPECT_EQ(plan.send_rows, (std::vector<std::size_t>{4, 3, 4}));
  EXPECT_EQ(plan.send_expert_counts, (std::vector<std::int32_t>{3, 1, 0, 0, 1, 2, 3, 1, 0}));
  EXPECT_EQ(plan.dropped, 1);

  // The sender at ep rank 0 starts at the first copy: expert 0 alternates 0, 2, 0, ...
  plan = planDispatch(experts.data(), weights.data(), kept, {0, 6}, 2, 3, copies, 3, 0);
  EXPECT_EQ(plan.send_expert_counts, (std::vector<std::int32_t>{3, 1, 0, 0, 1, 2, 3, 1, 0}));
  EXPECT_EQ(plan.send_token[0], 0) << "rank 0's first row: token 0 at expert 0's first copy";
}

TEST(PlanDispatch, HotExpertSplitsEvenlyOverEverySender) {
  // Every token of every sender chooses expert 0, held by all ep ranks: each sender's slots
  // split floor/ceil over the copies, and the senders' remainders land on different copies.
  const int ep = 4, tokens = 9, top_k = 1, num_experts = 2;
  const std::vector<std::int32_t> experts(tokens, 0);
  const std::vector<float> weights = randomVector(tokens, 5);
  const std::vector<char> kept(tokens, 1);
  const std::vector<std::vector<int>> copies = {{0, 1, 2, 3}, {2}};
  std::vector<int> total(ep, 0);
  for (int sender = 0; sender < ep; ++sender) {
    const DispatchPlan plan = planDispatch(experts.data(), weights.data(), kept, {0, tokens},
                                           top_k, num_experts, copies, ep, sender);
    for (int p = 0; p < ep; ++p) {
      const int rows = plan.send_expert_counts[p * num_experts + 0];
      // 9 slots over 4 copies: 3 to the sender's own turn-first copy, 2 to the others.
      EXPECT_EQ(rows, p == sender ? 3 : 2) << "sender " << sender << " to copy on rank " << p;
      total[p] += rows;
    }
  }
  EXPECT_EQ(total, (std::vector<int>{9, 9, 9, 9}));
}

// ---------------------------------------------------------------------------------------------
// planReceive

TEST(PlanReceive, HandBuiltLocalExpertOrder) {
  // ep 2, 4 experts, this rank holds {3, 1} in that order. Received buffer:
  //   from 0: expert 1 rows 0-1, expert 3 row 2;  from 1: expert 1 row 3, expert 3 rows 4-5.
  const std::vector<std::int32_t> counts = {0, 2, 0, 1, 0, 1, 0, 2};
  const ReceivePlan plan = planReceive(counts, {3, 1}, 2, 4);
  EXPECT_EQ(plan.recv_rows, (std::vector<std::size_t>{3, 3}));
  EXPECT_EQ(plan.expert_major, (std::vector<std::int32_t>{2, 4, 5, 0, 1, 3}));
  EXPECT_EQ(plan.source_major, (std::vector<std::int32_t>{3, 4, 0, 5, 1, 2}));
  EXPECT_EQ(plan.rows_per_expert, (std::vector<int>{3, 3}));
}

TEST(PlanReceive, RowsForAnExpertNotHeldThrow) {
  // Source 1 sends a row for expert 0, which this rank does not hold.
  const std::vector<std::int32_t> counts = {0, 2, 0, 1, 0, 0};
  EXPECT_THROW(planReceive(counts, {1}, 2, 3), std::logic_error);
  EXPECT_NO_THROW(planReceive(counts, {1, 0}, 2, 3));
  // A rank holding no experts accepts nothing but an empty exchange.
  EXPECT_THROW(planReceive(counts, {}, 2, 3), std::logic_error);
  const ReceivePlan empty = planReceive(std::vector<std::int32_t>(6, 0), {}, 2, 3);
  EXPECT_TRUE(empty.expert_major.empty());
  EXPECT_TRUE(empty.source_major.empty());
  EXPECT_TRUE(empty.rows_per_expert.empty());
  EXPECT_EQ(empty.recv_rows, (std::vector<std::size_t>{0, 0}));
}

// One source rank of the simulated exchange: its own microbatch and routing.
struct Source {
  int tokens = 0;
  std::vector<std::int32_t> experts;
  std::vector<float> weights;
  std::vector<char> kept;
  DispatchPlan plan;
  std::vector<float> x;                  // (tokens, kHidden): the expert inputs
  std::vector<std::array<int, 3>> sent;  // per sent row: (source, token, expert)
  std::vector<std::size_t> dest_offset;  // per destination: first row of its block
  std::vector<int> dest;                 // per slot: the rank the split rule sends it to
};

constexpr int kHidden = 5;

struct ExchangeCase {
  const char* name;
  int ep;
  std::vector<std::vector<int>> copies;  // per expert: the ranks holding it, ascending
  std::vector<std::vector<int>> local;   // per rank: its experts, in placement order
  std::vector<int> tokens;              // per source
  int capacity;
};

void PrintTo(const ExchangeCase& c, std::ostream* os) { *os << c.name; }

class SimulatedExchange : public ::testing::TestWithParam<ExchangeCase> {};

TEST_P(SimulatedExchange, RowsReachTheirExpertsAndComeBack) {
  const ExchangeCase c = GetParam();
  const int ep = c.ep, num_experts = int(c.copies.size()), top_k = 2, seq_len = 5;
  ASSERT_EQ(int(c.local.size()), ep);
  for (int r = 0; r < ep; ++r)
    for (int e : c.local[r]) ASSERT_TRUE(holds(c.copies, e, r)) << "case: local vs copies";
  // Expert 2 is never routed to: some rank holds an expert with no rows.
  std::vector<int> allowed;
  for (int e = 0; e < num_experts; ++e)
    if (e != 2) allowed.push_back(e);

  std::vector<Source> src(ep);
  long kept_slots = 0, dropped_slots = 0;
  for (int p = 0; p < ep; ++p) {
    Source& s = src[p];
    s.tokens = c.tokens[p];
    s.experts = randomRouting(s.tokens, top_k, allowed, 300 + p);
    s.weights = randomVector(s.experts.size(), 400 + p);
    s.kept = capacityMask(s.experts.data(), s.tokens, top_k, seq_len, num_experts, c.capacity);
    s.plan = planDispatch(s.experts.data(), s.weights.data(), s.kept, {0, s.tokens}, top_k,
                          num_experts, c.copies, ep, p);
    s.dest = expectedDestinations(s.experts, s.kept, {0, s.tokens}, top_k, c.copies, p);
    s.x = randomVector(std::size_t(s.tokens) * kHidden, 500 + p);
    const auto row_expert = rowExperts(s.plan, ep, num_experts);
    ASSERT_EQ(row_expert.size(), s.plan.send_token.size());
    for (std::size_t i = 0; i < row_expert.size(); ++i)
      s.sent.push_back({p, s.plan.send_token[i], row_expert[i]});
    std::size_t off = 0;
    for (int d = 0; d < ep; ++d) {
      s.dest_offset.push_back(off);
      off += s.plan.send_rows[d];
    }
    for (char k : s.kept) (k ? kept_slots : dropped_slots) += 1;
    EXPECT_EQ(s.plan.dropped, long(std::count(s.kept.begin(), s.kept.end(), 0)));
  }
  if (c.capacity >= 0) {
    EXPECT_GT(dropped_slots, 0) << "capacity case drops nothing";
  }

  // Each source's send buffer: its inputs gathered in send order.
  std::vector<std::vector<float>> send_buf(ep);
  for (int p = 0; p < ep; ++p) {
    send_buf[p].assign(src[p].sent.size() * kHidden, NAN);
    kernels::cpu::gatherRows(send_buf[p].data(), src[p].x.data(), src[p].plan.send_token.data(),
                             long(src[p].sent.size()), kHidden);
  }

  // Each destination: receive, regroup by expert, "run" the experts, put back in source order.
  // Expert e multiplies its rows by (e + 1), so a row at the wrong expert shows.
  std::vector<std::vector<float>> back_buf(ep);
  std::vector<ReceivePlan> recv(ep);
  long received_total = 0;
  for (int d = 0; d < ep; ++d) {
    SCOPED_TRACE("destination " + std::to_string(d));
    std::vector<std::int32_t> counts(std::size_t(ep) * num_experts);
    std::vector<std::array<int, 3>> recv_ids;
    std::vector<float> recv_buf;
    for (int p = 0; p < ep; ++p) {
      for (int e = 0; e < num_experts; ++e)
        counts[p * num_experts + e] = src[p].plan.send_expert_counts[d * num_experts + e];
      const std::size_t off = src[p].dest_offset[d], n = src[p].plan.send_rows[d];
      recv_ids.insert(recv_ids.end(), src[p].sent.begin() + off, src[p].sent.begin() + off + n);
      recv_buf.insert(recv_buf.end(), send_buf[p].begin() + off * kHidden,
                      send_buf[p].begin() + (off + n) * kHidden);
    }
    const ReceivePlan& rp = recv[d] = planReceive(counts, c.local[d], ep, num_experts);
    const std::size_t n = recv_ids.size();
    received_total += long(n);
    for (int p = 0; p < ep; ++p) EXPECT_EQ(rp.recv_rows[p], src[p].plan.send_rows[d]) << p;
    if (c.local[d].empty()) {
      EXPECT_EQ(n, 0u);
    }

    // expert_major is a permutation of the received rows, source_major its inverse.
    ASSERT_EQ(rp.expert_major.size(), n);
    ASSERT_EQ(rp.source_major.size(), n);
    std::vector<std::int32_t> sorted = rp.expert_major;
    std::sort(sorted.begin(), sorted.end());
    std::vector<std::int32_t> iota(n);
    std::iota(iota.begin(), iota.end(), 0);
    EXPECT_EQ(sorted, iota);
    for (std::size_t i = 0; i < n; ++i) {
      EXPECT_EQ(rp.source_major[rp.expert_major[i]], std::int32_t(i));
      EXPECT_EQ(rp.expert_major[rp.source_major[i]], std::int32_t(i));
    }

    // Expert-major order, straight from the routings: for each local expert in placement
    // order, for each source, that source's kept slots for it in token order that the split
    // rule sends to this copy.
    std::vector<std::array<int, 3>> want;
    std::vector<int> want_per_expert;
    for (int e : c.local[d]) {
      int rows = 0;
      for (int p = 0; p < ep; ++p)
        for (int t = 0; t < src[p].tokens; ++t)
          for (int k = 0; k < top_k; ++k) {
            const std::size_t slot = std::size_t(t) * top_k + k;
            if (src[p].kept[slot] && src[p].experts[slot] == e && src[p].dest[slot] == d) {
              want.push_back({p, t, e});
              ++rows;
            }
          }
      want_per_expert.push_back(rows);
    }
    std::vector<std::array<int, 3>> grouped;
    for (auto i : rp.expert_major) grouped.push_back(recv_ids[i]);
    EXPECT_EQ(grouped, want);
    EXPECT_EQ(rp.rows_per_expert, want_per_expert);

    // The same on the data: gather by expert_major, apply each expert, gather by source_major.
    std::vector<float> expert_in(n * kHidden, NAN), expert_out(n * kHidden, NAN);
    kernels::cpu::gatherRows(expert_in.data(), recv_buf.data(), rp.expert_major.data(), long(n),
                             kHidden);
    std::size_t row = 0;
    for (std::size_t j = 0; j < c.local[d].size(); ++j) {
      for (int r = 0; r < rp.rows_per_expert[j]; ++r, ++row)
        for (int h = 0; h < kHidden; ++h)
          expert_out[row * kHidden + h] = float(c.local[d][j] + 1) * expert_in[row * kHidden + h];
    }
    ASSERT_EQ(row, n);
    back_buf[d].assign(n * kHidden, NAN);
    kernels::cpu::gatherRows(back_buf[d].data(), expert_out.data(), rp.source_major.data(), long(n),
                             kHidden);
  }
  EXPECT_EQ(received_total, kept_slots);

  // The way back: source p's rows from each destination, in its own send order, then the
  // weighted combine into token order.
  for (int p = 0; p < ep; ++p) {
    SCOPED_TRACE("source " + std::to_string(p));
    std::vector<float> returned;
    for (int d = 0; d < ep; ++d) {
      std::size_t off = 0;  // where source p's block starts in d's receive buffer
      for (int q = 0; q < p; ++q) off += recv[d].recv_rows[q];
      const std::size_t nrows = recv[d].recv_rows[p];
      returned.insert(returned.end(), back_buf[d].begin() + off * kHidden,
                      back_buf[d].begin() + (off + nrows) * kHidden);
    }
    ASSERT_EQ(returned.size(), src[p].sent.size() * kHidden);
    std::vector<float> out(std::size_t(src[p].tokens) * kHidden, 0.0f);
    kernels::cpu::scatterAddRows(out.data(), returned.data(), src[p].plan.send_token.data(),
                                 src[p].plan.send_weight.data(), long(src[p].sent.size()), kHidden);
    // Reference: y[t] = sum over kept slots of weight * (expert + 1) * x[t].
    std::vector<float> ref(out.size());
    for (int t = 0; t < src[p].tokens; ++t) {
      double scale = 0.0;
      for (int k = 0; k < top_k; ++k) {
        const std::size_t slot = std::size_t(t) * top_k + k;
        if (src[p].kept[slot]) scale += double(src[p].weights[slot]) * (src[p].experts[slot] + 1);
      }
      for (int h = 0; h < kHidden; ++h)
        ref[t * kHidden + h] = float(scale * src[p].x[t * kHidden + h]);
    }
    if (src[p].tokens > 0) {
      EXPECT_LT(relErr(out, ref), 1e-6);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Placements, SimulatedExchange,
    ::testing::Values(
        // ep 1: everything local, local order not ascending.
        ExchangeCase{"Ep1Capacity", 1, {{0}, {0}, {0}, {0}, {0}, {0}, {0}},
                     {{6, 0, 3, 1, 2, 5, 4}}, {23}, 3},
        ExchangeCase{"Ep1Dropless", 1, {{0}, {0}, {0}, {0}, {0}, {0}, {0}},
                     {{0, 1, 2, 3, 4, 5, 6}}, {23}, -1},
        // ep 2: rank 0 holds one expert, rank 1 the rest; source 1 has no tokens.
        ExchangeCase{"Ep2Lopsided", 2, {{1}, {1}, {1}, {1}, {1}, {0}, {1}},
                     {{5}, {4, 0, 6, 2, 1, 3}}, {19, 0}, 3},
        ExchangeCase{"Ep2Alternating", 2, {{0}, {1}, {0}, {1}, {0}, {1}, {0}},
                     {{0, 2, 4, 6}, {5, 3, 1}}, {17, 12}, -1},
        // ep 4: rank 2 holds no experts, rank 0 holds the never-routed expert 2; one source
        // has no tokens, one a single token.
        ExchangeCase{"Ep4EmptyRankCapacity",
                     4,
                     {{0}, {3}, {0}, {3}, {3}, {1}, {0}},
                     {{6, 2, 0}, {5}, {}, {1, 4, 3}},
                     {17, 0, 23, 1},
                     2},
        ExchangeCase{"Ep4EmptyRankDropless",
                     4,
                     {{0}, {3}, {0}, {3}, {3}, {1}, {0}},
                     {{0, 2, 6}, {5}, {}, {4, 3, 1}},
                     {11, 9, 0, 26},
                     -1},
        // Copies: experts 0, 1 and 4 on both ranks of ep 2.
        ExchangeCase{"Ep2Replicated", 2, {{0, 1}, {0, 1}, {1}, {0}, {0, 1}, {1}, {0}},
                     {{6, 0, 4, 1, 3}, {5, 1, 0, 2, 4}}, {17, 12}, -1},
        // ep 4 with capacity: expert 0 on every rank, rank 2 holds only copies (0, 3, 5).
        ExchangeCase{"Ep4ReplicatedCapacity",
                     4,
                     {{0, 1, 2, 3}, {0, 3}, {1}, {2, 3}, {0}, {1, 2}, {3}},
                     {{4, 1, 0}, {2, 5, 0}, {3, 0, 5}, {6, 0, 1, 3}},
                     {17, 0, 23, 1},
                     2},
        // ep 3: rank 1 holds nothing, ranks 0 and 2 share four experts.
        ExchangeCase{"Ep3ReplicatedEmptyRank",
                     3,
                     {{0, 2}, {0}, {2}, {0, 2}, {2}, {0, 2}, {0}},
                     {{0, 1, 3, 5, 6}, {}, {4, 3, 2, 5, 0}},
                     {11, 9, 14},
                     -1}),
    [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace shardrt
