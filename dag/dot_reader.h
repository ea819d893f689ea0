// Reads back the DOT files shardrt writes (docs/dag.md, "File format"): a digraph with graph,
// node and edge default statements, `cluster_gpuN` subgraphs (fused-kernel subgraphs nested in
// them), node and edge statements with quoted or bare attribute values. It is a reader of that
// subset, not of all of DOT: ports, HTML labels, string concatenation and subgraphs as edge
// ends are rejected as malformed.
#pragma once

#include <cstddef>
#include <istream>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace shardrt::dag {

using DotAttrs = std::map<std::string, std::string>;

struct DotNode {
  std::string id;
  DotAttrs attrs;       // its own attributes over the `node [...]` defaults in scope
  std::string cluster;  // the innermost enclosing `cluster...` subgraph; "" outside clusters
  int line = 0;         // where its statement starts
};

struct DotEdge {
  std::string from;
  std::string to;
  DotAttrs attrs;  // its own attributes over the `edge [...]` defaults in scope
  int line = 0;
};

struct DotCluster {
  std::string id;      // "cluster_gpu0"
  DotAttrs attrs;      // `label="GPU 0";` and `graph [...]` inside it
  int line = 0;        // where it is first opened
  std::string parent;  // the cluster it is first opened in (a fused kernel's GPU); "" for none
};

struct DotGraph {
  std::string name;
  DotAttrs attrs;  // `graph [...]` and `key=value;` at the top level
  // In file order. A node declared twice is listed twice: whoever checks the graph decides
  // whether that is an error (DOT itself would merge the two).
  std::vector<DotNode> nodes;
  std::vector<DotEdge> edges;  // `"a" -> "b" -> "c"` gives two edges
  // Subgraphs whose name starts with "cluster", in order of first appearance; reopening one
  // adds to its attributes.
  std::vector<DotCluster> clusters;
};

// Malformed input: line() is where the reader stopped making sense of it.
class DotParseError : public std::runtime_error {
 public:
  DotParseError(int line, const std::string& reason);
  int line() const { return line_; }
  const std::string& reason() const { return reason_; }

 private:
  int line_;
  std::string reason_;
};

// Limits on what readDot accepts (issue 7, hostile input), far above what shardrt writes (the
// 256-GPU DeepSeek-like example's graph is a few MB): a file past them is refused with one
// line, never read whole into memory, and `{{{{...` cannot recurse the parser off its stack.
inline constexpr std::size_t kMaxDotBytes = std::size_t{256} << 20;
inline constexpr std::size_t kMaxDotLineBytes = std::size_t{1} << 20;
inline constexpr int kMaxDotNesting = 64;                               // nested { } blocks
inline constexpr std::size_t kMaxDotStatements = std::size_t{1} << 24;  // nodes + edges
inline constexpr std::size_t kMaxDotAttributes = 256;  // on one node, edge or default list
// Bytes of attribute keys and values over all nodes and edges, defaults counted on each one
// they apply to: a 1 MB default label over millions of nodes would otherwise be terabytes.
inline constexpr std::size_t kMaxDotAttributeBytes = std::size_t{1} << 30;

// Quoted values come back decoded: `\n` (and DOT's `\l`, `\r`) as a newline, `\"` as a
// quote, `\\` as one backslash; any other backslash is kept as written. Throws DotParseError
// on an unterminated string, a missing `]` or `}`, a statement outside the subset, a line,
// nesting or statement count over the limits above, and std::runtime_error if the stream
// cannot be read or holds more than kMaxDotBytes.
DotGraph readDot(std::istream& in);

}  // namespace shardrt::dag
