// One op as the tracer saw it run on one rank: the record every trace output is made from
// (the deployment DAG, the Chrome/Kineto timeline, dags.json's load balance).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "runtime/shape.h"

namespace shardrt {

enum class OpKind { Compute, Comm, Route };

const char* opKindName(OpKind kind);  // "compute", "comm", "route"

// One tensor an op read or wrote: where it lies in its rank's address space (device or host;
// in a dry run, the meta backend's fake addresses), how many bytes, and its named shape with
// local and global sizes.
struct TensorRef {
  std::uint64_t address = 0;
  std::uint64_t bytes = 0;
  Shape shape;
};

struct TraceEvent {
  int rank = 0;            // world rank, which is the GPU index in the graph
  long seq = 0;            // order of the op on its rank, from 0
  OpKind kind = OpKind::Compute;
  std::string op;          // the call: linear, rmsnorm, attention, all_reduce, send, recv, ...
  std::string name;        // what the executor calls it: q_proj, o_proj, dispatch, ...
  int layer = -1;          // global layer index; -1 outside layers
  int expert = -1;         // global expert index for one expert's ops; -1 otherwise
  int microbatch = -1;     // pipeline microbatch; -1 outside the microbatch loop
  int round = -1;          // generation: 0 the prefill, then one per decode step; -1 otherwise
  std::string mask;        // attention: the mask its softmax applies ("causal"); "" for none
  std::vector<TensorRef> inputs;   // data read (activations)
  std::vector<TensorRef> weights;  // parameters read
  std::vector<TensorRef> outputs;  // data written
  double start_us = 0.0;   // on a clock shared by all ranks (aligned at a barrier)
  double end_us = 0.0;
  double flops = 0.0;
  double bytes = 0.0;      // bytes read and written (compute), or sent by this rank (comm)
  // Collectives and point-to-point (kind Comm):
  std::string group;              // tp, ep, pp, dp, world, ...
  std::vector<int> group_ranks;   // world ranks of the group's members, in group rank order
  long group_seq = -1;            // the group's call count: equal on every member of one call
  int peer = -1;                  // send/recv: the other side's world rank
};

}  // namespace shardrt
