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

}  // namespace
}  // namespace shardrt::dag
