// `shardrt dag check FILE.dot`: reads a deployment DAG back and checks it against the rules
// docs/dag.md gives for the graphs shardrt writes ("What `shardrt dag check` verifies"). Each
// violation names a stable rule:
//   graph-attrs       the graph states gpus >= 1, layers >= 1, experts >= 0
//   duplicate         no node id is declared twice
//   shape-by-kind     kind is compute/comm/route/input/output, shape box/ellipse/parallelogram
//   gpu-named         exactly one of gpu/gpus, valid, and the same GPUs on label line 2
//   gpu-cluster       a gpu node sits in cluster_gpuN (N = gpu), directly or in a fused
//                     kernel's group inside it; a gpus node outside clusters
//   clusters          one cluster per GPU 0..gpus-1, labelled "GPU N", and no other but fused
//                     kernels' groups directly inside them (kind="fused_kernel", labelled)
//   labels            line 1 names the op, the layer on line 2 matches `layer`, Input/Output
//                     lines where the kind or the edges need them, every dimension
//                     name=value or name=value (of global) with global > value; not how
//                     many Input lines (a writer may list equal input shapes once)
//   edge-kind         every edge is kind data or gate; gate edges dashed, data edges not
//   dims-chain        a data edge's target has an Input equal to one of its source's Outputs
//   cycle             no directed cycle (over data and gate edges)
//   dangling          every edge names declared nodes; every node but the input has a
//                     predecessor and every node but the output a successor
//   residual-inputs   a residual_add has data edges from two nodes or more
//   gate-edges        gate edges run from a topk node to an expert's op of the same layer and
//                     reach every expert 0..experts-1 in each MoE layer (one with a topk)
//   one-input-output  exactly one input node and one output node
//   all-layers        `layer` is in 0..layers-1 and every layer has nodes
//   all-experts       `expert` is in 0..experts-1 and each MoE layer has ops of every expert
//   operator-level    no node is attention as one op; attention's three operators sit in a
//                     fused kernel's group, one of each, chained (dag/operator_level_check.h)
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "dag/dot_reader.h"

namespace shardrt::dag {

struct DagViolation {
  std::string node;  // the node's id; "" for the graph as a whole
  std::string rule;
  std::string message;
  bool operator==(const DagViolation&) const = default;
};

// In a fixed order (rule by rule, nodes in file order) so that reports are reproducible.
// Linear in nodes + edges apart from sorting; no recursion, so graphs of any depth are safe.
std::vector<DagViolation> checkDag(const DotGraph& graph);

// Prints `PATH: node "ID": RULE: message` (or `PATH: graph: RULE: message`) per violation,
// then `PATH: N nodes, M edges, K violations` (or `..., OK`) on out. Returns 0 if the graph
// passes, 1 if it has violations, 2 if the file cannot be read or parsed (one line on err,
// naming the file and, for a parse error, the line).
int runDagCheck(const std::string& path, std::ostream& out, std::ostream& err);

}  // namespace shardrt::dag
