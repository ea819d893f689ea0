// The op this rank is running now: what an error, a stalled collective, a signal or
// --check-numerics names ("op q_proj of layer 3, microbatch 0"). The executor sets it as it
// goes (OpTimer, runLayer); readers are the error report, the communicators' watchdog (through
// comm::setContextDescriber) and signal handlers, so it is plain memory: no allocation, no lock.
#pragma once

#include <string>
#include <string_view>

namespace shardrt {

struct OpContext {
  char op[48] = {0};     // the op's label (q_proj, dispatch, ...), truncated
  int layer = -1;        // -1: outside any layer
  int microbatch = -1;   // -1: outside the microbatch loop
  long index = 0;        // ops started on this rank so far, from 1: fault injection counts these
};

// The process's one context (the executor runs on the main thread).
OpContext& currentOp();

// Starts op `label`: copies it, counts it, and returns its index.
long enterOp(std::string_view label);

// "op q_proj of layer 3, microbatch 0", "op final_norm, microbatch 1", or "" before any op.
std::string describeCurrentOp();

}  // namespace shardrt
