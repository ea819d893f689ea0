// The deployment DAG built from every rank's trace: the graph docs/dag.md describes and
// `shardrt dag check` (dag/dag_check.h) checks. Nodes are the ops that ran (one per rank and
// call), one node per collective or send/recv pair joining its members, split/concat/reshape
// nodes where an op read part of, or a re-shaped view of, what another wrote, and the model's
// one input and one output. Edges are data dependencies found from the addresses each op read
// and wrote, plus dashed gate edges from each MoE top-k to the experts it may route to. A fused
// kernel that is several operators (attention) is drawn as those operators in a group of their
// own inside the GPU's cluster (dag/fused_attention.h).
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

#include "runtime/trace_event.h"

namespace shardrt::dag {

struct GraphNode {
  std::string id;
  std::string kind;  // compute, comm, route, input, output (docs/dag.md)
  std::string op;    // linear, rmsnorm, all_reduce, split, ...
  std::string title;
  std::vector<int> gpus;  // one: the node sits in that GPU's cluster
  int layer = -1, expert = -1, microbatch = -1;
  std::vector<Shape> inputs, weights, outputs;
  double flops = 0.0;
  int fused_kernel = -1;  // index in DeploymentGraph::fused_kernels: drawn inside that group
};

// One launch drawn as several operator nodes: a DOT subgraph in its GPU's cluster, marked
// kind="fused_kernel" (dag/fused_kernel.h) so that `dag check` tells it from a GPU's cluster.
struct FusedKernel {
  std::string id;     // the subgraph's name, "cluster_..." so that Graphviz draws its box
  std::string label;  // "fused attention kernel (one launch)"
};

struct GraphEdge {
  int from, to;
  bool gate = false;  // dashed: a top-k may route tokens to this expert
};

struct GraphInfo {
  std::string name;   // the graph's (deployment or strategy) name
  std::string title;  // one line: model, strategy, how it was traced
  int gpus = 0, layers = 0, experts = 0;
  int microbatches = 1;  // labels name the microbatch when there are several
};

struct DeploymentGraph {
  GraphInfo info;
  std::vector<GraphNode> nodes;
  std::vector<GraphEdge> edges;
  std::vector<FusedKernel> fused_kernels;
};

// Every rank's events (bookkeeping records included), in any order.
DeploymentGraph buildDeploymentGraph(std::vector<TraceEvent> events, const GraphInfo& info);

// The graph in shardrt's DOT conventions (docs/dag.md); byte-identical for equal graphs.
void writeDot(const DeploymentGraph& graph, std::ostream& out);

// Per GPU: compute nodes, FLOPs and the bytes of the weights its ops read, with max/mean.
struct GpuLoad {
  int gpu = 0;
  long compute_nodes = 0;
  double flops = 0.0, weight_bytes = 0.0;
};
std::vector<GpuLoad> gpuLoads(const DeploymentGraph& graph, const std::vector<TraceEvent>& events);

}  // namespace shardrt::dag
