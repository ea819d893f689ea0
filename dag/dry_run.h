// The dry run behind `shardrt dag`: every rank's executor runs in this process, a thread per
// rank, on the meta backend and communicator (shapes only; host buffers such as MoE counts move
// for real, so the control flow is a real run's), through the same recorders as `run --trace`.
// Its events therefore make a graph with the structure of a real run's, node for node.
#pragma once

#include <vector>

#include "config/deployment.h"
#include "runtime/trace_event.h"

namespace shardrt::dag {

// The trace events of one forward pass of every rank of `deployment`, rank by rank. The first
// rank to fail stops the others, and its exception is rethrown here.
std::vector<TraceEvent> dryRun(const config::Deployment& deployment);

// The same for a generation (runtime/generation_executor.h): workload.batch_size requests of
// `prompt_tokens` tokens each, two new tokens each, so the events hold round 0 (the prefill)
// and round 1 (the first decode step). The meta backend's argmax chooses token 0 everywhere.
// ConfigError naming the field when the model has no vocabulary or the prompt and its two
// tokens exceed workload.seq_len.
std::vector<TraceEvent> dryRunGeneration(const config::Deployment& deployment, int prompt_tokens);

}  // namespace shardrt::dag
