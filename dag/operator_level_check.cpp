#include "dag/operator_level_check.h"

#include <array>
#include <map>
#include <set>
#include <string>
#include <utility>

#include "dag/fused_kernel.h"

namespace shardrt::dag {
namespace {

constexpr const char* kRule = "operator-level";

// Attention's operators in data order: a group must chain them so.
constexpr std::array<const char*, 3> kAttentionOperators = {kAttentionScoresOp, kAttentionSoftmaxOp,
                                                            kAttentionValuesOp};

std::string attr(const DotAttrs& attrs, const char* key) {
  const auto it = attrs.find(key);
  return it == attrs.end() ? std::string() : it->second;
}

std::string quoted(const std::string& s) { return "\"" + s + "\""; }

int operatorIndex(const std::string& op) {
  for (std::size_t i = 0; i < kAttentionOperators.size(); ++i) {
    if (op == kAttentionOperators[i]) return static_cast<int>(i);
  }
  return -1;
}

// The nodes of one fused kernel's group, per attention operator, and its reads of a KV cache.
struct Group {
  std::array<std::vector<const DotNode*>, 3> operators;
  std::vector<const DotNode*> cache_reads;
};

}  // namespace

void checkOperatorLevel(const DotGraph& g, std::vector<DagViolation>& out) {
  const auto report = [&out](const std::string& node, std::string message) {
    out.push_back(DagViolation{node, kRule, std::move(message)});
  };
  std::set<std::string> fused_clusters;
  for (const DotCluster& c : g.clusters) {
    if (attr(c.attrs, "kind") == kFusedKernelKind) fused_clusters.insert(c.id);
  }
  // Groups in order of their first operator; the first declaration of a node id counts
  // (`duplicate` reports the others).
  std::vector<std::string> group_order;
  std::map<std::string, Group> groups;
  std::set<std::string> seen;
  for (const DotNode& node : g.nodes) {
    if (!seen.insert(node.id).second) continue;
    const std::string op = attr(node.attrs, "op");
    if (op == kAttentionModuleOp || op == kCachedAttentionModuleOp) {
      report(node.id, op +
                          " drawn as one node; it is several operations, drawn as "
                          "attention_scores (Q·K^T), attention_softmax (mask + softmax) and "
                          "attention_values (·V), after the kv_cache_reads where it reads a cache, "
                          "in a fused kernel's group (cluster with kind=\"fused_kernel\")");
      continue;
    }
    const int index = operatorIndex(op);
    if (index < 0 && op != kCacheReadOp) continue;
    if (!fused_clusters.count(node.cluster)) {
      report(node.id,
             "op=" + quoted(op) + " outside a fused kernel's group: it sits in " +
                 (node.cluster.empty() ? std::string("no cluster") : quoted(node.cluster)) +
                 ", a cluster without kind=\"fused_kernel\"");
      continue;
    }
    if (!groups.count(node.cluster)) group_order.push_back(node.cluster);
    if (index < 0) {
      groups[node.cluster].cache_reads.push_back(&node);
    } else {
      groups[node.cluster].operators[index].push_back(&node);
    }
  }
  std::set<std::pair<std::string, std::string>> data_edges;
  for (const DotEdge& e : g.edges) {
    if (attr(e.attrs, "kind") == "data") data_edges.emplace(e.from, e.to);
  }
  for (const std::string& cluster : group_order) {
    const Group& group = groups.at(cluster);
    const DotNode* first = nullptr;
    std::string counts;
    bool one_each = true;
    for (std::size_t i = 0; i < kAttentionOperators.size(); ++i) {
      const auto& nodes = group.operators[i];
      if (!first && !nodes.empty()) first = nodes[0];
      one_each = one_each && nodes.size() == 1;
      counts += (i ? ", " : "") + std::to_string(nodes.size()) + " " + kAttentionOperators[i];
    }
    if (!one_each) {
      report(first ? first->id : group.cache_reads[0]->id,
             "the group " + quoted(cluster) + " holds " + counts +
                 "; an attention's group holds one of each");
      continue;
    }
    // Over a KV cache: one read feeds the scores (the keys), one the last product (the values).
    if (!group.cache_reads.empty()) {
      const DotNode* scores = group.operators[0][0];
      const DotNode* values = group.operators[2][0];
      int into_scores = 0, into_values = 0;
      for (const DotNode* read : group.cache_reads) {
        into_scores += data_edges.count({read->id, scores->id}) ? 1 : 0;
        into_values += data_edges.count({read->id, values->id}) ? 1 : 0;
      }
      if (group.cache_reads.size() != 2 || into_scores != 1 || into_values != 1) {
        report(group.cache_reads[0]->id,
               "the group " + quoted(cluster) + " holds " +
                   std::to_string(group.cache_reads.size()) + " kv_cache_read, " +
                   std::to_string(into_scores) + " into " + quoted(scores->id) + " and " +
                   std::to_string(into_values) + " into " + quoted(values->id) +
                   "; attention over a cache reads it twice: the keys into the scores, the "
                   "values into attention_values");
      }
    }
    for (std::size_t i = 0; i + 1 < kAttentionOperators.size(); ++i) {
      const DotNode* from = group.operators[i][0];
      const DotNode* to = group.operators[i + 1][0];
      if (!data_edges.count({from->id, to->id})) {
        report(to->id, "no data edge from " + quoted(from->id) + " (" + kAttentionOperators[i] +
                           ") in the group " + quoted(cluster) + ": attention's operators run " +
                           "scores, softmax, values");
      }
    }
  }
}

}  // namespace shardrt::dag
