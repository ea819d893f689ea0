// Rank arithmetic: where a world rank sits in the tp x dp x pp grid, as a pure value.
// Tensor-parallel ranks are adjacent (tp varies fastest), then data-parallel replicas, then
// pipeline stages: the order Megatron-Core uses, which keeps a tp group inside one node.
//   world_rank = tp_rank + tp * (dp_rank + dp * pp_rank)
// Expert parallelism splits the tp * dp ranks of one stage into groups of ep adjacent ranks:
//   stage_rank = tp_rank + tp * dp_rank,  ep_rank = stage_rank % ep
#pragma once

#include <vector>

namespace shardrt::config {

class ParallelLayout {
 public:
  ParallelLayout(int tp, int pp, int dp, int world_rank, int ep = 1);

  int worldSize() const { return tp_ * pp_ * dp_; }
  int worldRank() const { return rank_; }
  int tp() const { return tp_; }
  int pp() const { return pp_; }
  int dp() const { return dp_; }

  int tpRank() const { return rank_ % tp_; }
  int dpRank() const { return (rank_ / tp_) % dp_; }
  int ppRank() const { return rank_ / (tp_ * dp_); }
  int ep() const { return ep_; }
  int stageRank() const { return rank_ % (tp_ * dp_); }  // index among the stage's ranks
  int epRank() const { return stageRank() % ep_; }

  // Colors for Communicator::split: ranks with equal color share a group.
  int tpGroupColor() const { return rank_ / tp_; }                // same dp and pp
  int dpGroupColor() const { return tpRank() + tp_ * ppRank(); }  // same tp and pp
  int ppGroupColor() const { return tpRank() + tp_ * dpRank(); }  // same tp and dp
  int epGroupColor() const { return rank_ / ep_; }                // ep adjacent stage ranks

  // World ranks in this rank's groups, in group-rank order.
  std::vector<int> tpGroup() const;
  std::vector<int> dpGroup() const;
  std::vector<int> ppGroup() const;
  std::vector<int> epGroup() const;

  static int worldRankOf(int tp, int dp, int tp_rank, int dp_rank, int pp_rank) {
    return tp_rank + tp * (dp_rank + dp * pp_rank);
  }

 private:
  int tp_, pp_, dp_, rank_, ep_;
};

}  // namespace shardrt::config
