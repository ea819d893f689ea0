// The deployment graph as SVG, in bounded time. Graphviz's dot lays out a few thousand nodes
// in seconds but 12,000 in about a minute on a 2-core machine (issue 5's measurements), so
// graphs up to kDotNodeLimit nodes go to `dot -Tsvg` (under a time limit), and larger ones,
// or any dot cannot finish, get shardrt's own layered drawing: one column per GPU cluster
// with its ops top to bottom in the order they ran, the multi-GPU nodes in a column of their
// own, edges as straight lines (left out past kSvgEdgeLimit, where the DOT still has them).
#pragma once

#include <string>

#include "dag/deployment_graph.h"

namespace shardrt::dag {

inline constexpr std::size_t kDotNodeLimit = 3000;
inline constexpr int kDotSeconds = 120;
inline constexpr std::size_t kSvgEdgeLimit = 50000;

// Writes svg_path; returns how (for dags.json): "dot" or "shardrt-layered (...why...)".
std::string renderSvg(const DeploymentGraph& graph, const std::string& dot_path,
                      const std::string& svg_path);

// The layered drawing alone.
void writeLayeredSvg(const DeploymentGraph& graph, const std::string& svg_path);

}  // namespace shardrt::dag
