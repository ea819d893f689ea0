// Attention as the deployment graph draws it. The executor runs attention as one fused kernel
// (one launch: Q·K^T, the scale, the mask, softmax and ·V, the seq_len x seq_len scores never
// leaving the chip), and the tracer records that one call (op "attention"). Rule 3 of
// ../shared/spec/dag.md says a module of several operations is never one node, so the graph
// draws the call as its three operators, each with its own named dimensions, inside a group
// labelled as the one launch they are:
//   Q·K^T / sqrt(d_k)  q [batch_size, seq_len, heads, d_k], k [batch_size, seq_len, kv_heads, d_k]
//                      -> scores [batch_size, heads, seq_len, seq_len]
//   mask + softmax     scores -> probabilities of the same shape (the causal mask if causal)
//   probs·V            probs, v [batch_size, seq_len, kv_heads, d_k]
//                      -> [batch_size, seq_len, heads, d_k]
// The timeline (dag/trace_timeline.h) keeps the one op: only the kernel as a whole was timed.
#pragma once

#include "dag/deployment_graph.h"
#include "dag/fused_kernel.h"

namespace shardrt::dag {

struct AttentionOperators {
  GraphNode scores, softmax, values;
};

// The three operators of the recorded attention call `event` (inputs q, k, v; output the
// attention's result). `kernel` is the node the call would be drawn as (its id, GPU, layer and
// microbatch): the operators take its id with a suffix, so the ids of every other node are
// those of a graph that drew attention as one node. The call's FLOPs are split between the two
// products; each GPU's total (dags.json's load index) stays the call's.
AttentionOperators attentionOperators(const GraphNode& kernel, const TraceEvent& event);

// Generation's attention over the KV cache (op "cached_attention": inputs q [tokens, seq_len=1,
// heads, d_k], the layer's k and v caches [sequences, context, kv_heads, d_k], each token's
// sequence and position [tokens]; one output like q), as five operators:
//   read keys      k cache, sequence, position -> [tokens, context, kv_heads, d_k]: each
//                  token's row of its sequence's cache (positions past its own are masked next)
//   Q·K^T / sqrt(d_k)  q, keys -> scores [tokens, heads, context]
//   mask + softmax     scores -> probabilities; the title says how many scores the mask leaves
//                      (the tokens' visible keys, times heads: the FLOPs' count, not padding)
//   read values    v cache, sequence, position -> [tokens, context, kv_heads, d_k]
//   probs·V        probs, values -> the call's output
// The reads are drawn as routing (a gather by sequence); a real kernel reads the visible rows
// only, never materialising [tokens, context, ...]: the shape is the logical one, as the
// scores' is in attentionOperators.
struct CachedAttentionOperators {
  GraphNode read_keys, scores, softmax, read_values, values;
};
CachedAttentionOperators cachedAttentionOperators(const GraphNode& kernel, const TraceEvent& event);

}  // namespace shardrt::dag
