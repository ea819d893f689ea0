// What memory allows a plan's split: the bytes each layer holds on a stage's fullest GPU, what
// each stage's GPUs have left for layers once a replica's activations are in, and how many
// rows each data-parallel replica can hold once its stages' weights are in. buildCandidate
// (planner/strategy_search.h) splits layers and rows within these, each GPU against its own
// memory, so a mixed cluster's small GPUs get fewer layers or rows rather than none fitting.
#pragma once

#include <vector>

#include "planner/layer_partition.h"
#include "planner/plan_cost.h"

namespace shardrt::planner {

// Per layer and per stage, for splitting `candidate`'s layers (its dp_batch and expert
// placement already chosen).
LayerMemory layerMemory(const PlanCostModel& costs, const config::ModelConfig& model,
                        const ClusterConfig& cluster, const Candidate& candidate);

// Per replica, the most units of `strategy.microbatches` rows it holds with `candidate`'s
// stages; empty when every replica already holds its rows (the common case, priced cheaply).
std::vector<long> replicaRowCaps(const PlanCostModel& costs, const ClusterConfig& cluster,
                                 const Candidate& candidate);

}  // namespace shardrt::planner
