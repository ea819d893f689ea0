#include "dag/deployment_graph.h"

#include <algorithm>
#include <map>
#include <optional>
#include <ostream>
#include <set>
#include <sstream>
#include <stdexcept>
#include <tuple>
#include <unordered_map>

#include "dag/fused_attention.h"
#include "runtime/tracer.h"

namespace shardrt::dag {
namespace {

// A tensor some node wrote, as the memory it covers: reads of part of it become splits.
struct Produced {
  int node = -1;
  std::uint64_t start = 0, bytes = 0;  // the whole tensor, in this address space
  Shape shape;
  int expert = -1;  // the producer's expert, for ops of one expert
};

// One rank's memory: which node last wrote each byte range (non-overlapping segments).
class WriterMap {
 public:
  struct Piece {
    std::uint64_t begin, end;
    Produced tensor;
  };

  // An op's output of zero bytes (an expert no token chose) is remembered at its address, so
  // that the ops reading that empty slice still hang off it.
  // Empty outputs are kept per expert: consecutive experts with no rows share an address.
  void write(std::uint64_t begin, std::uint64_t end, const Produced& p, int expert = -1) {
    if (begin == end) {
      empty_[{begin, expert}] = p;
      return;
    }
    clearSegments(begin, end);
    segments_.emplace(begin, Piece{begin, end, p});
  }

  // Memory allocated or overwritten from the host: nothing traced wrote it.
  void clear(std::uint64_t begin, std::uint64_t end) {
    clearSegments(begin, end);
    empty_.erase(empty_.lower_bound({begin, -1}), empty_.upper_bound({end, kMaxExpert}));
  }

  // The empty output an op of `expert` left at a.
  std::optional<Produced> emptyWriteAt(std::uint64_t a, int expert) const {
    if (auto it = empty_.find({a, expert}); it != empty_.end()) return it->second;
    return std::nullopt;
  }

  // Zero-byte outputs at addresses in [begin, end].
  std::vector<Piece> emptyWrites(std::uint64_t begin, std::uint64_t end) const {
    std::vector<Piece> out;
    for (auto it = empty_.lower_bound({begin, -1}); it != empty_.end() && it->first.first <= end;
         ++it) {
      out.push_back({it->first.first, it->first.first, it->second});
    }
    return out;
  }

  // The segment holding the point a (or ending at it): where an empty slice lies.
  std::optional<Piece> around(std::uint64_t a) const {
    auto it = segments_.upper_bound(a);
    if (it == segments_.begin()) return std::nullopt;
    --it;
    if (it->second.end >= a) return Piece{a, a, it->second.tensor};
    return std::nullopt;
  }

 private:
  void clearSegments(std::uint64_t begin, std::uint64_t end) {
    if (begin >= end) return;
    auto it = segments_.lower_bound(begin);
    if (it != segments_.begin() && std::prev(it)->second.end > begin) --it;
    std::vector<Piece> keep;
    while (it != segments_.end() && it->second.begin < end) {
      const Piece p = it->second;
      it = segments_.erase(it);
      if (p.begin < begin) keep.push_back({p.begin, begin, p.tensor});
      if (p.end > end) keep.push_back({end, p.end, p.tensor});
    }
    for (const auto& p : keep) segments_.emplace(p.begin, p);
  }

 public:
  std::vector<Piece> read(std::uint64_t begin, std::uint64_t end) const {
    std::vector<Piece> out;
    if (begin >= end) return out;
    auto it = segments_.lower_bound(begin);
    if (it != segments_.begin() && std::prev(it)->second.end > begin) --it;
    for (; it != segments_.end() && it->second.begin < end; ++it) {
      const Piece& p = it->second;
      out.push_back({std::max(p.begin, begin), std::min(p.end, end), p.tensor});
    }
    return out;
  }

 private:
  std::map<std::uint64_t, Piece> segments_;
  static constexpr int kMaxExpert = 1 << 30;
  std::map<std::pair<std::uint64_t, int>, Produced> empty_;  // (address, expert)
};

// The part [begin, end) of a tensor, shaped by scaling its first dimension.
Shape partShape(const Produced& t, std::uint64_t begin, std::uint64_t end) {
  if (t.shape.rank() == 0 || t.bytes == 0) return t.shape;
  std::vector<Dim> dims = t.shape.dims();
  const std::uint64_t row_bytes = t.bytes / static_cast<std::uint64_t>(dims[0].size);
  if (row_bytes == 0 || (end - begin) % row_bytes != 0) return t.shape;
  dims[0] = Dim(dims[0].name, static_cast<std::int64_t>((end - begin) / row_bytes), dims[0].global);
  return Shape(dims);
}

Shape globalShape(const Shape& s) {
  std::vector<Dim> dims;
  for (const auto& d : s.dims()) dims.emplace_back(d.name, d.global, d.global);
  return Shape(dims);
}

void addShape(std::vector<Shape>& list, const Shape& s) {
  if (std::find(list.begin(), list.end(), s) == list.end()) list.push_back(s);
}

std::string joinRanks(const std::vector<int>& ranks) {
  std::string s;
  for (int r : ranks) s += (s.empty() ? "" : ",") + std::to_string(r);
  return s;
}

class GraphBuilder {
 public:
  explicit GraphBuilder(const GraphInfo& info) { graph_.info = info; }

  DeploymentGraph build(std::vector<TraceEvent> events) {
    std::stable_sort(events.begin(), events.end(), [](const TraceEvent& a, const TraceEvent& b) {
      return std::tie(a.rank, a.seq) < std::tie(b.rank, b.seq);
    });
    for (std::size_t i = 0; i < events.size();) {
      std::size_t j = i;
      while (j < events.size() && events[j].rank == events[i].rank) ++j;
      replayRank(events, i, j);
      i = j;
    }
    addGateEdges(events);
    joinModelInputsAndOutputs();
    nameWhatAllReducesFollow();
    return finish();
  }

 private:
  int addNode(GraphNode n) {
    graph_.nodes.push_back(std::move(n));
    return static_cast<int>(graph_.nodes.size()) - 1;
  }

  // A tp all-reduce sums the partial outputs of a row-parallel projection: its title says
  // which one ("(all_reduce, tp) after o_proj"), read from the ops that feed it (issue 16,
  // item 5: a reader should not have to follow the edges back to know).
  void nameWhatAllReducesFollow() {
    std::vector<std::set<std::string>> fed_by(graph_.nodes.size());
    for (const GraphEdge& e : graph_.edges) {
      const GraphNode& from = graph_.nodes[e.from];
      if (e.gate || from.kind != "compute") continue;
      const std::size_t paren = from.title.find(" (");
      fed_by[e.to].insert(paren == std::string::npos ? from.title : from.title.substr(0, paren));
    }
    for (std::size_t i = 0; i < graph_.nodes.size(); ++i) {
      GraphNode& n = graph_.nodes[i];
      if (n.kind != "comm" || n.op != "all_reduce" || fed_by[i].size() != 1) continue;
      n.title += " after " + *fed_by[i].begin();
    }
  }

  void addEdge(int from, int to, bool gate = false) {
    if (from == to) return;
    if (edge_set_.emplace(from, to, gate).second) graph_.edges.push_back({from, to, gate});
  }

  void replayRank(const std::vector<TraceEvent>& events, std::size_t begin, std::size_t end) {
    WriterMap memory;
    ops_on_rank_ = 0;
    splits_.clear();
    reshapes_.clear();
    for (std::size_t i = begin; i < end; ++i) {
      const TraceEvent& e = events[i];
      if (e.op == kOpAllocate || e.op == kOpHostWrite) {
        for (const auto& w : e.outputs) memory.clear(w.address, w.address + w.bytes);
      } else if (e.op == kOpDeviceCopy) {
        copy(memory, e.inputs.at(0), e.outputs.at(0));
      } else if (e.op == kOpModelInput) {
        const int n = addNode(pseudo("input", e, {}, {e.outputs.at(0).shape}));
        model_inputs_.push_back(n);
        produce(memory, n, e.outputs.at(0));
      } else if (e.op == kOpModelOutput) {
        const int n = addNode(pseudo("output", e, {e.inputs.at(0).shape}, {}));
        model_outputs_.push_back(n);
        consume(memory, n, e.inputs.at(0), e);
      } else if (e.kind == OpKind::Comm) {
        communication(memory, e);
      } else if (e.op == kAttentionModuleOp) {
        fusedAttention(memory, e);
      } else if (e.op == kCachedAttentionModuleOp) {
        fusedCachedAttention(memory, e);
      } else {
        const int n = addNode(opNode(e));
        for (const auto& r : e.inputs) consume(memory, n, r, e);
        for (const auto& w : e.outputs) produce(memory, n, w, e.expert);
        if (e.op == "topk") topk_nodes_.push_back({n, static_cast<int>(i)});
        if (e.expert >= 0) {
          expert_first_.emplace(std::make_tuple(e.rank, e.layer, e.microbatch, e.expert), n);
        }
      }
    }
  }

  GraphNode pseudo(const char* kind, const TraceEvent& e, std::vector<Shape> in,
                   std::vector<Shape> out) {
    GraphNode n;
    n.kind = kind;
    n.op = kind;
    n.gpus = {e.rank};
    n.inputs = std::move(in);
    n.outputs = std::move(out);
    return n;
  }

  GraphNode opNode(const TraceEvent& e) {
    GraphNode n;
    // Numbered among the rank's drawn ops, so bookkeeping records (an upload skipped when
    // empty) cannot shift the ids between a run and a dry run.
    n.id = "r" + std::to_string(e.rank) + "_" + std::to_string(ops_on_rank_++);
    n.kind = opKindName(e.kind);
    // Adds that close a residual branch are marked as such (`residual-inputs` is checked on them).
    n.op = e.name == "residual_add" ? "residual_add" : e.op;
    std::string what = e.name == e.op ? e.op : e.name + " (" + e.op + ")";
    // Top-k has two outputs of one shape: say which is which, in the order of the Output lines.
    if (e.op == "topk") what += ": outputs the experts chosen, then their weights";
    n.title = e.expert >= 0 ? "expert " + std::to_string(e.expert) + " " + what : what;
    n.gpus = {e.rank};
    n.layer = e.layer;
    n.expert = e.expert;
    n.microbatch = e.microbatch;
    for (const auto& r : e.inputs) n.inputs.push_back(r.shape);
    for (const auto& r : e.weights) n.weights.push_back(r.shape);
    for (const auto& r : e.outputs) n.outputs.push_back(r.shape);
    n.flops = e.flops;
    return n;
  }

  // The attention kernel, recorded as one call, drawn as its three operators in a group
  // labelled as the one launch (dag/fused_attention.h). q and k feed the scores, v the last
  // product, whose output is the call's: every edge into or out of the group is the call's own.
  void fusedAttention(WriterMap& memory, const TraceEvent& e) {
    const GraphNode call = opNode(e);
    AttentionOperators ops = attentionOperators(call, e);
    const int kernel = static_cast<int>(graph_.fused_kernels.size());
    graph_.fused_kernels.push_back({"cluster_" + call.id, kFusedAttentionLabel});
    for (GraphNode* n : {&ops.scores, &ops.softmax, &ops.values}) n->fused_kernel = kernel;
    const int scores = addNode(std::move(ops.scores));
    consume(memory, scores, e.inputs[0], e);
    consume(memory, scores, e.inputs[1], e);
    const int softmax = addNode(std::move(ops.softmax));
    addEdge(scores, softmax);
    const int values = addNode(std::move(ops.values));
    addEdge(softmax, values);
    consume(memory, values, e.inputs[2], e);
    produce(memory, values, e.outputs[0]);
  }

  // Attention over the KV cache, drawn as its operators in a group like attention's: the reads
  // of the k and v caches (and of each token's sequence and position) feed the two products.
  void fusedCachedAttention(WriterMap& memory, const TraceEvent& e) {
    const GraphNode call = opNode(e);
    CachedAttentionOperators ops = cachedAttentionOperators(call, e);
    const int kernel = static_cast<int>(graph_.fused_kernels.size());
    graph_.fused_kernels.push_back({"cluster_" + call.id, kFusedCachedAttentionLabel});
    for (GraphNode* n : {&ops.read_keys, &ops.scores, &ops.softmax, &ops.read_values, &ops.values})
      n->fused_kernel = kernel;
    const int read_keys = addNode(std::move(ops.read_keys));
    for (int i : {1, 3, 4}) consume(memory, read_keys, e.inputs[i], e);
    const int scores = addNode(std::move(ops.scores));
    consume(memory, scores, e.inputs[0], e);
    addEdge(read_keys, scores);
    const int softmax = addNode(std::move(ops.softmax));
    addEdge(scores, softmax);
    const int read_values = addNode(std::move(ops.read_values));
    for (int i : {2, 3, 4}) consume(memory, read_values, e.inputs[i], e);
    const int values = addNode(std::move(ops.values));
    addEdge(softmax, values);
    addEdge(read_values, values);
    produce(memory, values, e.outputs[0]);
  }

  void produce(WriterMap& memory, int node, const TensorRef& t, int expert = -1) {
    memory.write(t.address, t.address + t.bytes, {node, t.address, t.bytes, t.shape, expert},
                 expert);
  }

  // dst now holds what src held: the writers of src, seen through dst's addresses.
  void copy(WriterMap& memory, const TensorRef& src, const TensorRef& dst) {
    const auto pieces = memory.read(src.address, src.address + src.bytes);
    memory.clear(dst.address, dst.address + dst.bytes);
    for (const auto& p : pieces) {
      const std::uint64_t shift = dst.address - src.address;  // wraps: unsigned arithmetic
      Produced t = p.tensor;
      t.start += shift;
      memory.write(p.begin + shift, p.end + shift, t);
    }
  }

  // Edges into `node` for its read of r: straight from the writer when r is what it wrote,
  // through a split, reshape or concat node otherwise.
  // The structure must not depend on how many rows each expert received (the dry run routes
  // uniformly, a real run by scores, and an expert may receive none): an expert's op reads its
  // rows through a split even when they are the whole tensor, and what reads the experts'
  // outputs back does so through a concat even of one expert or of empty outputs.
  void consume(WriterMap& memory, int node, const TensorRef& r, const TraceEvent& e) {
    std::vector<WriterMap::Piece> pieces;
    if (r.bytes == 0) {  // an empty slice: the same expert's empty output, else what lies there
      if (e.expert >= 0) {
        if (const auto w = memory.emptyWriteAt(r.address, e.expert)) {
          addEdge(w->node, node);
          return;
        }
      }
      pieces = memory.emptyWrites(r.address, r.address);
      // An expert's empty slice of its rows lies in (or at the end of) the tensor holding
      // them. Nothing else is looked up around an address: an empty allocation may sit where a
      // freed tensor's stale writer still is.
      if (pieces.empty() && e.expert >= 0) {
        if (const auto p = memory.around(r.address)) pieces.push_back(*p);
      }
    } else {
      pieces = memory.read(r.address, r.address + r.bytes);
      // Empty outputs inside the range; at its end too for a reader of all experts' rows (the
      // last experts may have none), never another expert's for one expert's op.
      for (const auto& p : memory.emptyWrites(r.address, r.address + r.bytes)) {
        const bool at_end = p.begin == r.address + r.bytes;
        if (e.expert >= 0 && (at_end || p.tensor.expert != e.expert)) continue;
        pieces.push_back(p);
      }
    }
    // Empty outputs of consecutive experts share an address: they keep the order the experts
    // ran in (the placement's, as in the dry run), not their expert numbers.
    std::sort(pieces.begin(), pieces.end(), [](const auto& a, const auto& b) {
      return std::tie(a.begin, a.end, a.tensor.node) < std::tie(b.begin, b.end, b.tensor.node);
    });
    if (pieces.empty()) return;
    const bool from_experts =
        e.expert < 0 && std::any_of(pieces.begin(), pieces.end(),
                                    [](const auto& p) { return p.tensor.expert >= 0; });
    if (pieces.size() > 1 || from_experts) {
      addEdge(concatNode(pieces, r.shape, e), node);
      return;
    }
    const Produced& t = pieces[0].tensor;
    const bool whole = t.start == r.address && t.bytes == r.bytes;
    const bool into_expert = e.expert >= 0 && t.expert < 0;
    if (whole && !into_expert) {
      addEdge(t.shape == r.shape ? t.node : reshapeNode(t, r.shape, e), node);
    } else {
      addEdge(splitNode(t, r.shape, e, r.address, r.address + r.bytes), node);
    }
  }

  // A node joining the pieces a read spans (each a whole tensor, or a part through a split).
  int concatNode(const std::vector<WriterMap::Piece>& pieces, const Shape& out,
                 const TraceEvent& e) {
    GraphNode concat;
    concat.id = "k" + std::to_string(graph_.nodes.size());
    concat.kind = "route";
    concat.op = "concat";
    concat.title = "concat";
    concat.gpus = {e.rank};
    concat.layer = e.layer;
    concat.microbatch = e.microbatch;
    concat.outputs = {out};
    std::vector<std::pair<int, Shape>> parts;
    for (const auto& p : pieces) {
      const Produced& t = p.tensor;
      if (p.begin == t.start && p.end == t.start + t.bytes) {
        parts.emplace_back(t.node, t.shape);
      } else {
        const Shape s = partShape(t, p.begin, p.end);
        parts.emplace_back(splitNode(t, s, e, p.begin, p.end), s);
      }
    }
    for (const auto& [from, shape] : parts) concat.inputs.push_back(shape);
    const int k = addNode(std::move(concat));
    for (const auto& [from, shape] : parts) addEdge(from, k);
    return k;
  }

  // One split node per tensor that is read in parts, with one output per part (address range).
  int splitNode(const Produced& t, const Shape& part, const TraceEvent& e, std::uint64_t begin,
                std::uint64_t end) {
    const auto key = std::make_pair(t.node, t.start);
    auto it = splits_.find(key);
    if (it == splits_.end()) {
      GraphNode s;
      s.id = "s" + std::to_string(graph_.nodes.size());
      s.kind = "route";
      s.op = "split";
      s.title = "split " + (t.shape.rank() > 0 ? t.shape[0].name : std::string("rows"));
      s.gpus = {e.rank};
      s.layer = e.layer;
      s.microbatch = e.microbatch;
      s.inputs = {t.shape};
      const int n = addNode(std::move(s));
      addEdge(t.node, n);
      it = splits_.emplace(key, n).first;
    }
    // Parts by address range, and by the expert reading them: experts with no rows all read
    // the same empty range, and each gets its own (empty) part.
    if (split_parts_.emplace(it->second, begin, end, e.expert).second) {
      graph_.nodes[it->second].outputs.push_back(part);
    }
    return it->second;
  }

  int reshapeNode(const Produced& t, const Shape& to, const TraceEvent& e) {
    const auto key = std::make_tuple(t.node, t.start, to.str());
    auto it = reshapes_.find(key);
    if (it != reshapes_.end()) return it->second;
    GraphNode s;
    s.id = "v" + std::to_string(graph_.nodes.size());
    s.kind = "route";
    s.op = "reshape";
    s.title = to.rank() > t.shape.rank()   ? "split heads"
              : to.rank() < t.shape.rank() ? "merge heads"
                                           : "reshape";
    s.gpus = {e.rank};
    s.layer = e.layer;
    s.microbatch = e.microbatch;
    s.inputs = {t.shape};
    s.outputs = {to};
    const int n = addNode(std::move(s));
    addEdge(t.node, n);
    reshapes_.emplace(key, n);
    return n;
  }

  // One node per collective (same group members and sequence number on every member) or per
  // send/recv pair; each member's record adds its edges.
  void communication(WriterMap& memory, const TraceEvent& e) {
    std::string key;
    std::vector<int> gpus;
    if (e.op == "send" || e.op == "recv") {
      const int from = e.op == "send" ? e.rank : e.peer, to = e.op == "send" ? e.peer : e.rank;
      key = "p2p " + std::to_string(from) + ">" + std::to_string(to) + "#" +
            std::to_string(e.group_seq);
      gpus = {std::min(from, to), std::max(from, to)};
    } else {
      key = e.op + " " + joinRanks(e.group_ranks) + "#" + std::to_string(e.group_seq);
      gpus = e.group_ranks;
      std::sort(gpus.begin(), gpus.end());
    }
    auto it = comm_nodes_.find(key);
    if (it == comm_nodes_.end()) {
      GraphNode n;
      n.id = "c" + std::to_string(comm_nodes_.size());
      n.kind = "comm";
      const bool p2p = e.op == "send" || e.op == "recv";
      n.op = p2p ? "send_recv" : e.op;
      const std::string call = (p2p ? std::string("send/recv") : e.op) + ", " + e.group;
      n.title = (e.name == e.op || p2p ? "" : e.name + " ") + "(" + call + ")";
      n.gpus = gpus;
      n.layer = e.layer;
      n.microbatch = e.microbatch;
      it = comm_nodes_.emplace(key, addNode(std::move(n))).first;
    }
    const int node = it->second;
    // One Input and Output line per member (docs/dag.md: an Input line per data input), in
    // rank order.
    for (const auto& r : e.inputs) {
      graph_.nodes[node].inputs.push_back(r.shape);
      consume(memory, node, r, e);
    }
    for (const auto& w : e.outputs) {
      graph_.nodes[node].outputs.push_back(w.shape);
      produce(memory, node, w);
    }
  }

  // Each top-k may send tokens to every expert of its expert-parallel group (the members of
  // the first all-to-all after it on its rank), in the same layer and microbatch.
  void addGateEdges(const std::vector<TraceEvent>& events) {
    for (const auto& [node, index] : topk_nodes_) {
      const TraceEvent& t = events[index];
      std::vector<int> members = {t.rank};
      for (std::size_t i = index + 1; i < events.size() && events[i].rank == t.rank; ++i) {
        const TraceEvent& c = events[i];
        if (c.kind == OpKind::Comm && c.op == "all_to_all" && c.layer == t.layer &&
            c.microbatch == t.microbatch) {
          members = c.group_ranks;
          break;
        }
      }
      for (int q : members) {
        auto it = expert_first_.lower_bound(std::make_tuple(q, t.layer, t.microbatch, -1));
        for (; it != expert_first_.end() && std::get<0>(it->first) == q &&
               std::get<1>(it->first) == t.layer && std::get<2>(it->first) == t.microbatch;
             ++it) {
          addEdge(node, it->second, true);
        }
      }
    }
  }

  // The ranks' model inputs become one input node (through a batch split when replicas take
  // parts of the batch); their outputs one output node (through a batch concat).
  void joinModelInputsAndOutputs() {
    if (model_inputs_.empty() || model_outputs_.empty()) {
      throw std::logic_error("graph: the trace holds no model input or output");
    }
    const Shape in_shape = globalShape(graph_.nodes[model_inputs_[0]].outputs.at(0));
    const Shape out_shape = globalShape(graph_.nodes[model_outputs_[0]].inputs.at(0));
    GraphNode in, out;
    in.id = "input";
    in.kind = in.op = "input";
    in.title = "model input";
    in.outputs = {in_shape};
    out.id = "output";
    out.kind = out.op = "output";
    out.title = "model output";
    out.inputs = {out_shape};
    for (int p : model_inputs_) in.gpus.push_back(graph_.nodes[p].gpus[0]);
    for (int p : model_outputs_) out.gpus.push_back(graph_.nodes[p].gpus[0]);
    // A rank reads an input per microbatch in generation: each GPU is named once.
    for (std::vector<int>* gpus : {&in.gpus, &out.gpus}) {
      std::sort(gpus->begin(), gpus->end());
      gpus->erase(std::unique(gpus->begin(), gpus->end()), gpus->end());
    }
    const int input = addNode(std::move(in));
    const int output = addNode(std::move(out));

    int split = -1, concat = -1;
    for (int p : model_inputs_) {
      const Shape& s = graph_.nodes[p].outputs[0];
      int from = input;
      if (s != in_shape) {
        if (split < 0) split = batchNode("split", "split batch", input, in_shape, true);
        addShape(graph_.nodes[split].outputs, s);
        from = split;
      }
      redirect(p, from);
    }
    for (int p : model_outputs_) {
      const Shape& s = graph_.nodes[p].inputs[0];
      int to = output;
      if (s != out_shape) {
        if (concat < 0) concat = batchNode("concat", "concat batch", output, out_shape, false);
        addShape(graph_.nodes[concat].inputs, s);
        to = concat;
      }
      redirect(p, to);
    }
  }

  int batchNode(const char* op, const char* title, int io, const Shape& whole, bool split) {
    GraphNode n;
    n.id = split ? "split_batch" : "concat_batch";
    n.kind = "route";
    n.op = op;
    n.title = title;
    n.gpus = graph_.nodes[io].gpus;
    (split ? n.inputs : n.outputs) = {whole};
    const int node = addNode(std::move(n));
    split ? addEdge(io, node) : addEdge(node, io);
    return node;
  }

  // Moves every edge of pseudo node p onto node `to` (in finish()), and drops p.
  void redirect(int p, int to) { redirect_[p] = to; }

  DeploymentGraph finish() {
    for (auto& e : graph_.edges) {
      if (auto it = redirect_.find(e.from); it != redirect_.end()) e.from = it->second;
      if (auto it = redirect_.find(e.to); it != redirect_.end()) e.to = it->second;
    }
    std::vector<int> index(graph_.nodes.size(), -1);
    std::vector<GraphNode> kept;
    for (std::size_t i = 0; i < graph_.nodes.size(); ++i) {
      if (redirect_.count(static_cast<int>(i))) continue;
      index[i] = static_cast<int>(kept.size());
      kept.push_back(std::move(graph_.nodes[i]));
    }
    std::set<std::tuple<int, int, bool>> seen;
    std::vector<GraphEdge> edges;
    for (const auto& e : graph_.edges) {
      const int from = index[e.from], to = index[e.to];
      if (from < 0 || to < 0 || from == to || !seen.emplace(from, to, e.gate).second) continue;
      edges.push_back({from, to, e.gate});
    }
    graph_.nodes = std::move(kept);
    graph_.edges = std::move(edges);
    return std::move(graph_);
  }

  DeploymentGraph graph_;
  std::set<std::tuple<int, int, bool>> edge_set_;
  std::map<std::string, int> comm_nodes_;
  std::map<std::pair<int, std::uint64_t>, int> splits_;
  std::set<std::tuple<int, std::uint64_t, std::uint64_t, int>> split_parts_;  // node, range, expert
  std::map<std::tuple<int, std::uint64_t, std::string>, int> reshapes_;
  std::vector<int> model_inputs_, model_outputs_;
  std::vector<std::pair<int, int>> topk_nodes_;                 // node, event index
  std::map<std::tuple<int, int, int, int>, int> expert_first_;  // rank, layer, mb, expert
  std::map<int, int> redirect_;
  long ops_on_rank_ = 0;  // pseudo node -> the node that takes its edges
};

}  // namespace

DeploymentGraph buildDeploymentGraph(std::vector<TraceEvent> events, const GraphInfo& info) {
  return GraphBuilder(info).build(std::move(events));
}

}  // namespace shardrt::dag
