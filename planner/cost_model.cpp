#include "planner/cost_model.h"

#include <algorithm>
#include <stdexcept>

namespace shardrt::planner {

double opSeconds(double flops, double bytes, const DeviceRates& device) {
  if (device.flops_per_second <= 0.0 || device.memory_bytes_per_second <= 0.0) {
    throw std::invalid_argument("cost model: device rates must be positive");
  }
  return std::max(flops / device.flops_per_second, bytes / device.memory_bytes_per_second);
}

double busFactor(Collective op, int ranks) {
  if (ranks < 1) throw std::invalid_argument("cost model: a collective needs at least one rank");
  const double n = ranks;
  switch (op) {
    case Collective::AllReduce:
      return 2.0 * (n - 1.0) / n;
    case Collective::AllGather:
    case Collective::ReduceScatter:
    case Collective::AllToAll:
      return (n - 1.0) / n;
    case Collective::SendRecv:
      return 1.0;
  }
  return 1.0;
}

double collectiveSeconds(Collective op, double bytes, int ranks, const LinkRates& link) {
  if (link.bytes_per_second <= 0.0) throw std::invalid_argument("cost model: link bandwidth <= 0");
  if (ranks == 1 && op != Collective::SendRecv) return 0.0;
  // Ring steps: all-reduce is a reduce-scatter then an all-gather, n - 1 steps each; the
  // all-to-all sends to n - 1 peers; send/recv is one message.
  const double steps = op == Collective::AllReduce  ? 2.0 * (ranks - 1)
                       : op == Collective::SendRecv ? 1.0
                                                    : ranks - 1.0;
  return steps * link.latency_seconds + busFactor(op, ranks) * bytes / link.bytes_per_second;
}

double hierarchicalAllReduceSeconds(double bytes, int per_node, int nodes, const LinkRates& intra,
                                    const LinkRates& inter) {
  if (per_node < 1 || nodes < 1) throw std::invalid_argument("cost model: empty node layout");
  return collectiveSeconds(Collective::ReduceScatter, bytes, per_node, intra) +
         collectiveSeconds(Collective::AllReduce, bytes / per_node, nodes, inter) +
         collectiveSeconds(Collective::AllGather, bytes, per_node, intra);
}

double pipelineBubble(int stages, int microbatches) {
  if (stages < 1 || microbatches < 1) {
    throw std::invalid_argument("cost model: stages and microbatches must be >= 1");
  }
  return (stages - 1.0) / (microbatches + stages - 1.0);
}

double moeFfnFlops(double tokens, int hidden, int experts, int top_k, int expert_ffn_hidden,
                   int shared_experts, bool swiglu) {
  // Each expert FFN: 2 FLOPs per multiply-add over (hidden x ffn) for up (and gate) and down.
  const double matrices = swiglu ? 3.0 : 2.0;
  const double per_expert = 2.0 * matrices * hidden * static_cast<double>(expert_ffn_hidden);
  const double router = 2.0 * hidden * static_cast<double>(experts);
  return tokens * (router + (top_k + shared_experts) * per_expert);
}

}  // namespace shardrt::planner
