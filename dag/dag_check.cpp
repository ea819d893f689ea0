#include "dag/dag_check.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "dag/fused_kernel.h"
#include "dag/operator_level_check.h"

namespace shardrt::dag {
namespace {

constexpr long kAbsent = -1;  // an index attribute that is not there
constexpr long kBad = -2;     // one that is there but is no index

std::string_view trim(std::string_view s) {
  const auto first = s.find_first_not_of(" \t\r");
  if (first == std::string_view::npos) return {};
  return s.substr(first, s.find_last_not_of(" \t\r") - first + 1);
}

// Digits only: a sign or a fraction in a GPU, layer or dimension is a writer's bug.
std::optional<long> parseIndex(std::string_view s) {
  if (s.empty() || s.size() > 15) return std::nullopt;
  long value = 0;
  for (const char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + (c - '0');
  }
  return value;
}

std::optional<std::vector<long>> parseIndexList(std::string_view s) {
  std::vector<long> out;
  while (true) {
    const auto comma = s.find(',');
    const auto value = parseIndex(trim(s.substr(0, comma)));
    if (!value) return std::nullopt;
    out.push_back(*value);
    if (comma == std::string_view::npos) return out;
    s.remove_prefix(comma + 1);
  }
}

const std::string* findAttr(const DotAttrs& attrs, const std::string& key) {
  const auto it = attrs.find(key);
  return it == attrs.end() ? nullptr : &it->second;
}

std::string attrOr(const DotAttrs& attrs, const std::string& key) {
  const std::string* value = findAttr(attrs, key);
  return value ? *value : std::string();
}

long indexAttr(const DotAttrs& attrs, const std::string& key) {
  const std::string* text = findAttr(attrs, key);
  if (!text) return kAbsent;
  return parseIndex(*text).value_or(kBad);
}

std::string inQuotes(std::string_view s) { return "\"" + std::string(s) + "\""; }

// "0-2, 5" for {0, 1, 2, 5}.
std::string ranges(const std::vector<long>& sorted) {
  std::string out;
  for (std::size_t i = 0; i < sorted.size();) {
    std::size_t j = i;
    while (j + 1 < sorted.size() && sorted[j + 1] == sorted[j] + 1) ++j;
    if (!out.empty()) out += ", ";
    out += std::to_string(sorted[i]);
    if (j > i) out += "-" + std::to_string(sorted[j]);
    i = j + 1;
  }
  return out;
}

std::vector<long> missingIndices(const std::vector<char>& seen) {
  std::vector<long> missing;
  for (std::size_t i = 0; i < seen.size(); ++i) {
    if (!seen[i]) missing.push_back(static_cast<long>(i));
  }
  return missing;
}

// ---- Labels -------------------------------------------------------------------------------

bool validDimName(std::string_view name) {
  return !name.empty() && name.find_first_of(" \t[](),=") == std::string_view::npos;
}

// One `name=value` or `name=value (of global)`, appended to canon in a form where equal
// dimensions compare equal whatever the spacing. Returns what is wrong, or "".
std::string parseDim(std::string_view dim, std::string& canon) {
  const auto bad = [dim](const char* what) { return "dimension " + inQuotes(dim) + " " + what; };
  const auto eq = dim.find('=');
  if (eq == std::string_view::npos) return bad("is not name=value");
  const std::string_view name = trim(dim.substr(0, eq));
  if (!validDimName(name)) return bad("has no valid name");
  const std::string_view rest = trim(dim.substr(eq + 1));
  const auto space = rest.find(' ');
  const auto value = parseIndex(rest.substr(0, space));
  if (!value) return bad("has no integer value");
  long global = *value;
  if (space != std::string_view::npos) {
    const std::string_view of = trim(rest.substr(space));
    const bool framed = of.starts_with("(of ") && of.ends_with(")");
    const auto whole = framed ? parseIndex(of.substr(4, of.size() - 5)) : std::nullopt;
    if (!whole) return bad("is not name=value or name=value (of global)");
    // `labels`: "(of G)" marks a slice, so the whole must be larger than the part.
    if (*whole <= *value) return bad("names a global size no larger than the local one");
    global = *whole;
  }
  canon.append(name).append("=").append(std::to_string(*value));
  canon.append("/").append(std::to_string(global)).append(";");
  return {};
}

std::string parseShape(std::string_view text, std::string& canon) {
  text = trim(text);
  if (text.size() < 2 || text.front() != '[' || text.back() != ']') {
    return "is not a [dimension, ...] list";
  }
  std::string_view body = text.substr(1, text.size() - 2);
  if (trim(body).empty()) return "lists no dimensions";
  canon.clear();
  while (true) {
    const auto comma = body.find(',');
    const std::string error = parseDim(trim(body.substr(0, comma)), canon);
    if (!error.empty()) return error;
    if (comma == std::string_view::npos) return {};
    body.remove_prefix(comma + 1);
  }
}

struct ShapeLine {
  std::string text;   // as written, for messages
  std::string canon;  // for comparing
};

// Label line 2: `GPU 3` or `GPUs 0,1`, then ` . layer 7` where the node has a layer and
// ` . microbatch 1` where the run has several microbatches.
struct GpuLine {
  bool gpu_ok = false;
  bool several = false;
  std::vector<long> gpus;
  long layer = kAbsent;
  std::string bad_part;  // a ` . ` part that is neither of those, or repeats one
};

void parseGpuPart(std::string_view head, GpuLine& g) {
  if (head.starts_with("GPUs ")) {
    g.several = true;
    if (auto list = parseIndexList(head.substr(5))) {
      g.gpus = std::move(*list);
      g.gpu_ok = true;
    }
  } else if (head.starts_with("GPU ")) {
    if (auto gpu = parseIndex(head.substr(4))) {
      g.gpus = {*gpu};
      g.gpu_ok = true;
    }
  }
}

GpuLine parseGpuLine(std::string_view line) {
  GpuLine g;
  auto dot = line.find(" . ");
  parseGpuPart(line.substr(0, dot), g);
  bool microbatch = false;
  while (dot != std::string_view::npos && g.bad_part.empty()) {
    line.remove_prefix(dot + 3);
    dot = line.find(" . ");
    const std::string_view part = line.substr(0, dot);
    const bool is_layer = part.starts_with("layer ") && g.layer == kAbsent && !microbatch;
    const bool is_microbatch = part.starts_with("microbatch ") && !microbatch;
    const auto value = parseIndex(part.substr(part.find(' ') + 1));
    if (is_layer && value) {
      g.layer = *value;
    } else if (is_microbatch && value) {
      microbatch = true;
    } else {
      g.bad_part = part;
    }
  }
  return g;
}

struct Label {
  bool present = false;
  std::vector<std::string> lines;
  std::vector<ShapeLine> inputs;
  std::vector<ShapeLine> outputs;
  std::vector<std::string> input_canons;  // sorted, for lookups from edges
  std::vector<std::string> errors;        // malformed Input/Weight/Output lines
  GpuLine gpu_line;
};

std::vector<std::string> splitLines(const std::string& text) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (true) {
    const auto end = text.find('\n', start);
    lines.push_back(text.substr(start, end - start));
    if (end == std::string::npos) return lines;
    start = end + 1;
  }
}

// Lines from 2 on that begin with Input, Output or Weight are shape lines; others (none
// today) are left alone so that a writer may add, say, timings without breaking the check.
void parseShapeLine(Label& label, std::size_t index) {
  static constexpr std::string_view kKinds[] = {"Input", "Output", "Weight"};
  const std::string_view line = label.lines[index];
  for (const std::string_view kind : kKinds) {
    if (!line.starts_with(kind)) continue;
    const std::string_view rest = line.substr(kind.size());
    // "Inputs ..." is another line; "Input [...]" and "Input:[...]" are this one misspelt.
    if (!rest.empty() && rest[0] != ':' && rest[0] != ' ' && rest[0] != '[') return;
    ShapeLine shape{std::string(trim(rest.substr(rest.starts_with(":") ? 1 : 0))), {}};
    const std::string error = rest.starts_with(": ") ? parseShape(shape.text, shape.canon)
                                                     : "is not `" + std::string(kind) + ": [...]`";
    if (!error.empty()) {
      label.errors.push_back("label line " + std::to_string(index + 1) + " (" + std::string(kind) +
                             "): " + error);
    } else if (kind == "Input") {
      label.inputs.push_back(std::move(shape));
    } else if (kind == "Output") {
      label.outputs.push_back(std::move(shape));
    }
    return;
  }
}

Label parseLabel(const DotAttrs& attrs) {
  Label label;
  const std::string* text = findAttr(attrs, "label");
  if (!text) return label;
  label.present = true;
  label.lines = splitLines(*text);
  if (label.lines.size() >= 2) label.gpu_line = parseGpuLine(label.lines[1]);
  for (std::size_t i = 1; i < label.lines.size(); ++i) parseShapeLine(label, i);
  for (const ShapeLine& in : label.inputs) label.input_canons.push_back(in.canon);
  std::sort(label.input_canons.begin(), label.input_canons.end());
  return label;
}

// The distinct shapes, the first few of them: enough to see why an edge does not match.
std::string listShapes(const std::vector<ShapeLine>& shapes) {
  constexpr std::size_t kShown = 3;
  std::vector<std::string> distinct;
  for (const ShapeLine& shape : shapes) {
    if (std::find(distinct.begin(), distinct.end(), shape.text) == distinct.end()) {
      distinct.push_back(shape.text);
    }
  }
  std::string out;
  for (std::size_t i = 0; i < distinct.size() && i < kShown; ++i) {
    out += (i ? " or " : "") + distinct[i];
  }
  if (distinct.size() > kShown) out += " or ... (" + std::to_string(distinct.size()) + " in all)";
  return out;
}

// ---- The checker --------------------------------------------------------------------------

struct NodeFacts {
  const DotNode* node = nullptr;
  std::string kind;
  std::string op;
  long layer = kAbsent;
  long expert = kAbsent;
  Label label;
  int data_in = 0;  // data edges in and out; gate edges carry no tensor
  int data_out = 0;
  int gate_in = 0;
  int gate_out = 0;
};

struct Arc {
  int from = 0;
  int to = 0;
  const DotEdge* edge = nullptr;
  bool gate = false;
};

// One MoE layer: the first topk node seen in it, and which experts gate edges reach and
// which have ops drawn.
struct MoeLayer {
  int first_topk = -1;
  std::vector<char> gated;
  std::vector<char> drawn;
};

const std::map<std::string, std::string>& shapeOfKind() {
  static const std::map<std::string, std::string> shapes = {{"compute", "box"},
                                                            {"comm", "ellipse"},
                                                            {"route", "parallelogram"},
                                                            {"input", "box"},
                                                            {"output", "box"}};
  return shapes;
}

class Checker {
 public:
  explicit Checker(const DotGraph& graph) : g_(graph) {}

  std::vector<DagViolation> run() {
    readGraphAttrs();
    indexNodes();
    indexEdges();
    indexClusters();
    checkShapes();
    checkGpus();
    checkGpuClusters();
    checkClusters();
    checkLabels();
    checkEdgeKinds();
    checkDimsChain();
    checkCycles();
    checkDangling();
    checkResiduals();
    checkGates();
    checkInputOutput();
    checkLayers();
    checkExperts();
    checkOperatorLevel(g_, out_);
    return std::move(out_);
  }

 private:
  void report(std::string node, const char* rule, std::string message) {
    out_.push_back(DagViolation{std::move(node), rule, std::move(message)});
  }
  void report(int node, const char* rule, std::string message) {
    report(facts_[node].node->id, rule, std::move(message));
  }
  int nodeCount() const { return static_cast<int>(facts_.size()); }

  // gpus, layers and experts size every other check; one that is missing or wrong turns off
  // the checks that need it rather than burying the graph in consequential violations.
  std::optional<long> graphCount(const char* key, long minimum) {
    const std::string* text = findAttr(g_.attrs, key);
    if (!text) {
      report("", "graph-attrs", std::string("the graph has no ") + key + " attribute");
      return std::nullopt;
    }
    const auto value = parseIndex(*text);
    if (!value || *value < minimum) {
      report("", "graph-attrs",
             std::string(key) + "=" + inQuotes(*text) +
                 " is not an integer >= " + std::to_string(minimum));
      return std::nullopt;
    }
    return value;
  }

  void readGraphAttrs() {
    gpus_ = graphCount("gpus", 1);
    layers_ = graphCount("layers", 1);
    experts_ = graphCount("experts", 0);
  }

  // The first declaration of an id is the node; later ones are reported and ignored.
  void indexNodes() {
    index_.reserve(g_.nodes.size());
    facts_.reserve(g_.nodes.size());
    for (const DotNode& node : g_.nodes) {
      const auto [it, fresh] = index_.try_emplace(node.id, nodeCount());
      if (!fresh) {
        report(node.id, "duplicate",
               "declared again on line " + std::to_string(node.line) + " (first on line " +
                   std::to_string(facts_[it->second].node->line) + ")");
        continue;
      }
      NodeFacts f;
      f.node = &node;
      f.kind = attrOr(node.attrs, "kind");
      f.op = attrOr(node.attrs, "op");
      f.layer = indexAttr(node.attrs, "layer");
      f.expert = indexAttr(node.attrs, "expert");
      f.label = parseLabel(node.attrs);
      facts_.push_back(std::move(f));
    }
  }

  int indexOf(const std::string& id) const {
    const auto it = index_.find(id);
    return it == index_.end() ? -1 : it->second;
  }

  // Adjacency in compressed rows (offsets into one array), built by counting: linear, and
  // cheap enough for graphs of hundreds of thousands of nodes.
  static void buildRows(int n, const std::vector<Arc>& arcs, bool outgoing, std::vector<int>& start,
                        std::vector<int>& row) {
    start.assign(n + 1, 0);
    for (const Arc& a : arcs) ++start[(outgoing ? a.from : a.to) + 1];
    for (int v = 0; v < n; ++v) start[v + 1] += start[v];
    row.assign(arcs.size(), 0);
    std::vector<int> fill(start.begin(), start.end() - 1);
    for (std::size_t i = 0; i < arcs.size(); ++i) {
      row[fill[outgoing ? arcs[i].from : arcs[i].to]++] = static_cast<int>(i);
    }
  }

  void indexEdges() {
    for (const DotEdge& e : g_.edges) {
      const int from = indexOf(e.from);
      const int to = indexOf(e.to);
      if (from < 0 || to < 0) continue;  // reported under dangling
      const bool gate = attrOr(e.attrs, "kind") == "gate";
      arcs_.push_back(Arc{from, to, &e, gate});
      ++(gate ? facts_[from].gate_out : facts_[from].data_out);
      ++(gate ? facts_[to].gate_in : facts_[to].data_in);
    }
    buildRows(nodeCount(), arcs_, true, out_start_, out_arcs_);
    buildRows(nodeCount(), arcs_, false, in_start_, in_arcs_);
  }

  void checkShapes() {
    for (int v = 0; v < nodeCount(); ++v) {
      const NodeFacts& f = facts_[v];
      const auto expected = shapeOfKind().find(f.kind);
      if (expected == shapeOfKind().end()) {
        report(v, "shape-by-kind",
               f.kind.empty()
                   ? "no kind attribute"
                   : "kind=" + inQuotes(f.kind) + " is not compute, comm, route, input or output");
        continue;
      }
      const std::string* shape = findAttr(f.node->attrs, "shape");
      if (!shape || *shape != expected->second) {
        report(v, "shape-by-kind",
               "a " + f.kind + " node must be shape=" + expected->second +
                   (shape ? ", not " + *shape : ", and has no shape"));
      }
    }
  }

  bool gpuInRange(long gpu) const { return gpu >= 0 && (!gpus_ || gpu < *gpus_); }

  std::string gpuListProblem(const std::vector<long>& list, const std::string& written) const {
    std::set<long> distinct;
    for (const long g : list) {
      if (!gpuInRange(g)) {
        return written + " names GPU " + std::to_string(g) +
               " but the graph has gpus=" + inQuotes(std::to_string(*gpus_));
      }
      if (!distinct.insert(g).second) return written + " names GPU " + std::to_string(g) + " twice";
    }
    return {};
  }

  // What the gpu/gpus attribute names; nullopt (and a violation) where it is wrong.
  std::optional<std::vector<long>> attrGpus(int v, bool& several) {
    const DotAttrs& attrs = facts_[v].node->attrs;
    const std::string* gpu = findAttr(attrs, "gpu");
    const std::string* gpus = findAttr(attrs, "gpus");
    std::optional<std::vector<long>> list;
    std::string problem;
    if (gpu && gpus) {
      problem = "has both gpu and gpus";
    } else if (!gpu && !gpus) {
      problem = "names no GPU (no gpu or gpus attribute)";
    } else {
      several = gpus != nullptr;
      const std::string& text = several ? *gpus : *gpu;
      const std::string written = (several ? "gpus=" : "gpu=") + inQuotes(text);
      list = parseIndexList(text);
      if (!list || (!several && list->size() != 1)) {
        problem = written + (several ? " is not a list of GPU indices" : " is not a GPU index");
      } else {
        problem = gpuListProblem(*list, written);
      }
    }
    if (problem.empty()) return list;
    report(v, "gpu-named", problem);
    return std::nullopt;
  }

  void checkGpus() {
    for (int v = 0; v < nodeCount(); ++v) {
      bool several = false;
      const auto gpus = attrGpus(v, several);
      const Label& label = facts_[v].label;
      if (!label.present) continue;  // reported under labels
      const auto line2 = [&] {
        return label.lines.size() >= 2 ? inQuotes(label.lines[1]) : std::string("missing");
      };
      if (!label.gpu_line.gpu_ok) {
        report(v, "gpu-named",
               "label line 2 (" + line2() + ") does not name the GPU as `GPU N` or `GPUs a,b`");
      } else if (gpus && (label.gpu_line.several != several || label.gpu_line.gpus != *gpus)) {
        report(v, "gpu-named",
               "label line 2 (" + line2() + ") names other GPUs than " +
                   (several ? "gpus=" : "gpu=") +
                   inQuotes(attrOr(facts_[v].node->attrs, several ? "gpus" : "gpu")));
      }
    }
  }

  // The cluster a node's GPU is drawn as: the outermost around it (a fused kernel's subgraph
  // sits in its GPU's cluster). Reopened clusters keep their first parent, so the walk ends.
  std::string gpuClusterOf(const std::string& cluster) const {
    std::string at = cluster;
    for (std::size_t steps = 0; steps <= g_.clusters.size(); ++steps) {
      const auto it = cluster_index_.find(at);
      if (it == cluster_index_.end() || g_.clusters[it->second].parent.empty()) return at;
      at = g_.clusters[it->second].parent;
    }
    return at;
  }

  void indexClusters() {
    for (std::size_t i = 0; i < g_.clusters.size(); ++i) {
      cluster_index_.emplace(g_.clusters[i].id, static_cast<int>(i));
    }
  }

  void checkGpuClusters() {
    for (int v = 0; v < nodeCount(); ++v) {
      const DotNode& node = *facts_[v].node;
      const std::string cluster = gpuClusterOf(node.cluster);
      if (findAttr(node.attrs, "gpus") && !findAttr(node.attrs, "gpu")) {
        if (!cluster.empty()) {
          report(v, "gpu-cluster",
                 "a node of several GPUs sits in " + inQuotes(cluster) +
                     "; it must stand outside the clusters");
        }
        continue;
      }
      const long gpu = indexAttr(node.attrs, "gpu");
      if (!gpuInRange(gpu)) continue;  // reported under gpu-named
      const std::string expected = "cluster_gpu" + std::to_string(gpu);
      if (cluster != expected) {
        const std::string nested =
            cluster == node.cluster ? "" : " (through " + inQuotes(node.cluster) + ")";
        report(v, "gpu-cluster",
               "gpu=" + inQuotes(std::to_string(gpu)) + " but it sits " +
                   (cluster.empty() ? "outside every cluster" : "in " + inQuotes(cluster)) +
                   nested + ", not in " + inQuotes(expected));
      }
    }
  }

  // A cluster inside another is a fused kernel's group (docs/dag.md, "Fused kernels"): marked
  // as one, labelled, and directly inside a GPU's cluster. Returns what is wrong, or "".
  std::string nestedClusterProblem(const DotCluster& c) const {
    const auto parent = cluster_index_.find(c.parent);
    if (parent != cluster_index_.end() && !g_.clusters[parent->second].parent.empty()) {
      return "is nested two levels deep; a fused kernel's group sits in its GPU's cluster";
    }
    if (attrOr(c.attrs, "kind") != kFusedKernelKind) {
      return std::string("is not a fused kernel's group (kind=\"") + kFusedKernelKind + "\")";
    }
    if (trim(attrOr(c.attrs, "label")).empty()) return "has no label naming the kernel";
    return {};
  }

  void checkClusters() {
    std::vector<char> present(gpus_.value_or(0), 0);
    for (const DotCluster& c : g_.clusters) {
      if (!c.parent.empty()) {
        const std::string problem = nestedClusterProblem(c);
        if (!problem.empty()) {
          report("", "clusters",
                 "cluster " + inQuotes(c.id) + " (line " + std::to_string(c.line) + ") in " +
                     inQuotes(c.parent) + " " + problem);
        }
        continue;
      }
      const std::string_view id = c.id;
      const auto gpu = id.starts_with("cluster_gpu") ? parseIndex(id.substr(11)) : std::nullopt;
      const bool canonical = gpu && c.id == "cluster_gpu" + std::to_string(*gpu);
      if (!canonical || !gpuInRange(*gpu)) {
        report("", "clusters",
               "cluster " + inQuotes(c.id) + " (line " + std::to_string(c.line) +
                   ") is not one of cluster_gpu0..cluster_gpu" +
                   (gpus_ ? std::to_string(*gpus_ - 1) : std::string("N")));
        continue;
      }
      if (gpus_) present[*gpu] = 1;
      const std::string expected = "GPU " + std::to_string(*gpu);
      const std::string* label = findAttr(c.attrs, "label");
      if (!label || *label != expected) {
        report("", "clusters",
               "cluster " + inQuotes(c.id) + " is labelled " +
                   (label ? inQuotes(*label) : std::string("nothing")) + ", not " +
                   inQuotes(expected));
      }
    }
    const auto missing = missingIndices(present);
    if (!missing.empty()) {
      report("", "clusters", "no cluster for GPU " + ranges(missing));
    }
  }

  static bool kindNeedsInput(const std::string& kind) {
    return kind == "compute" || kind == "comm" || kind == "route" || kind == "output";
  }
  static bool kindNeedsOutput(const std::string& kind) {
    return kind == "compute" || kind == "comm" || kind == "route" || kind == "input";
  }

  int distinctDataPredecessors(int v) const {
    std::vector<int> preds;
    for (int i = in_start_[v]; i < in_start_[v + 1]; ++i) {
      const Arc& a = arcs_[in_arcs_[i]];
      if (!a.gate) preds.push_back(a.from);
    }
    std::sort(preds.begin(), preds.end());
    return static_cast<int>(std::unique(preds.begin(), preds.end()) - preds.begin());
  }

  void checkLabelLayer(int v) {
    const NodeFacts& f = facts_[v];
    const GpuLine& line = f.label.gpu_line;
    // A malformed line 2 is reported under gpu-named, a malformed layer under all-layers.
    if (!line.gpu_ok || f.layer == kBad) return;
    if (!line.bad_part.empty()) {
      report(v, "labels",
             "label line 2 has " + inQuotes(" . " + line.bad_part) +
                 ", not ` . layer N` then ` . microbatch M`");
    } else if (line.layer != f.layer) {
      report(v, "labels",
             "label line 2 (" + inQuotes(f.label.lines[1]) + ") " +
                 (f.layer == kAbsent ? "shows a layer, but the node has no layer attribute"
                                     : "does not show layer=" + inQuotes(std::to_string(f.layer))));
    }
  }

  void checkShapeLines(int v) {
    const NodeFacts& f = facts_[v];
    for (const std::string& error : f.label.errors) report(v, "labels", error);
    if (!f.label.errors.empty()) return;
    if ((kindNeedsInput(f.kind) || f.data_in > 0) && f.label.inputs.empty()) {
      report(v, "labels", "label has no `Input: [...]` line");
    }
    if ((kindNeedsOutput(f.kind) || f.data_out > 0) && f.label.outputs.empty()) {
      report(v, "labels", "label has no `Output: [...]` line");
    }
  }

  void checkLabels() {
    for (int v = 0; v < nodeCount(); ++v) {
      const Label& label = facts_[v].label;
      if (!label.present) {
        report(v, "labels", "no label");
        continue;
      }
      if (trim(label.lines[0]).empty()) report(v, "labels", "label line 1 does not name the op");
      checkLabelLayer(v);
      checkShapeLines(v);
    }
  }

  void checkEdgeKinds() {
    for (const DotEdge& e : g_.edges) {
      const std::string kind = attrOr(e.attrs, "kind");
      const bool dashed = attrOr(e.attrs, "style") == "dashed";
      const auto edge = [&e] {
        return "edge to " + inQuotes(e.to) + " (line " + std::to_string(e.line) + ")";
      };
      if (kind != "data" && kind != "gate") {
        report(e.from, "edge-kind",
               edge() + (kind.empty() ? " has no kind" : " has kind=" + inQuotes(kind)) +
                   "; an edge is kind data or gate");
      } else if (kind == "gate" && !dashed) {
        report(e.from, "edge-kind", "gate " + edge() + " is not style=dashed");
      } else if (kind == "data" && dashed) {
        report(e.from, "edge-kind", "data " + edge() + " is dashed; only gate edges are");
      }
    }
  }

  // Skips edges whose ends have missing or malformed shape lines: labels reports those.
  void checkDimsChain() {
    for (const Arc& a : arcs_) {
      if (a.gate) continue;
      const Label& from = facts_[a.from].label;
      const Label& to = facts_[a.to].label;
      if (!from.errors.empty() || !to.errors.empty() || from.outputs.empty() || to.inputs.empty()) {
        continue;
      }
      const bool joined =
          std::any_of(from.outputs.begin(), from.outputs.end(), [&](const ShapeLine& out) {
            return std::binary_search(to.input_canons.begin(), to.input_canons.end(), out.canon);
          });
      if (!joined) {
        report(a.to, "dims-chain",
               "data edge from " + inQuotes(a.edge->from) + " (line " +
                   std::to_string(a.edge->line) + ") joins unequal shapes: it outputs " +
                   listShapes(from.outputs) + ", this node takes " + listShapes(to.inputs));
      }
    }
  }

  // Strongly connected components by Tarjan's algorithm, with an explicit stack so that a
  // chain of any length cannot overflow the call stack. component[v] numbers v's component.
  std::vector<int> components() const {
    const int n = nodeCount();
    std::vector<int> order(n, -1);  // when each node was first reached
    std::vector<int> low(n, 0);     // the earliest node still on `pending` it reaches
    std::vector<int> component(n, -1);
    std::vector<int> pending;                 // reached, not yet assigned a component
    std::vector<std::pair<int, int>> frames;  // node, next of its out-arcs to follow
    int visited = 0;
    int found = 0;
    for (int root = 0; root < n; ++root) {
      if (order[root] >= 0) continue;
      frames.emplace_back(root, out_start_[root]);
      order[root] = low[root] = visited++;
      pending.push_back(root);
      while (!frames.empty()) {
        auto& [v, next] = frames.back();
        if (next < out_start_[v + 1]) {
          const int w = arcs_[out_arcs_[next++]].to;
          if (order[w] < 0) {
            order[w] = low[w] = visited++;
            pending.push_back(w);
            frames.emplace_back(w, out_start_[w]);
          } else if (component[w] < 0) {
            low[v] = std::min(low[v], order[w]);
          }
          continue;
        }
        const int done = v;
        frames.pop_back();
        if (low[done] == order[done]) {
          int w = -1;
          while (w != done) {
            w = pending.back();
            pending.pop_back();
            component[w] = found;
          }
          ++found;
        }
        if (!frames.empty()) {
          const int parent = frames.back().first;
          low[parent] = std::min(low[parent], low[done]);
        }
      }
    }
    return component;
  }

  // Every node of a component with a cycle has a successor inside it, so walking such
  // successors from any of them closes a cycle.
  std::vector<int> cycleFrom(int start, const std::vector<int>& component,
                             std::vector<int>& position) const {
    std::vector<int> path;
    int v = start;
    while (position[v] < 0) {
      position[v] = static_cast<int>(path.size());
      path.push_back(v);
      for (int i = out_start_[v]; i < out_start_[v + 1]; ++i) {
        const int w = arcs_[out_arcs_[i]].to;
        if (component[w] == component[v]) {
          v = w;
          break;
        }
      }
    }
    return std::vector<int>(path.begin() + position[v], path.end());
  }

  // One violation per strongly connected component that holds a cycle (two nodes or more, or
  // one with an edge to itself), on a cycle through its first node in file order.
  void checkCycles() {
    const std::vector<int> component = components();
    std::vector<int> size(nodeCount(), 0);
    std::vector<char> looped(nodeCount(), 0);
    for (int v = 0; v < nodeCount(); ++v) ++size[component[v]];
    for (const Arc& a : arcs_) {
      if (a.from == a.to) looped[component[a.from]] = 1;
    }
    std::vector<char> reported(nodeCount(), 0);
    std::vector<int> position(nodeCount(), -1);
    for (int v = 0; v < nodeCount(); ++v) {
      const int c = component[v];
      if (reported[c] || (size[c] < 2 && !looped[c])) continue;
      reported[c] = 1;
      reportCycle(cycleFrom(v, component, position));
    }
  }

  void reportCycle(const std::vector<int>& cycle) {
    constexpr std::size_t kShown = 8;
    std::string text;
    for (std::size_t i = 0; i < cycle.size() && i < kShown; ++i) {
      text += inQuotes(facts_[cycle[i]].node->id) + " -> ";
    }
    if (cycle.size() > kShown) {
      text += "... (" + std::to_string(cycle.size()) + " nodes) -> ";
    }
    text += inQuotes(facts_[cycle[0]].node->id);
    report(cycle[0], "cycle", "on the cycle " + text);
  }

  void checkDangling() {
    std::set<std::string> undeclared;
    for (const DotEdge& e : g_.edges) {
      for (const std::string* end : {&e.from, &e.to}) {
        if (indexOf(*end) < 0 && undeclared.insert(*end).second) {
          report(*end, "dangling",
                 "the edge on line " + std::to_string(e.line) + " names a node never declared");
        }
      }
    }
    // `dangling` asks for a predecessor and a successor, of either kind of edge: a top-k whose
    // choice reaches the experts through the host (as shardrt's does) has only gate edges out.
    for (int v = 0; v < nodeCount(); ++v) {
      const NodeFacts& f = facts_[v];
      const bool wants_in = f.kind != "input" && f.data_in + f.gate_in == 0;
      const bool wants_out = f.kind != "output" && f.data_out + f.gate_out == 0;
      if (wants_in && wants_out) {
        report(v, "dangling", "unconnected: no edge in or out");
      } else if (wants_in) {
        report(v, "dangling", "no edge comes in");
      } else if (wants_out) {
        report(v, "dangling", "no edge goes out");
      }
    }
  }

  void checkResiduals() {
    for (int v = 0; v < nodeCount(); ++v) {
      if (facts_[v].op != "residual_add") continue;
      const int producers = distinctDataPredecessors(v);
      if (producers < 2) {
        report(v, "residual-inputs",
               "data flows in from " + std::to_string(producers) +
                   " node(s); a residual add needs the branch and the residual stream");
      }
    }
  }

  bool validExpert(long expert) const { return expert >= 0 && experts_ && expert < *experts_; }

  // `gate-edges`, edge by edge: from a topk node to an op of one expert in the same layer.
  void checkGateEdge(const Arc& a) {
    const NodeFacts& from = facts_[a.from];
    const NodeFacts& to = facts_[a.to];
    const std::string edge = "gate edge " + inQuotes(from.node->id) + " -> " +
                             inQuotes(to.node->id) + " (line " + std::to_string(a.edge->line) + ")";
    if (from.op != "topk") {
      report(a.from, "gate-edges", edge + " starts at op=" + inQuotes(from.op) + ", not topk");
    } else if (to.expert == kAbsent) {
      report(a.to, "gate-edges", edge + " ends at a node of no expert");
    } else if (to.layer != from.layer) {
      report(a.to, "gate-edges", edge + " ends in another layer than its topk");
    }
  }

  std::map<long, MoeLayer> moeLayers() const {
    std::map<long, MoeLayer> layers;
    const std::size_t experts = experts_.value_or(0);
    for (int v = 0; v < nodeCount(); ++v) {
      if (facts_[v].op != "topk" || facts_[v].layer < 0) continue;
      MoeLayer& layer = layers[facts_[v].layer];
      if (layer.first_topk < 0) {
        layer = MoeLayer{v, std::vector<char>(experts, 0), std::vector<char>(experts, 0)};
      }
    }
    return layers;
  }

  void checkGates() {
    for (const Arc& a : arcs_) {
      if (a.gate) checkGateEdge(a);
    }
    // The experts a topk must reach are those of its layer: without one it cannot be checked.
    for (int v = 0; v < nodeCount(); ++v) {
      if (facts_[v].op == "topk" && facts_[v].layer == kAbsent) {
        report(v, "gate-edges", "a topk node with no layer attribute");
      }
    }
    if (!experts_) return;
    std::map<long, MoeLayer> layers = moeLayers();
    for (const Arc& a : arcs_) {
      const NodeFacts& from = facts_[a.from];
      const NodeFacts& to = facts_[a.to];
      const auto it = layers.find(from.layer);
      if (a.gate && from.op == "topk" && it != layers.end() && to.layer == from.layer &&
          validExpert(to.expert)) {
        it->second.gated[to.expert] = 1;
      }
    }
    for (const auto& [layer, moe] : layers) {
      if (*experts_ == 0) {
        report(moe.first_topk, "gate-edges", "a topk node in a graph with experts=\"0\"");
        continue;
      }
      const auto missing = missingIndices(moe.gated);
      if (!missing.empty()) {
        report(moe.first_topk, "gate-edges",
               "in layer " + std::to_string(layer) +
                   " no gate edge from a topk node reaches expert " + ranges(missing));
      }
    }
  }

  void checkInputOutput() {
    for (const char* kind : {"input", "output"}) {
      int first = -1;
      for (int v = 0; v < nodeCount(); ++v) {
        if (facts_[v].kind != kind) continue;
        if (first < 0) {
          first = v;
        } else {
          report(v, "one-input-output",
                 std::string("a second ") + kind + " node (the first is " +
                     inQuotes(facts_[first].node->id) + ")");
        }
      }
      if (first < 0) report("", "one-input-output", std::string("no ") + kind + " node");
    }
  }

  void checkLayers() {
    std::vector<char> drawn(layers_.value_or(0), 0);
    for (int v = 0; v < nodeCount(); ++v) {
      const long layer = facts_[v].layer;
      if (layer == kAbsent) continue;
      if (layer == kBad || (layers_ && layer >= *layers_)) {
        report(v, "all-layers",
               "layer=" + inQuotes(attrOr(facts_[v].node->attrs, "layer")) +
                   " is not a layer index" +
                   (layers_ ? " in 0.." + std::to_string(*layers_ - 1) : std::string()));
      } else if (layers_) {
        drawn[layer] = 1;
      }
    }
    const auto missing = missingIndices(drawn);
    if (!missing.empty()) report("", "all-layers", "no nodes in layer " + ranges(missing));
  }

  void checkExperts() {
    std::map<long, MoeLayer> layers = experts_ ? moeLayers() : std::map<long, MoeLayer>();
    for (int v = 0; v < nodeCount(); ++v) {
      const NodeFacts& f = facts_[v];
      if (f.expert == kAbsent || !experts_) continue;
      if (!validExpert(f.expert)) {
        report(v, "all-experts",
               "expert=" + inQuotes(attrOr(f.node->attrs, "expert")) + " is not an expert index" +
                   (*experts_ > 0 ? " in 0.." + std::to_string(*experts_ - 1)
                                  : std::string(" (the graph has experts=\"0\")")));
        continue;
      }
      const auto it = layers.find(f.layer);
      if (it != layers.end()) it->second.drawn[f.expert] = 1;
    }
    for (const auto& [layer, moe] : layers) {
      const auto missing = missingIndices(moe.drawn);
      if (!missing.empty() && *experts_ > 0) {
        report(moe.first_topk, "all-experts",
               "layer " + std::to_string(layer) + " draws no op of expert " + ranges(missing));
      }
    }
  }

  const DotGraph& g_;
  std::optional<long> gpus_;
  std::optional<long> layers_;
  std::optional<long> experts_;
  std::unordered_map<std::string, int> index_;
  std::vector<NodeFacts> facts_;  // one per distinct node id, in file order
  std::vector<Arc> arcs_;         // edges whose ends are both declared
  std::vector<int> out_start_, out_arcs_, in_start_, in_arcs_;
  std::vector<DagViolation> out_;

  std::unordered_map<std::string, int> cluster_index_;  // id -> index in g_.clusters
};

void printViolation(const std::string& path, const DagViolation& v, std::ostream& out) {
  out << path << ": " << (v.node.empty() ? std::string("graph") : "node " + inQuotes(v.node))
      << ": " << v.rule << ": " << v.message << '\n';
}

}  // namespace

std::vector<DagViolation> checkDag(const DotGraph& graph) { return Checker(graph).run(); }

int runDagCheck(const std::string& path, std::ostream& out, std::ostream& err) {
  // Only a regular file is opened: opening a FIFO would block until someone writes to it, and
  // a device such as /dev/zero would never end.
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  if (!ec && std::filesystem::exists(status) && !std::filesystem::is_regular_file(status)) {
    err << path << ": cannot read: "
        << (std::filesystem::is_directory(status) ? "is a directory" : "is not a regular file")
        << '\n';
    return 2;
  }
  std::ifstream in(path);
  if (!in) {
    err << path << ": cannot read: " << std::strerror(errno) << '\n';
    return 2;
  }
  DotGraph graph;
  try {
    graph = readDot(in);
  } catch (const DotParseError& e) {
    err << path << ":" << e.line() << ": cannot parse: " << e.reason() << '\n';
    return 2;
  } catch (const std::exception& e) {
    err << path << ": cannot read: " << e.what() << '\n';
    return 2;
  }
  const std::vector<DagViolation> violations = checkDag(graph);
  for (const DagViolation& v : violations) printViolation(path, v, out);
  out << path << ": " << graph.nodes.size() << " nodes, " << graph.edges.size() << " edges, ";
  if (violations.empty()) {
    out << "OK\n";
  } else {
    out << violations.size() << (violations.size() == 1 ? " violation\n" : " violations\n");
  }
  return violations.empty() ? 0 : 1;
}

}  // namespace shardrt::dag
