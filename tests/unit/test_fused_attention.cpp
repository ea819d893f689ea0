// Attention in the deployment graph and on the timeline (issue 16, item 5): the one fused call
// the tracer records is drawn as three operators (Q·K^T, mask + softmax, ·V) in a group inside
// its GPU's cluster, with their own dimensions and the call's FLOPs split between them, and the
// graph written passes `dag check`; the timeline keeps the call as one timed slice.
#include <gtest/gtest.h>

#include <algorithm>
#include <sstream>
#include <string>
#include <vector>

#include "dag/dag_check.h"
#include "dag/deployment_graph.h"
#include "dag/dot_reader.h"
#include "dag/fused_kernel.h"
#include "dag/trace_timeline.h"
#include "runtime/tracer.h"

namespace shardrt::dag {
namespace {

constexpr double kAttentionFlops = 1000.0;
constexpr double kProjectionFlops = 64.0;

const Shape kHidden{{"batch_size", 2}, {"seq_len", 4}, {"hidden", 8}};
const Shape kQ{{"batch_size", 2}, {"seq_len", 4}, {"heads", 2, 4}, {"d_k", 4}};
const Shape kKv{{"batch_size", 2}, {"seq_len", 4}, {"kv_heads", 1, 2}, {"d_k", 4}};

// Tensors at distinct addresses, 4 bytes an element.
TensorRef at(std::uint64_t address, const Shape& shape) {
  return {address, static_cast<std::uint64_t>(shape.numel()) * 4, shape};
}

TraceEvent op(long seq, const char* name, const char* kind_op, std::vector<TensorRef> in,
              std::vector<TensorRef> out, double flops) {
  TraceEvent e;
  e.seq = seq;
  e.op = kind_op;
  e.name = name;
  e.layer =
      std::string(kind_op) == kOpModelInput || std::string(kind_op) == kOpModelOutput ? -1 : 0;
  e.inputs = std::move(in);
  e.outputs = std::move(out);
  e.flops = flops;
  e.start_us = static_cast<double>(seq);
  e.end_us = seq + 1.0;
  return e;
}

// One GPU, one layer: x -> q/k/v projections -> attention -> model output.
std::vector<TraceEvent> oneAttention(const std::string& mask) {
  const TensorRef x = at(0x1000, kHidden), q = at(0x2000, kQ), k = at(0x3000, kKv),
                  v = at(0x4000, kKv), out = at(0x5000, kQ);
  std::vector<TraceEvent> events = {
      op(0, kOpModelInput, kOpModelInput, {}, {x}, 0),
      op(1, "q_proj", "linear", {x}, {q}, kProjectionFlops),
      op(2, "k_proj", "linear", {x}, {k}, kProjectionFlops),
      op(3, "v_proj", "linear", {x}, {v}, kProjectionFlops),
      op(4, "attention", kAttentionModuleOp, {q, k, v}, {out}, kAttentionFlops),
      op(5, kOpModelOutput, kOpModelOutput, {out}, {}, 0)};
  events[4].mask = mask;
  return events;
}

GraphInfo oneGpu() {
  GraphInfo info;
  info.name = "one-attention";
  info.title = "one attention";
  info.gpus = 1;
  info.layers = 1;
  return info;
}

const GraphNode& nodeWithOp(const DeploymentGraph& g, const std::string& op) {
  const auto it =
      std::find_if(g.nodes.begin(), g.nodes.end(), [&](const GraphNode& n) { return n.op == op; });
  if (it == g.nodes.end()) throw std::runtime_error("no node with op " + op);
  return *it;
}

bool hasEdge(const DeploymentGraph& g, const GraphNode& from, const GraphNode& to) {
  return std::any_of(g.edges.begin(), g.edges.end(), [&](const GraphEdge& e) {
    return &g.nodes[e.from] == &from && &g.nodes[e.to] == &to && !e.gate;
  });
}

std::string dotOf(const DeploymentGraph& g) {
  std::ostringstream out;
  writeDot(g, out);
  return out.str();
}

TEST(FusedAttention, DrawnAsThreeOperatorsWithTheirOwnDimensions) {
  const DeploymentGraph g = buildDeploymentGraph(oneAttention("causal"), oneGpu());
  EXPECT_TRUE(std::none_of(g.nodes.begin(), g.nodes.end(),
                           [](const GraphNode& n) { return n.op == kAttentionModuleOp; }));
  const GraphNode& scores = nodeWithOp(g, kAttentionScoresOp);
  const GraphNode& softmax = nodeWithOp(g, kAttentionSoftmaxOp);
  const GraphNode& values = nodeWithOp(g, kAttentionValuesOp);
  const Shape probs{{"batch_size", 2}, {"heads", 2, 4}, {"seq_len", 4}, {"seq_len", 4}};
  EXPECT_EQ(scores.inputs, (std::vector<Shape>{kQ, kKv}));
  EXPECT_EQ(scores.outputs, std::vector<Shape>{probs});
  EXPECT_EQ(probs.str(), "[batch_size=2, heads=2 (of 4), seq_len=4, seq_len=4]");
  EXPECT_EQ(softmax.inputs, std::vector<Shape>{probs});
  EXPECT_EQ(softmax.outputs, std::vector<Shape>{probs});
  EXPECT_EQ(values.inputs, (std::vector<Shape>{probs, kKv}));
  EXPECT_EQ(values.outputs, std::vector<Shape>{kQ});
  EXPECT_EQ(scores.title, "attention Q·K^T / sqrt(d_k)");
  EXPECT_EQ(softmax.title, "attention causal mask + softmax");
  EXPECT_EQ(values.title, "attention probs·V");

  EXPECT_TRUE(hasEdge(g, nodeWithOp(g, "linear"), scores)) << "q_proj feeds Q·K^T";
  EXPECT_TRUE(hasEdge(g, scores, softmax));
  EXPECT_TRUE(hasEdge(g, softmax, values));
  // This GPU holds 2 of the 4 heads: its result reaches the model output through a concat.
  EXPECT_TRUE(hasEdge(g, values, nodeWithOp(g, "concat")));

  ASSERT_EQ(g.fused_kernels.size(), 1u);
  EXPECT_EQ(g.fused_kernels[0].label, kFusedAttentionLabel);
  for (const GraphNode* n : {&scores, &softmax, &values}) EXPECT_EQ(n->fused_kernel, 0);
}

TEST(FusedAttention, SoftmaxSaysWhenThereIsNoMask) {
  const DeploymentGraph g = buildDeploymentGraph(oneAttention(""), oneGpu());
  EXPECT_EQ(nodeWithOp(g, kAttentionSoftmaxOp).title, "attention softmax (no mask)");
}

// The load index (rule 16) sums compute nodes' FLOPs per GPU: the split keeps the call's total.
TEST(FusedAttention, FlopsSplitBetweenTheProductsKeepTheGpusTotal) {
  const std::vector<TraceEvent> events = oneAttention("causal");
  const DeploymentGraph g = buildDeploymentGraph(events, oneGpu());
  EXPECT_EQ(nodeWithOp(g, kAttentionScoresOp).flops, kAttentionFlops / 2);
  EXPECT_EQ(nodeWithOp(g, kAttentionSoftmaxOp).flops, 0.0);
  EXPECT_EQ(nodeWithOp(g, kAttentionValuesOp).flops, kAttentionFlops / 2);
  const std::vector<GpuLoad> loads = gpuLoads(g, events);
  ASSERT_EQ(loads.size(), 1u);
  EXPECT_EQ(loads[0].flops, kAttentionFlops + 3 * kProjectionFlops);
}

// The group sits in the GPU's cluster, the file passes every rule, and it is deterministic.
TEST(FusedAttention, DotNestsTheGroupInTheGpuClusterAndPassesTheCheck) {
  const std::string dot = dotOf(buildDeploymentGraph(oneAttention("causal"), oneGpu()));
  EXPECT_EQ(dot, dotOf(buildDeploymentGraph(oneAttention("causal"), oneGpu())));
  std::istringstream in(dot);
  const DotGraph read = readDot(in);
  ASSERT_EQ(read.clusters.size(), 2u) << dot;
  EXPECT_EQ(read.clusters[1].parent, "cluster_gpu0");
  EXPECT_EQ(read.clusters[1].attrs.at("kind"), kFusedKernelKind);
  EXPECT_EQ(read.clusters[1].attrs.at("label"), kFusedAttentionLabel);
  const auto violations = checkDag(read);
  for (const DagViolation& v : violations)
    ADD_FAILURE() << v.node << ": " << v.rule << ": " << v.message;
}

// The kernel ran as one launch and was timed as one: one slice, with the call's FLOPs.
TEST(FusedAttention, TimelineKeepsOneTimedSlice) {
  const nlohmann::json trace = chromeTrace(oneAttention("causal"), {"meta", 1, "t"});
  std::vector<nlohmann::json> attention;
  for (const auto& e : trace["traceEvents"]) {
    if (e["ph"] == "X" && e["args"]["op"] == kAttentionModuleOp) attention.push_back(e);
  }
  ASSERT_EQ(attention.size(), 1u);
  EXPECT_EQ(attention[0]["dur"], 1.0);
  EXPECT_EQ(attention[0]["args"]["flops"], kAttentionFlops);
  EXPECT_EQ(attention[0]["args"]["mask"], "causal");
}

// ---- Attention over the KV cache (issue 17, item 7) ------------------------------------------

// A decode step of 3 tokens over a cache of 2 sequences x 8 positions; 2 of 4 heads, 1 of 2 kv
// heads. The executor counts 4 * d_k FLOPs per query head and visible key: 5 keys visible to
// the 3 tokens over the 2 heads gives 10 of 3 * 2 * 8 = 48 scores.
const Shape kTokenQ{{"tokens", 3}, {"seq_len", 1}, {"heads", 2, 4}, {"d_k", 4}};
const Shape kTokenKv{{"tokens", 3}, {"seq_len", 1}, {"kv_heads", 1, 2}, {"d_k", 4}};
const Shape kCache{{"sequences", 2}, {"context", 8}, {"kv_heads", 1, 2}, {"d_k", 4}};
const Shape kTokens{{"tokens", 3}};
const Shape kTokenHidden{{"tokens", 3}, {"seq_len", 1}, {"hidden", 8}};
constexpr double kVisibleScores = 10.0;

// The step's positions, sequences and cache slots come from the host: read, not drawn as edges.
std::vector<TraceEvent> oneCachedAttention() {
  const TensorRef x = at(0x1000, kTokenHidden), q = at(0x2000, kTokenQ), k = at(0x3000, kTokenKv),
                  v = at(0x4000, kTokenKv), seq = at(0x6000, kTokens), pos = at(0x7000, kTokens),
                  slot = at(0x8000, kTokens), k_cache = at(0x10000, kCache),
                  v_cache = at(0x20000, kCache), out = at(0x5000, kTokenQ);
  const double flops = 4.0 * 4 * kVisibleScores;
  std::vector<TraceEvent> events = {
      op(0, kOpModelInput, kOpModelInput, {}, {x}, 0),
      op(1, "q_proj", "linear", {x}, {q}, kProjectionFlops),
      op(2, "k_proj", "linear", {x}, {k}, kProjectionFlops),
      op(3, "v_proj", "linear", {x}, {v}, kProjectionFlops),
      op(4, "k_cache_write", "kv_cache_write", {k, slot}, {k_cache}, 0),
      op(5, "v_cache_write", "kv_cache_write", {v, slot}, {v_cache}, 0),
      op(6, "attention", kCachedAttentionModuleOp, {q, k_cache, v_cache, seq, pos}, {out}, flops),
      op(7, kOpModelOutput, kOpModelOutput, {out}, {}, 0)};
  events[4].kind = events[5].kind = OpKind::Route;
  events[6].mask = "causal-by-position";
  return events;
}

TEST(FusedCachedAttention, DrawnAsTwoCacheReadsAndTheThreeOperators) {
  const DeploymentGraph g = buildDeploymentGraph(oneCachedAttention(), oneGpu());
  EXPECT_TRUE(std::none_of(g.nodes.begin(), g.nodes.end(),
                           [](const GraphNode& n) { return n.op == kCachedAttentionModuleOp; }));
  std::vector<const GraphNode*> reads;
  for (const GraphNode& n : g.nodes) {
    if (n.op == kCacheReadOp) reads.push_back(&n);
  }
  ASSERT_EQ(reads.size(), 2u);
  const GraphNode& keys = *reads[0];
  const GraphNode& values_read = *reads[1];
  const GraphNode& scores = nodeWithOp(g, kAttentionScoresOp);
  const GraphNode& softmax = nodeWithOp(g, kAttentionSoftmaxOp);
  const GraphNode& values = nodeWithOp(g, kAttentionValuesOp);
  const Shape gathered{{"tokens", 3}, {"context", 8}, {"kv_heads", 1, 2}, {"d_k", 4}};
  const Shape probs{{"tokens", 3}, {"heads", 2, 4}, {"context", 8}};
  EXPECT_EQ(keys.kind, "route");
  EXPECT_EQ(keys.inputs, (std::vector<Shape>{kCache, kTokens, kTokens}));
  EXPECT_EQ(keys.outputs, std::vector<Shape>{gathered});
  EXPECT_EQ(values_read.inputs, (std::vector<Shape>{kCache, kTokens, kTokens}));
  EXPECT_EQ(scores.inputs, (std::vector<Shape>{kTokenQ, gathered}));
  EXPECT_EQ(scores.outputs, std::vector<Shape>{probs});
  EXPECT_EQ(values.inputs, (std::vector<Shape>{probs, gathered}));
  EXPECT_EQ(values.outputs, std::vector<Shape>{kTokenQ});
  EXPECT_EQ(keys.title, "attention read keys from the k cache");
  EXPECT_EQ(softmax.title, "attention causal-by-position mask + softmax (10 of 48 scores visible)");

  // The cache writes feed the reads; the reads feed the products they serve.
  const auto writer = [&](const char* title) -> const GraphNode& {
    for (const GraphNode& n : g.nodes) {
      if (n.title.rfind(title, 0) == 0) return n;
    }
    throw std::runtime_error(std::string("no node ") + title);
  };
  EXPECT_TRUE(hasEdge(g, writer("k_cache_write"), keys));
  EXPECT_TRUE(hasEdge(g, writer("v_cache_write"), values_read));
  EXPECT_TRUE(hasEdge(g, keys, scores));
  EXPECT_TRUE(hasEdge(g, scores, softmax));
  EXPECT_TRUE(hasEdge(g, softmax, values));
  EXPECT_TRUE(hasEdge(g, values_read, values));
  EXPECT_FALSE(hasEdge(g, keys, values));
  EXPECT_EQ(scores.flops + values.flops, 4.0 * 4 * kVisibleScores);

  ASSERT_EQ(g.fused_kernels.size(), 1u);
  EXPECT_EQ(g.fused_kernels[0].label, kFusedCachedAttentionLabel);
  for (const GraphNode* n : {&keys, &values_read, &scores, &softmax, &values})
    EXPECT_EQ(n->fused_kernel, 0);
}

// The graph passes every rule; without the read of the values `dag check` names the group.
TEST(FusedCachedAttention, DagCheckWantsBothReadsOfTheCache) {
  const std::string dot = dotOf(buildDeploymentGraph(oneCachedAttention(), oneGpu()));
  {
    std::istringstream in(dot);
    for (const DagViolation& v : checkDag(readDot(in)))
      ADD_FAILURE() << v.node << ": " << v.rule << ": " << v.message;
  }
  // The values' read re-labelled as a second read of the keys, into the scores.
  std::string broken = dot;
  const std::string edge = " -> \"r0_5_v\" [kind=\"data\"";
  const auto from = broken.find("\"r0_5_vread\"" + edge);
  ASSERT_NE(from, std::string::npos) << dot;
  broken.replace(from, std::string("\"r0_5_vread\"" + edge).size(),
                 "\"r0_5_vread\" -> \"r0_5_qk\" [kind=\"data\"");
  std::istringstream in(broken);
  const auto violations = checkDag(readDot(in));
  const auto it = std::find_if(violations.begin(), violations.end(),
                               [](const DagViolation& v) { return v.rule == "operator-level"; });
  ASSERT_NE(it, violations.end());
  EXPECT_EQ(it->node, "r0_5_k");
  EXPECT_EQ(it->message,
            "the group \"cluster_r0_5\" holds 2 kv_cache_read, 2 into \"r0_5_qk\" and 0 into "
            "\"r0_5_v\"; attention over a cache reads it twice: the keys into the scores, the "
            "values into attention_values");
}

// The timeline marks each generation round on a track of its own.
TEST(FusedCachedAttention, TimelineMarksEachRound) {
  std::vector<TraceEvent> events = oneCachedAttention();
  std::vector<TraceEvent> next = oneCachedAttention();
  for (TraceEvent& e : events) e.round = 0;
  for (TraceEvent& e : next) {
    e.round = 1;
    e.seq += 10;
    e.start_us += 10;
    e.end_us += 10;
  }
  events.insert(events.end(), next.begin(), next.end());
  const nlohmann::json trace = chromeTrace(events, {"meta", 1, "t"});
  std::vector<nlohmann::json> rounds;
  for (const auto& e : trace["traceEvents"]) {
    if (e["ph"] == "X" && e["cat"] == "user_annotation") rounds.push_back(e);
  }
  ASSERT_EQ(rounds.size(), 2u) << trace.dump();
  EXPECT_EQ(rounds[0]["name"], "prefill");
  EXPECT_EQ(rounds[1]["name"], "decode step 1");
  // From the round's first op's start to its last op's end (bookkeeping records left out).
  EXPECT_EQ(rounds[0]["ts"], 1.0);
  EXPECT_EQ(rounds[0]["dur"], 6.0);
  EXPECT_EQ(rounds[1]["ts"], 11.0);
  EXPECT_EQ(rounds[1]["args"]["round"], 1);
}

}  // namespace
}  // namespace shardrt::dag
