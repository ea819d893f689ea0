// The planner's cost model, first part (issue 6): how long one op, one collective and one
// pipeline take on given hardware. Pure functions of sizes and rates, so that the same
// formulas serve datasheet numbers and a calibrated profile. Formulas and sources are in
// docs/planner.md.
#pragma once

namespace shardrt::planner {

// What one device sustains: dense FLOP/s for the dtype at hand, and memory bandwidth.
struct DeviceRates {
  double flops_per_second = 0.0;
  double memory_bytes_per_second = 0.0;
};

// One link class: bandwidth per direction per GPU, and the latency of one message.
struct LinkRates {
  double bytes_per_second = 0.0;
  double latency_seconds = 0.0;
};

// An op bound by arithmetic or by memory: the larger of FLOPs / FLOP/s and bytes / bandwidth
// (the roofline's two sides).
double opSeconds(double flops, double bytes, const DeviceRates& device);

enum class Collective { AllReduce, AllGather, ReduceScatter, AllToAll, SendRecv };

// Time of a collective among `ranks` GPUs joined by `link`, ring algorithm, alpha-beta model:
// steps * latency + factor * bytes / bandwidth, with `bytes` the size nccl-tests calls the
// operation's size (all-reduce: the buffer; all-gather: the gathered output; reduce-scatter:
// the input; all-to-all: what one rank holds before the exchange, its own share included;
// send/recv: the message). One rank takes no time.
double collectiveSeconds(Collective op, double bytes, int ranks, const LinkRates& link);

// The bus-bandwidth factor of a collective among n ranks (nccl-tests' busbw = algbw * factor):
// 2(n-1)/n for all-reduce, (n-1)/n for all-gather, reduce-scatter and all-to-all, 1 for
// send/recv.
double busFactor(Collective op, int ranks);

// All-reduce over `nodes` nodes of `per_node` GPUs each, done hierarchically: reduce-scatter
// inside each node, all-reduce of each GPU's 1/per_node share across nodes, all-gather inside.
double hierarchicalAllReduceSeconds(double bytes, int per_node, int nodes, const LinkRates& intra,
                                    const LinkRates& inter);

// The idle share of a GPipe pipeline of `stages` stages and `microbatches` microbatches:
// (pp - 1) / (m + pp - 1).
double pipelineBubble(int stages, int microbatches);

// FLOPs of one MoE FFN block for `tokens` tokens: the router (hidden x experts) and the top_k
// experts each token goes to, plus the shared experts; never all experts.
double moeFfnFlops(double tokens, int hidden, int experts, int top_k, int expert_ffn_hidden,
                   int shared_experts, bool swiglu);

}  // namespace shardrt::planner
