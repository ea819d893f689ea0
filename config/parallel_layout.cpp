#include "config/parallel_layout.h"

#include <stdexcept>
#include <string>

namespace shardrt::config {

ParallelLayout::ParallelLayout(int tp, int pp, int dp, int world_rank, int ep)
    : tp_(tp), pp_(pp), dp_(dp), rank_(world_rank), ep_(ep) {
  if (tp < 1 || pp < 1 || dp < 1 || ep < 1) {
    throw std::invalid_argument("ParallelLayout: degrees must be >= 1");
  }
  if ((tp * dp) % ep != 0) throw std::invalid_argument("ParallelLayout: ep must divide tp*dp");
  if (world_rank < 0 || world_rank >= worldSize()) {
    throw std::invalid_argument("ParallelLayout: rank " + std::to_string(world_rank) +
                                " outside world of " + std::to_string(worldSize()));
  }
}

std::vector<int> ParallelLayout::tpGroup() const {
  std::vector<int> ranks;
  for (int t = 0; t < tp_; ++t) ranks.push_back(worldRankOf(tp_, dp_, t, dpRank(), ppRank()));
  return ranks;
}

std::vector<int> ParallelLayout::dpGroup() const {
  std::vector<int> ranks;
  for (int d = 0; d < dp_; ++d) ranks.push_back(worldRankOf(tp_, dp_, tpRank(), d, ppRank()));
  return ranks;
}

std::vector<int> ParallelLayout::epGroup() const {
  std::vector<int> ranks;
  const int first = rank_ - epRank();
  for (int e = 0; e < ep_; ++e) ranks.push_back(first + e);
  return ranks;
}

std::vector<int> ParallelLayout::ppGroup() const {
  std::vector<int> ranks;
  for (int p = 0; p < pp_; ++p) ranks.push_back(worldRankOf(tp_, dp_, tpRank(), dpRank(), p));
  return ranks;
}

}  // namespace shardrt::config
