// writeDot and gpuLoads: the DOT text of a DeploymentGraph (docs/dag.md) and its load table.
#include <algorithm>
#include <map>
#include <ostream>
#include <set>

#include "dag/deployment_graph.h"

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
    for (int i : by_gpu[gpu]) writeNode(g.nodes[i], info.microbatches, "    ", out);
    out << "  }\n";
  }
  for (const auto& n : g.nodes) {
    if (n.gpus.size() != 1) writeNode(n, info.microbatches, "  ", out);
  }
  for (const auto& e : g.edges) {
    out << "  " << quoted(g.nodes[e.from].id) << " -> " << quoted(g.nodes[e.to].id)
        << (e.gate ? " [kind=\"gate\", style=\"dashed\"];\n" : " [kind=\"data\"];\n");
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
