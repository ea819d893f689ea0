// The names a graph uses for a fused kernel drawn as its operators (docs/dag.md, "Fused
// kernels"), shared by the writer (dag/fused_attention.h) and `shardrt dag check`, which needs
// nothing else of the graph builder.
#pragma once

namespace shardrt::dag {

// The DOT subgraph of one launch, nested in its GPU's cluster, carries kind="fused_kernel".
inline constexpr const char* kFusedKernelKind = "fused_kernel";
inline constexpr const char* kFusedAttentionLabel = "fused attention kernel (one launch)";
inline constexpr const char* kFusedCachedAttentionLabel =
    "fused attention kernel over the KV cache (one launch)";

// The op the tracer records for the fused attention kernel: never a node of a graph.
inline constexpr const char* kAttentionModuleOp = "attention";
// The ops of attention's three operators, in data order.
inline constexpr const char* kAttentionScoresOp = "attention_scores";
inline constexpr const char* kAttentionSoftmaxOp = "attention_softmax";
inline constexpr const char* kAttentionValuesOp = "attention_values";

// Generation's attention over the KV cache (Backend::cachedAttention): one launch too, drawn as
// the same three operators after the two reads of the cache it makes, one for the keys (into
// the scores) and one for the values (into the last product).
inline constexpr const char* kCachedAttentionModuleOp = "cached_attention";
inline constexpr const char* kCacheReadOp = "kv_cache_read";

}  // namespace shardrt::dag
