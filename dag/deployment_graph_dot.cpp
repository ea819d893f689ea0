// writeDot and gpuLoads: the DOT text of a DeploymentGraph (docs/dag.md) and its load table.
#include <algorithm>
#include <map>
#include <ostream>
#include <set>

#include "dag/deployment_graph.h"
#include "dag/fused_kernel.h"

namespace shardrt::dag {
namespace {

std::string quoted(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out + "\"";
}

std::string joined(const std::vector<int>& gpus) {
  std::string s;
  for (std::size_t i = 0; i < gpus.size(); ++i) {
    if (i) s += ',';
    s += std::to_string(gpus[i]);
  }
  return s;
}

std::string gpuLine(const GraphNode& n, int microbatches) {
  std::string s =
      n.gpus.size() == 1 ? "GPU " + std::to_string(n.gpus[0]) : "GPUs " + joined(n.gpus);
  if (n.layer >= 0) s += " . layer " + std::to_string(n.layer);
  if (microbatches > 1 && n.microbatch >= 0) s += " . microbatch " + std::to_string(n.microbatch);
  return s;
}

std::string label(const GraphNode& n, int microbatches) {
  std::string s = n.title + "\n" + gpuLine(n, microbatches);
  for (const auto& x : n.inputs) s += "\nInput: " + x.str();
  for (const auto& x : n.weights) s += "\nWeight: " + x.str();
  for (const auto& x : n.outputs) s += "\nOutput: " + x.str();
  return s;
}

// A collective or send/recv of several GPUs stands outside the clusters, between them (rule 5
// of ../shared/spec/dag.md), but dot may order it anywhere on its rank: with plain edges it put
// some at the far side of the picture, e.g. a shared expert's tp all-reduce of GPUs 0 and 1
// right of GPU 3's cluster (28 collectives in 7 of the 35 graphs of the dag.* tests beyond the
// box of the clusters they join, Graphviz 2.43). Weight is dot's lever for keeping an edge
// short and straight; on the edges joining a collective to its members' ops it pulls the node
// towards all its members at once, so between them: none left the box at weight 5 or more, and
// 10 leaves a margin (tests/cli/dag_layout.py checks the SVG of every dag.* graph). `group` was not
// used because it aligns a node with one column, and same-rank ordering constraints would need
// the members' ops on the collective's own rank.
constexpr int kCollectiveEdgeWeight = 10;

bool joinsSeveralGpus(const GraphNode& n) { return n.kind == "comm" && n.gpus.size() > 1; }

const char* shapeOf(const std::string& kind) {
  if (kind == "comm") return "ellipse";
  if (kind == "route") return "parallelogram";
  return "box";
}

void writeNode(const GraphNode& n, int microbatches, const char* indent, std::ostream& out) {
  out << indent << quoted(n.id) << " [shape=" << shapeOf(n.kind) << ", kind=" << quoted(n.kind)
      << ", op=" << quoted(n.op);
  if (n.gpus.size() == 1) {
    out << ", gpu=" << quoted(std::to_string(n.gpus[0]));
  } else {
    out << ", gpus=" << quoted(joined(n.gpus));
  }
  if (n.layer >= 0) out << ", layer=" << quoted(std::to_string(n.layer));
  if (n.expert >= 0) out << ", expert=" << quoted(std::to_string(n.expert));
  if (n.kind == "input" || n.kind == "output") out << ", style=\"bold\"";
  out << ", label=" << quoted(label(n, microbatches)) << "];\n";
}

// A GPU's nodes in graph order; the operators of a fused kernel together, in a subgraph of
// their own at the place of the first (a box inside the GPU's box, labelled as one launch).
void writeClusterNodes(const DeploymentGraph& g, const std::vector<int>& nodes, std::ostream& out) {
  std::map<int, std::vector<int>> by_kernel;
  for (int i : nodes) {
    if (g.nodes[i].fused_kernel >= 0) by_kernel[g.nodes[i].fused_kernel].push_back(i);
  }
  for (int i : nodes) {
    const int kernel = g.nodes[i].fused_kernel;
    if (kernel < 0) {
      writeNode(g.nodes[i], g.info.microbatches, "    ", out);
      continue;
    }
    const auto members = by_kernel.find(kernel);
    if (members == by_kernel.end()) continue;  // written with the kernel's first operator
    const FusedKernel& k = g.fused_kernels.at(kernel);
    out << "    subgraph " << quoted(k.id) << " {\n";
    out << "      label=" << quoted(k.label) << ";\n";
    out << "      kind=" << quoted(kFusedKernelKind) << ";\n";
    out << "      style=\"dashed\";\n";
    for (int m : members->second) writeNode(g.nodes[m], g.info.microbatches, "      ", out);
    out << "    }\n";
    by_kernel.erase(members);
  }
}

}  // namespace

void writeDot(const DeploymentGraph& g, std::ostream& out) {
  const GraphInfo& info = g.info;
  out << "digraph " << quoted(info.name) << " {\n";
  out << "  graph [label=" << quoted(info.title)
      << ", labelloc=t, gpus=" << quoted(std::to_string(info.gpus))
      << ", layers=" << quoted(std::to_string(info.layers))
      << ", experts=" << quoted(std::to_string(info.experts))
      << ", fontname=\"Helvetica\", rankdir=TB, newrank=true];\n";
  out << "  node [fontname=\"Helvetica\", fontsize=10];\n";
  out << "  edge [arrowsize=0.6];\n";
  std::map<int, std::vector<int>> by_gpu;  // single-GPU nodes, by cluster
  for (std::size_t i = 0; i < g.nodes.size(); ++i) {
    if (g.nodes[i].gpus.size() == 1) by_gpu[g.nodes[i].gpus[0]].push_back(static_cast<int>(i));
  }
  for (int gpu = 0; gpu < info.gpus; ++gpu) {
    out << "  subgraph " << quoted("cluster_gpu" + std::to_string(gpu)) << " {\n";
    out << "    label=" << quoted("GPU " + std::to_string(gpu)) << ";\n";
    writeClusterNodes(g, by_gpu[gpu], out);
    out << "  }\n";
  }
  for (const auto& n : g.nodes) {
    if (n.gpus.size() != 1) writeNode(n, info.microbatches, "  ", out);
  }
  for (const auto& e : g.edges) {
    const GraphNode& from = g.nodes[e.from];
    const GraphNode& to = g.nodes[e.to];
    out << "  " << quoted(from.id) << " -> " << quoted(to.id);
    if (e.gate) {
      out << " [kind=\"gate\", style=\"dashed\"];\n";
    } else if (joinsSeveralGpus(from) || joinsSeveralGpus(to)) {
      out << " [kind=\"data\", weight=" << kCollectiveEdgeWeight << "];\n";
    } else {
      out << " [kind=\"data\"];\n";
    }
  }
  out << "}\n";
}

std::vector<GpuLoad> gpuLoads(const DeploymentGraph& g, const std::vector<TraceEvent>& events) {
  std::vector<GpuLoad> loads(g.info.gpus);
  for (int i = 0; i < g.info.gpus; ++i) loads[i].gpu = i;
  for (const auto& n : g.nodes) {
    if (n.kind != "compute" || n.gpus.size() != 1 || n.gpus[0] >= g.info.gpus) continue;
    ++loads[n.gpus[0]].compute_nodes;
    loads[n.gpus[0]].flops += n.flops;
  }
  std::set<std::pair<int, std::uint64_t>> counted;  // each weight once per GPU
  for (const auto& e : events) {
    if (e.rank >= g.info.gpus) continue;
    for (const auto& w : e.weights) {
      if (counted.emplace(e.rank, w.address).second) {
        loads[e.rank].weight_bytes += static_cast<double>(w.bytes);
      }
    }
  }
  return loads;
}

}  // namespace shardrt::dag
