// `shardrt dag check`: the DOT reader on tricky and malformed input, the checker on a valid
// hand-written DAG and on one broken copy per rule, and the command's output and exit codes.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "dag/dag_check.h"
#include "dag/dot_reader.h"

namespace shardrt::dag {
namespace {

const std::string kFixtures = SHARDRT_DAG_FIXTURES;

std::string fixture(const std::string& name) { return kFixtures + "/" + name; }

DotGraph readText(const std::string& text) {
  std::istringstream in(text);
  return readDot(in);
}

DotGraph readFixture(const std::string& name) {
  std::ifstream in(fixture(name));
  EXPECT_TRUE(in) << fixture(name);
  return readDot(in);
}

const DotNode& nodeNamed(const DotGraph& g, const std::string& id) {
  for (const DotNode& n : g.nodes) {
    if (n.id == id) return n;
  }
  throw std::runtime_error("no node " + id);
}

std::string describe(const std::vector<DagViolation>& violations) {
  std::string out;
  for (const DagViolation& v : violations) {
    out += "  " + (v.node.empty() ? "graph" : v.node) + ": " + v.rule + ": " + v.message + "\n";
  }
  return out;
}

// The line a malformed text is rejected on (0 if it is accepted).
int rejectedOnLine(const std::string& text) {
  try {
    readText(text);
  } catch (const DotParseError& e) {
    EXPECT_NE(std::string(e.what()).find("line " + std::to_string(e.line())), std::string::npos)
        << e.what();
    return e.line();
  }
  return 0;
}

// ---- Reader -----------------------------------------------------------------------------

TEST(DagCheckReader, DecodesEscapesAndKeepsBareValues) {
  const DotGraph g = readText(
      "digraph \"a \\\"quoted\\\" name\" {\n"
      "  \"n 1\" [shape=box, fontsize=10, width=-1.5, label=\"op (x)\\nGPU 0\\n\\\"hi\\\" "
      "a\\\\b\"];\n"
      "}\n");
  EXPECT_EQ(g.name, "a \"quoted\" name");
  ASSERT_EQ(g.nodes.size(), 1u);
  const DotNode& n = g.nodes[0];
  EXPECT_EQ(n.id, "n 1");
  EXPECT_EQ(n.line, 2);
  EXPECT_EQ(n.attrs.at("shape"), "box");
  EXPECT_EQ(n.attrs.at("fontsize"), "10");
  EXPECT_EQ(n.attrs.at("width"), "-1.5");
  EXPECT_EQ(n.attrs.at("label"), "op (x)\nGPU 0\n\"hi\" a\\b");
  EXPECT_EQ(n.cluster, "");
}

TEST(DagCheckReader, ScopesAttributesToGraphClustersAndDefaults) {
  const DotGraph g = readText(R"(digraph "g" {
  graph [gpus="2", layers="1"];
  node [fontname="Helvetica", shape=ellipse];
  edge [color="gray"];
  subgraph "cluster_gpu0" {
    label="GPU 0";
    node [shape=box];
    "a" [kind="compute"];
  }
  subgraph "cluster_gpu1" {
    label = "GPU 1"
    graph [style="rounded"];
    "b" [kind="compute", shape=parallelogram]
  }
  "c" [kind="comm"];
  rankdir=LR;
  "a" -> "c" -> "b" [kind="data"];
  "b" -> "a" [kind="gate", color="red"];
}
)");
  EXPECT_EQ(g.attrs.at("gpus"), "2");
  EXPECT_EQ(g.attrs.at("rankdir"), "LR");
  EXPECT_EQ(g.attrs.count("label"), 0u) << "a cluster's label is not the graph's";
  ASSERT_EQ(g.clusters.size(), 2u);
  EXPECT_EQ(g.clusters[0].id, "cluster_gpu0");
  EXPECT_EQ(g.clusters[0].attrs.at("label"), "GPU 0");
  EXPECT_EQ(g.clusters[1].attrs.at("label"), "GPU 1");
  EXPECT_EQ(g.clusters[1].attrs.at("style"), "rounded");
  EXPECT_EQ(g.clusters[1].line, 10);

  const DotNode& a = nodeNamed(g, "a");
  EXPECT_EQ(a.cluster, "cluster_gpu0");
  EXPECT_EQ(a.attrs.at("shape"), "box") << "the cluster's node default";
  EXPECT_EQ(a.attrs.at("fontname"), "Helvetica") << "the graph's node default";
  EXPECT_EQ(nodeNamed(g, "b").attrs.at("shape"), "parallelogram");
  EXPECT_EQ(nodeNamed(g, "b").cluster, "cluster_gpu1");
  const DotNode& c = nodeNamed(g, "c");
  EXPECT_EQ(c.cluster, "");
  EXPECT_EQ(c.attrs.at("shape"), "ellipse") << "the cluster's default ends with the cluster";

  ASSERT_EQ(g.edges.size(), 3u);
  EXPECT_EQ(g.edges[0].from, "a");
  EXPECT_EQ(g.edges[0].to, "c");
  EXPECT_EQ(g.edges[1].from, "c");
  EXPECT_EQ(g.edges[1].to, "b");
  EXPECT_EQ(g.edges[1].attrs.at("kind"), "data");
  EXPECT_EQ(g.edges[1].attrs.at("color"), "gray");
  EXPECT_EQ(g.edges[2].attrs.at("color"), "red");
  EXPECT_EQ(g.edges[2].line, 18);
}

// A fused kernel's group inside a GPU's cluster: its nodes name the innermost cluster, and the
// group names the cluster it sits in.
TEST(DagCheckReader, NestedClustersKnowTheirParent) {
  const DotGraph g = readText(R"(digraph "g" {
  subgraph "cluster_gpu0" {
    label="GPU 0";
    "a" [kind="compute"];
    subgraph "cluster_k" {
      label="fused";
      kind="fused_kernel";
      "b" [kind="compute"];
    }
    "c" [kind="compute"];
  }
}
)");
  ASSERT_EQ(g.clusters.size(), 2u);
  EXPECT_EQ(g.clusters[0].parent, "");
  EXPECT_EQ(g.clusters[1].id, "cluster_k");
  EXPECT_EQ(g.clusters[1].parent, "cluster_gpu0");
  EXPECT_EQ(g.clusters[1].attrs.at("kind"), "fused_kernel");
  EXPECT_EQ(g.clusters[0].attrs.count("kind"), 0u) << "the group's attributes stay its own";
  EXPECT_EQ(nodeNamed(g, "a").cluster, "cluster_gpu0");
  EXPECT_EQ(nodeNamed(g, "b").cluster, "cluster_k");
  EXPECT_EQ(nodeNamed(g, "c").cluster, "cluster_gpu0") << "back in the GPU's cluster";
}

TEST(DagCheckReader, ToleratesWhitespaceWrappedStatementsAndComments) {
  const DotGraph g = readText(
      "// written by hand\n"
      "digraph g{\n"
      "\t\"a\"   [ kind = \"compute\" ,\n"
      "           label=\"x\" ]  ;\n"
      "  /* a block\n comment */ \"a\"->\"b\";\n"
      "}");
  ASSERT_EQ(g.nodes.size(), 1u);
  EXPECT_EQ(g.nodes[0].attrs.at("label"), "x");
  EXPECT_EQ(g.nodes[0].line, 3);
  ASSERT_EQ(g.edges.size(), 1u);
  EXPECT_EQ(g.edges[0].line, 6);
}

// The example in docs/dag.md ("File format") is what the reader is written against.
TEST(DagCheckReader, ReadsTheDocumentedExample) {
  std::ifstream docs(kFixtures + "/../../docs/dag.md");
  ASSERT_TRUE(docs);
  std::stringstream all;
  all << docs.rdbuf();
  const std::string text = all.str();
  const auto start = text.find("```\ndigraph");
  ASSERT_NE(start, std::string::npos);
  const auto end = text.find("```", start + 4);
  const DotGraph g = readText(text.substr(start + 4, end - start - 4));
  EXPECT_EQ(g.attrs.at("experts"), "8");
  EXPECT_EQ(nodeNamed(g, "r0_17").cluster, "cluster_gpu0");
  EXPECT_EQ(nodeNamed(g, "r0_17").attrs.at("label").substr(0, 24), "q_proj (linear)\nGPU 0 . ");
  EXPECT_EQ(nodeNamed(g, "c3").attrs.at("gpus"), "0,1");
  EXPECT_EQ(nodeNamed(g, "r0_21_qk").cluster, "cluster_r0_21");
  ASSERT_EQ(g.clusters.size(), 2u);
  EXPECT_EQ(g.clusters[1].parent, "cluster_gpu0");
  EXPECT_EQ(g.clusters[1].attrs.at("kind"), "fused_kernel");
  ASSERT_EQ(g.edges.size(), 2u);
  EXPECT_EQ(g.edges[0].attrs.at("weight"), "10");
  EXPECT_EQ(g.edges[1].attrs.at("style"), "dashed");
}

TEST(DagCheckReader, RejectsMalformedInputNamingTheLine) {
  EXPECT_EQ(rejectedOnLine("digraph g {\n  \"a\" [label=\"x];\n  \"b\";\n}\n"), 2)
      << "unterminated string";
  EXPECT_EQ(rejectedOnLine("digraph g {\n  \"a\" [label=\"x\";\n  \"b\" [kind=\"y\"];\n}\n"), 2)
      << "missing ]";
  EXPECT_EQ(rejectedOnLine("digraph g {\n  \"a\" [label=\"x\"\n  \"b\" [kind=\"y\"];\n}\n"), 2)
      << "missing ] at the end of the line";
  EXPECT_EQ(rejectedOnLine("digraph g {\n  \"a\";\n  \"a\" \"b\";\n}\n"), 3)
      << "two statements on a line";
  EXPECT_EQ(rejectedOnLine("digraph g {\n\n  -> \"b\";\n}\n"), 3) << "no statement starts so";
  EXPECT_EQ(rejectedOnLine("digraph g {\n  \"a\" -- \"b\";\n}\n"), 2) << "undirected edge";
  EXPECT_EQ(rejectedOnLine("digraph g {\n  \"a\" [x=1] @;\n}\n"), 2) << "stray character";
  EXPECT_EQ(rejectedOnLine("digraph g {\n  node \"a\";\n}\n"), 2) << "default without [";
  EXPECT_EQ(rejectedOnLine("digraph g {\n  \"a\" [label];\n}\n"), 2) << "attribute without =";
  EXPECT_EQ(rejectedOnLine("digraph g {\n  \"a\";\n"), 2) << "missing }";
  EXPECT_EQ(rejectedOnLine("digraph g {\n}\n}\n"), 3) << "text after the graph";
  EXPECT_EQ(rejectedOnLine("\ngraph g {\n}\n"), 2) << "not a digraph";
  EXPECT_EQ(rejectedOnLine(""), 1) << "empty";
  EXPECT_EQ(rejectedOnLine("digraph g {\n  \"a\" [label=\"x\"];\n}\n"), 0) << "control";
}

// ---- Checker on the fixtures --------------------------------------------------------------

TEST(DagCheck, ValidFixturePasses) {
  const DotGraph g = readFixture("valid.dot");
  EXPECT_EQ(g.nodes.size(), 78u);
  EXPECT_EQ(g.edges.size(), 108u);
  const auto violations = checkDag(g);
  EXPECT_TRUE(violations.empty()) << describe(violations);
}

struct Broken {
  std::string rule;
  std::string node;    // where the violation must be reported; "" for the graph
  std::string change;  // what broken-RULE.dot changes in valid.dot
};

void PrintTo(const Broken& b, std::ostream* os) { *os << "broken-" << b.rule << ".dot"; }

const Broken kBroken[] = {
    {"graph-attrs", "", "layers=\"two\""},
    {"duplicate", "r1_l0_fc1", "its statement twice"},
    {"shape-by-kind", "c_l0_attn", "an all_reduce drawn as a box"},
    {"gpu-named", "r1_l0_q_proj", "label says GPU 0, gpu=\"1\""},
    {"gpu-cluster", "r1_l1_topk", "moved out of cluster_gpu1"},
    {"clusters", "", "cluster_gpu1 labelled \"GPU one\""},
    {"labels", "r0_l1_router", "a Weight dimension \"hidden 64\""},
    {"edge-kind", "r1_l1_topk", "its gate edge to expert 3 not dashed"},
    {"dims-chain", "r1_l0_fc2", "its Input has ffn_hidden=64 (of 256), not (of 128)"},
    {"cycle", "r0_l0_q_proj", "fed by layer 1's moe_add instead of layer 0's attn_norm"},
    {"dangling", "r1_final_norm", "its edge to the output removed"},
    {"residual-inputs", "r0_l0_attn_add", "its edge from the input (the residual) removed"},
    {"gate-edges", "r0_l1_topk", "no gate edge to expert 3 (reported on the layer's first topk)"},
    {"one-input-output", "output2", "a second output node, fed by r1_final_norm"},
    {"all-layers", "", "layers=\"3\": layer 2 has no nodes"},
    {"all-experts", "r1_l1_e3_fc2", "expert=\"4\" of 4"},
    {"operator-level", "r1_l0_attention",
     "GPU 1's layer-0 attention drawn as one node, as graphs were before issue 16"},
};

class DagCheckBroken : public testing::TestWithParam<Broken> {};

// The checker must report the fixture's rule, only that rule, and on the node changed.
TEST_P(DagCheckBroken, ReportsExactlyItsRule) {
  const Broken& b = GetParam();
  const auto violations = checkDag(readFixture("broken-" + b.rule + ".dot"));
  ASSERT_FALSE(violations.empty()) << b.change;
  bool on_node = false;
  for (const DagViolation& v : violations) {
    EXPECT_EQ(v.rule, b.rule) << b.change << "\n" << describe(violations);
    on_node = on_node || v.node == b.node;
  }
  EXPECT_TRUE(on_node) << b.change << ": expected on " << (b.node.empty() ? "the graph" : b.node)
                       << ":\n"
                       << describe(violations);
}

INSTANTIATE_TEST_SUITE_P(OnePerRule, DagCheckBroken, testing::ValuesIn(kBroken),
                         [](const testing::TestParamInfo<Broken>& info) {
                           std::string name = info.param.rule;
                           std::replace(name.begin(), name.end(), '-', '_');
                           return name;
                         });

// Every rule has its fixture.
TEST(DagCheck, EveryBrokenFixtureIsTested) {
  std::set<std::string> tested;
  for (const Broken& b : kBroken) tested.insert("broken-" + b.rule + ".dot");
  std::set<std::string> present;
  for (const auto& entry : std::filesystem::directory_iterator(kFixtures)) {
    const std::string name = entry.path().filename().string();
    if (name.starts_with("broken-")) present.insert(name);
  }
  EXPECT_EQ(present, tested);
}

// The cycle is reported once, from its first node in the file, naming the nodes around it.
TEST(DagCheck, CycleNamesItsNodes) {
  const auto violations = checkDag(readFixture("broken-cycle.dot"));
  ASSERT_EQ(violations.size(), 1u) << describe(violations);
  const std::string& message = violations[0].message;
  EXPECT_EQ(message.rfind("on the cycle \"r0_l0_q_proj\" -> \"r0_l0_attention_qk\" -> ", 0), 0u)
      << message;
  EXPECT_NE(message.find(" nodes) -> \"r0_l0_q_proj\""), std::string::npos)
      << "a long cycle is elided: " << message;
}

// ---- Checker on small graphs --------------------------------------------------------------

// A one-GPU, one-layer chain: input -> n0 -> ... -> n{count-1} -> output.
std::string chainGraph(int count, const std::string& extra_edges = "") {
  const std::string shape = "[batch_size=2, hidden=8]";
  std::ostringstream out;
  out << "digraph \"chain\" {\n  graph [gpus=\"1\", layers=\"1\", experts=\"0\"];\n"
      << "  subgraph \"cluster_gpu0\" {\n    label=\"GPU 0\";\n";
  for (int i = 0; i < count; ++i) {
    out << "    \"n" << i << "\" [shape=box, kind=\"compute\", op=\"relu\", gpu=\"0\", "
        << "layer=\"0\", label=\"relu\\nGPU 0 . layer 0\\nInput: " << shape
        << "\\nOutput: " << shape << "\"];\n";
  }
  out << "  }\n  \"in\" [shape=box, kind=\"input\", gpus=\"0\", label=\"input\\nGPUs 0\\nOutput: "
      << shape << "\"];\n  \"out\" [shape=box, kind=\"output\", gpus=\"0\", "
      << "label=\"output\\nGPUs 0\\nInput: " << shape
      << "\"];\n  \"in\" -> \"n0\" [kind=\"data\"];\n";
  for (int i = 0; i + 1 < count; ++i) {
    out << "  \"n" << i << "\" -> \"n" << i + 1 << "\" [kind=\"data\"];\n";
  }
  out << "  \"n" << count - 1 << "\" -> \"out\" [kind=\"data\"];\n" << extra_edges << "}\n";
  return out.str();
}

std::vector<std::string> rulesOf(const std::vector<DagViolation>& violations) {
  std::vector<std::string> rules;
  for (const DagViolation& v : violations) rules.push_back(v.rule);
  return rules;
}

TEST(DagCheck, LongChainsAreCheckedWithoutRecursion) {
  constexpr int kNodes = 200000;
  const auto start = std::chrono::steady_clock::now();
  const DotGraph chain = readText(chainGraph(kNodes));
  const auto violations = checkDag(chain);
  EXPECT_TRUE(violations.empty()) << describe(violations);

  // Closing the chain into one cycle through all of it: one violation, found without
  // recursing 200,000 deep.
  const DotGraph loop = readText(chainGraph(kNodes, "  \"n199999\" -> \"n0\" [kind=\"data\"];\n"));
  const auto cycles = checkDag(loop);
  ASSERT_EQ(rulesOf(cycles), std::vector<std::string>{"cycle"}) << describe(cycles);
  EXPECT_NE(cycles[0].message.find("(200000 nodes)"), std::string::npos) << cycles[0].message;
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_LT(seconds, 30.0) << "linear in the graph's size";
}

// One violation per strongly connected component with a cycle, even where a walk from the
// first node would pass a self-loop by.
TEST(DagCheck, SelfLoopAndTwoCyclesAreEachReported) {
  const std::string loops =
      "  \"n1\" -> \"n1\" [kind=\"data\"];\n  \"n4\" -> \"n3\" [kind=\"data\"];\n";
  const auto violations = checkDag(readText(chainGraph(6, loops)));
  ASSERT_EQ(rulesOf(violations), (std::vector<std::string>{"cycle", "cycle"}))
      << describe(violations);
  EXPECT_EQ(violations[0].node, "n1");
  EXPECT_EQ(violations[0].message, "on the cycle \"n1\" -> \"n1\"");
  EXPECT_EQ(violations[1].message, "on the cycle \"n3\" -> \"n4\" -> \"n3\"");
}

// Replaces the first occurrence of `from` in the chain graph of 3 nodes.
std::vector<DagViolation> checkEditedChain(const std::string& from, const std::string& to,
                                           const std::string& extra_edges = "") {
  std::string text = chainGraph(3, extra_edges);
  const auto at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) text.replace(at, from.size(), to);
  return checkDag(readText(text));
}

TEST(DagCheck, DimensionsMustBeNamedValues) {
  const std::string input = "Input: [batch_size=2, hidden=8]";
  for (const std::string bad :
       {"Input: [batch_size=2, 8]", "Input: [batch_size=2, hidden=]", "Input: [batch_size=2]x",
        "Input: [batch_size=2, hidden=8 of 16]", "Input: [batch_size=2, hidden=8 (of 8)]",
        "Input: [batch_size=2, hidden=16 (of 8)]", "Input: []", "Input [batch_size=2, hidden=8]",
        "Input: [batch size=2, hidden=8]"}) {
    const auto violations = checkEditedChain(input, bad);
    EXPECT_EQ(rulesOf(violations), std::vector<std::string>{"labels"}) << bad << "\n"
                                                                       << describe(violations);
  }
  // A slice is named as such on both ends of the edge, or the shapes differ.
  const auto sliced = checkEditedChain(input, "Input: [batch_size=2, hidden=8 (of 16)]");
  EXPECT_EQ(rulesOf(sliced), std::vector<std::string>{"dims-chain"}) << describe(sliced);
  // Spacing is not part of a shape.
  EXPECT_TRUE(checkEditedChain(input, "Input: [ batch_size=2,hidden=8 ]").empty());
}

TEST(DagCheck, GpusOnTheLabelMatchTheAttributes) {
  EXPECT_EQ(rulesOf(checkEditedChain("relu\\nGPU 0", "relu\\nGPUs 0")),
            std::vector<std::string>{"gpu-named"});
  EXPECT_EQ(rulesOf(checkEditedChain("relu\\nGPU 0", "relu\\nall GPUs")),
            std::vector<std::string>{"gpu-named"});
  // Out of range: reported once, not again as a mismatch with the label or the cluster.
  const auto outside = checkEditedChain("gpu=\"0\", layer", "gpu=\"1\", layer");
  ASSERT_EQ(rulesOf(outside), std::vector<std::string>{"gpu-named"}) << describe(outside);
  EXPECT_EQ(outside[0].message, "gpu=\"1\" names GPU 1 but the graph has gpus=\"1\"");
  EXPECT_EQ(rulesOf(checkEditedChain("GPU 0 . layer 0", "GPU 0 . layer 1")),
            std::vector<std::string>{"labels"});
  EXPECT_EQ(rulesOf(checkEditedChain("GPU 0 . layer 0", "GPU 0")),
            std::vector<std::string>{"labels"});
  EXPECT_TRUE(checkEditedChain("GPU 0 . layer 0", "GPU 0 . layer 0 . microbatch 3").empty());
  EXPECT_EQ(rulesOf(checkEditedChain("GPU 0 . layer 0", "GPU 0 . microbatch 3 . layer 0")),
            std::vector<std::string>{"labels"});
  EXPECT_EQ(rulesOf(checkEditedChain("GPU 0 . layer 0", "GPU 0 . layer 0 . stage 1")),
            std::vector<std::string>{"labels"});
}

// docs/dag.md asks for an Input line per data input, but a node whose inputs have equal shapes
// (a residual add, attention's Q, K and V) may list that shape once: every edge still matches.
TEST(DagCheck, EqualInputShapesMayBeListedOnce) {
  const auto violations = checkEditedChain("", "", "  \"in\" -> \"n2\" [kind=\"data\"];\n");
  EXPECT_TRUE(violations.empty()) << describe(violations);
}

TEST(DagCheck, EdgesMustNameDeclaredNodes) {
  const auto violations = checkEditedChain("", "", "  \"n2\" -> \"ghost\" [kind=\"data\"];\n");
  ASSERT_EQ(rulesOf(violations), std::vector<std::string>{"dangling"}) << describe(violations);
  EXPECT_EQ(violations[0].node, "ghost");
}

TEST(DagCheck, NoInputOrOutputIsAGraphViolation) {
  const auto violations = checkEditedChain("kind=\"input\"", "kind=\"compute\"");
  // The former input is now a compute node with no Input line and no predecessor.
  std::vector<std::string> rules = rulesOf(violations);
  EXPECT_NE(std::find(rules.begin(), rules.end(), "one-input-output"), rules.end());
  for (const DagViolation& v : violations) {
    if (v.rule == "one-input-output") {
      EXPECT_EQ(v.node, "");
      EXPECT_EQ(v.message, "no input node");
    }
  }
}

// ---- Fused kernels (attention drawn as its operators) --------------------------------------

std::string fixtureText(const std::string& name) {
  std::ifstream in(fixture(name));
  EXPECT_TRUE(in) << fixture(name);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// valid.dot with, edit by edit, the first occurrence of `from` replaced by `to`.
std::vector<DagViolation> checkEditedFixture(
    const std::vector<std::pair<std::string, std::string>>& edits) {
  std::string text = fixtureText("valid.dot");
  for (const auto& [from, to] : edits) {
    const auto at = text.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    if (at != std::string::npos) text.replace(at, from.size(), to);
  }
  return checkDag(readText(text));
}

const std::string kGroupKind = "      kind=\"fused_kernel\";\n";

TEST(DagCheckFusedKernel, AGroupMustSayItIsOne) {
  const auto violations = checkEditedFixture({{kGroupKind, ""}});
  // The cluster is reported, and its operators as outside a fused kernel's group.
  ASSERT_EQ(rulesOf(violations), (std::vector<std::string>{"clusters", "operator-level",
                                                           "operator-level", "operator-level"}))
      << describe(violations);
  EXPECT_EQ(violations[0].message,
            "cluster \"cluster_r0_l0_attention\" (line 14) in \"cluster_gpu0\" is not a fused "
            "kernel's group (kind=\"fused_kernel\")");
  EXPECT_EQ(violations[1].node, "r0_l0_attention_qk");
}

TEST(DagCheckFusedKernel, AGroupIsLabelled) {
  const auto violations = checkEditedFixture(
      {{"      label=\"fused attention kernel (one launch)\";\n", "      label=\" \";\n"}});
  ASSERT_EQ(rulesOf(violations), std::vector<std::string>{"clusters"}) << describe(violations);
  EXPECT_NE(violations[0].message.find("has no label naming the kernel"), std::string::npos);
}

// A group drawn in another GPU's cluster puts its nodes on the wrong card.
TEST(DagCheckFusedKernel, AGroupSitsInItsGpusCluster) {
  const std::string text = fixtureText("valid.dot");
  const auto begin = text.find("    subgraph \"cluster_r1_l1_attention\" {\n");
  const auto end = text.find("    }\n", begin);
  ASSERT_NE(end, std::string::npos);
  const std::string group = text.substr(begin, end + 6 - begin);
  const std::string first_of_gpu0 = "    \"r0_l0_attn_norm\"";
  const auto violations = checkEditedFixture({{group, ""}, {first_of_gpu0, group + first_of_gpu0}});
  ASSERT_EQ(rulesOf(violations),
            (std::vector<std::string>{"gpu-cluster", "gpu-cluster", "gpu-cluster"}))
      << describe(violations);
  EXPECT_EQ(violations[0].node, "r1_l1_attention_qk");
  EXPECT_EQ(violations[0].message,
            "gpu=\"1\" but it sits in \"cluster_gpu0\" (through \"cluster_r1_l1_attention\"), "
            "not in \"cluster_gpu1\"");
}

TEST(DagCheckFusedKernel, AGroupHoldsOneOfEachOperator) {
  const auto violations =
      checkEditedFixture({{"op=\"attention_values\", gpu=\"0\", layer=\"0\"",
                           "op=\"attention_softmax\", gpu=\"0\", layer=\"0\""}});
  ASSERT_EQ(rulesOf(violations), std::vector<std::string>{"operator-level"})
      << describe(violations);
  EXPECT_EQ(violations[0].node, "r0_l0_attention_qk");
  EXPECT_EQ(violations[0].message,
            "the group \"cluster_r0_l0_attention\" holds 1 attention_scores, 2 "
            "attention_softmax, 0 attention_values; an attention's group holds one of each");
}

// Scores, then softmax, then values: the ops swapped on two nodes break the chain.
TEST(DagCheckFusedKernel, OperatorsRunScoresSoftmaxValues) {
  const std::string scores = "op=\"attention_scores\", gpu=\"1\", layer=\"1\"";
  const std::string softmax = "op=\"attention_softmax\", gpu=\"1\", layer=\"1\"";
  const auto violations =
      checkEditedFixture({{scores, "SWAPPED"}, {softmax, scores}, {"SWAPPED", softmax}});
  ASSERT_FALSE(violations.empty());
  for (const DagViolation& v : violations) {
    EXPECT_EQ(v.rule, "operator-level") << describe(violations);
  }
  EXPECT_EQ(violations[0].message,
            "no data edge from \"r1_l1_attention_softmax\" (attention_scores) in the group "
            "\"cluster_r1_l1_attention\": attention's operators run scores, softmax, values");
}

TEST(DagCheckFusedKernel, AttentionAsOneNodeNamesTheOperators) {
  const auto violations = checkDag(readFixture("broken-operator-level.dot"));
  ASSERT_EQ(violations.size(), 1u) << describe(violations);
  EXPECT_EQ(violations[0].node, "r1_l0_attention");
  EXPECT_NE(violations[0].message.find("attention drawn as one node"), std::string::npos);
  EXPECT_NE(violations[0].message.find("attention_scores"), std::string::npos);
}

// ---- The command --------------------------------------------------------------------------

struct CommandResult {
  int code = 0;
  std::string out;
  std::string err;
};

CommandResult runCheck(const std::string& path) {
  std::ostringstream out;
  std::ostringstream err;
  const int code = runDagCheck(path, out, err);
  return {code, out.str(), err.str()};
}

TEST(DagCheckCommand, ValidGraphExitsZero) {
  const std::string path = fixture("valid.dot");
  const CommandResult r = runCheck(path);
  EXPECT_EQ(r.code, 0);
  EXPECT_EQ(r.out, path + ": 78 nodes, 108 edges, OK\n");
  EXPECT_EQ(r.err, "");
}

TEST(DagCheckCommand, ViolationsExitOneWithALineEach) {
  const std::string path = fixture("broken-residual-inputs.dot");
  const CommandResult r = runCheck(path);
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.out, path + ": node \"r0_l0_attn_add\": residual-inputs: data flows in from 1 " +
                       "node(s); a residual add needs the branch and the residual stream\n" + path +
                       ": 78 nodes, 107 edges, 1 violation\n");
  EXPECT_EQ(r.err, "");

  const std::string graph_path = fixture("broken-all-layers.dot");
  const CommandResult g = runCheck(graph_path);
  EXPECT_EQ(g.code, 1);
  EXPECT_EQ(g.out, graph_path + ": graph: all-layers: no nodes in layer 2\n" + graph_path +
                       ": 78 nodes, 108 edges, 1 violation\n");
}

TEST(DagCheckCommand, UnreadableOrMalformedExitsTwo) {
  const CommandResult missing = runCheck(fixture("no-such-file.dot"));
  EXPECT_EQ(missing.code, 2);
  EXPECT_EQ(missing.out, "");
  EXPECT_EQ(missing.err.rfind(fixture("no-such-file.dot") + ": cannot read: ", 0), 0u)
      << missing.err;

  const CommandResult directory = runCheck(kFixtures);
  EXPECT_EQ(directory.code, 2);
  EXPECT_EQ(directory.err, kFixtures + ": cannot read: is a directory\n");

  // A FIFO nobody writes to: refused at once, never opened (opening it would block).
  const std::string fifo = testing::TempDir() + "dag_check_fifo.dot";
  std::filesystem::remove(fifo);
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0) << std::strerror(errno);
  const CommandResult pipe = runCheck(fifo);
  EXPECT_EQ(pipe.code, 2);
  EXPECT_EQ(pipe.err, fifo + ": cannot read: is not a regular file\n");
  std::filesystem::remove(fifo);

  const std::string path = testing::TempDir() + "dag_check_malformed.dot";
  {
    std::ofstream bad(path);
    bad << "digraph \"g\" {\n  graph [gpus=\"1\"];\n  \"a\" [label=\"x];\n}\n";
  }
  const CommandResult malformed = runCheck(path);
  EXPECT_EQ(malformed.code, 2);
  EXPECT_EQ(malformed.out, "");
  EXPECT_EQ(malformed.err, path + ":3: cannot parse: unterminated string\n");
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace shardrt::dag
