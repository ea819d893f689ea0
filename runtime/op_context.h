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
  long in_layer = 0;     // ops started since the layer began
};

// Starts layer `layer` (-1: outside any layer) of microbatch `microbatch`.
void enterLayer(int layer, int microbatch);

// Where a collective is called from, as a number equal on every rank of a tp, ep or dp group
// for the same call and different for any other: the op's label, layer, microbatch and place
// in the layer. 0 outside a layer, where ranks of different stages legitimately differ.
long long callSite();

// The process's one context (the executor runs on the main thread).
OpContext& currentOp();

// Starts op `label`: copies it, counts it, publishes it on the progress board (where other
// ranks read it when a collective stalls) and returns its index.
long enterOp(std::string_view label);

// Test-only fault injection: called with each op's index and label before it runs; true
// means "skip this op" (the hook may also throw, exit or stall). Null: none.
using OpFault = bool (*)(long index, std::string_view label);
void setOpFault(OpFault fault);
OpFault opFault();

// "op q_proj of layer 3, microbatch 0", "op final_norm, microbatch 1", or "" before any op.
std::string describeCurrentOp();

}  // namespace shardrt
