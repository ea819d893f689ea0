// The tracer's timeline: a deployment's TraceEvents as a Chrome trace-event file in the
// conventions of PyTorch's profiler (Kineto), so that chrome://tracing, Perfetto and Holistic
// Trace Analysis (HTA) open it.
//
//   DIR/trace.json                every rank, one process (pid) per rank, arrows joining the
//                                 members of each collective and each send to its recv
//   DIR/ranks/rank<N>.trace.json  rank N alone, with Kineto's "distributedInfo": point HTA at
//                                 DIR/ranks (HTA reads every .json of the directory it is given
//                                 and takes a file that names no rank, as trace.json, for rank 0)
//
// HTA tells communication from computation by kernel names matching ^nccl.*Kernel; ours are
// named after the op (all_reduce, send), so HTA's breakdowns count them as computation.
//
// Each rank has two tracks (tid): compute and routing ops on one, communication on the other,
// as a GPU runs its kernels and its NCCL kernels on separate streams. A generation's trace
// (shardrt generate --trace) has a third, "generation rounds": one slice per round, "prefill"
// then "decode step N", from the rank's first op of the round to its last.
//
// One slice per call the tracer timed. Attention is one slice ("attention", the mask in its
// args) although the graph draws it as three operators (dag/fused_attention.h): it ran as one
// fused launch and only that launch was timed. Three slices would need times for Q·K^T,
// softmax and ·V that nobody measured (the CPU and CUDA kernels interleave them, block of rows
// by block), and would show three launches where the device ran one.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "runtime/trace_event.h"

namespace shardrt::dag {

struct TimelineInfo {
  std::string backend;  // "nccl", "mpi", "meta": distributedInfo's backend
  int world_size = 0;   // ranks 0..world_size-1 each get a process, with or without events
  std::string title;    // traceName
};

// The trace document of every rank (only_rank < 0) or of one rank. Equal event lists (in any
// order) give equal documents. Bookkeeping records (runtime/tracer.h) are left out.
nlohmann::json chromeTrace(const std::vector<TraceEvent>& events, const TimelineInfo& info,
                           int only_rank = -1);

// Writes DIR/trace.json and DIR/ranks/rank<N>.trace.json for every rank, creating the folders.
// Throws std::runtime_error naming the path when a file or DIR cannot be written.
void writeTimeline(const std::vector<TraceEvent>& events, const TimelineInfo& info,
                   const std::string& dir);

}  // namespace shardrt::dag
