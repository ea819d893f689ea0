// `dag check`'s rule operator-level (rule 3 of ../shared/spec/dag.md: a module made of several
// operations is never one node), kept beside the checker because it reads the fused-kernel
// groups (dag/fused_kernel.h) that no other rule knows:
//   - no node has op="attention" or op="cached_attention": attention is drawn as its
//     operators, never as one box;
//   - every attention operator (attention_scores, attention_softmax, attention_values) and
//     every kv_cache_read sits in a fused kernel's group (a cluster with kind="fused_kernel");
//   - a group holding attention operators holds one of each, joined by data edges
//     scores -> softmax -> values, so the three read as one attention and in order;
//   - a group that reads a KV cache holds two kv_cache_read nodes, one with a data edge into
//     the scores (the keys) and one into attention_values (the values).
#pragma once

#include <vector>

#include "dag/dag_check.h"
#include "dag/dot_reader.h"

namespace shardrt::dag {

// Appends the violations, nodes in file order, then groups in order of first appearance.
void checkOperatorLevel(const DotGraph& graph, std::vector<DagViolation>& out);

}  // namespace shardrt::dag
