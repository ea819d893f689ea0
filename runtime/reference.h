// The unsharded reference: the same executor with every degree 1 (tp = pp = dp = ep = 1, one
// microbatch) over a one-rank communicator, every weight whole, on one device.
#pragma once

#include <vector>

#include "comm/communicator.h"
#include "config/deployment.h"
#include "runtime/backend.h"
#include "runtime/model_weights.h"
#include "runtime/moe_block.h"

namespace shardrt {

// What the reference saw of its MoE layers, by global layer index.
struct ReferenceRouting {
  std::vector<RoutingLog> routing;    // filled when asked for
  std::vector<MoeCounters> counters;  // slots per expert and dropped slots
};

// output (batch_size, seq_len, hidden) = the model applied to input, unsharded. With
// `follow_routing` (per global layer, every token's experts) the MoE layers send tokens where a
// run sent them, so that output differs from the run's by arithmetic alone; the logged routing
// is still the reference's own choice, for counting flips. `weights` as the run's
// (ExecutorOptions::weights): nullptr generates them from the deployment's seed.
ReferenceRouting computeUnshardedReference(Backend& backend, const config::Deployment& deployment,
                                           comm::Communicator& one_rank, const TensorView& input,
                                           const TensorView& output, bool log_routing,
                                           const std::vector<RoutingLog>* follow_routing = nullptr,
                                           const WeightSource* weights = nullptr);

// The deployment run unsharded: every degree 1, one microbatch, no explicit placements.
config::Deployment unsharded(const config::Deployment& deployment);

}  // namespace shardrt
