// The names a graph uses for a fused kernel drawn as its operators (docs/dag.md, "Fused
// kernels"), shared by the writer (dag/fused_attention.h) and `shardrt dag check`, which needs
// nothing else of the graph builder.
#pragma once

namespace shardrt::dag {

// The DOT subgraph of one launch, nested in its GPU's cluster, carries kind="fused_kernel".
inline constexpr const char* kFusedKernelKind = "fused_kernel";
inline constexpr const char* kFusedAttentionLabel = "fused attention kernel (one launch)";

// The op the tracer records for the fused attention kernel: never a node of a graph.
inline constexpr const char* kAttentionModuleOp = "attention";
// The ops of attention's three operators, in data order.
inline constexpr const char* kAttentionScoresOp = "attention_scores";
inline constexpr const char* kAttentionSoftmaxOp = "attention_softmax";
inline constexpr const char* kAttentionValuesOp = "attention_values";

}  // namespace shardrt::dag
