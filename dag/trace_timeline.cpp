#include "dag/trace_timeline.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <span>
#include <stdexcept>
#include <string_view>
#include <tuple>
#include <utility>

#include "common/atomic_file.h"
#include "runtime/tracer.h"

namespace shardrt::dag {
namespace {

using nlohmann::json;
using EventList = std::vector<const TraceEvent*>;
using RankEvents = std::span<const TraceEvent* const>;

// Categories follow what Kineto writes and what HTA reads. Kineto names a GPU kernel's
// category "kernel" (libkineto/src/ActivityType.cpp), NCCL kernels included: they differ from
// compute kernels only by stream and by name. HTA takes every event with a "stream" arg other
// than -1 for a GPU kernel (hta/common/trace.py and its analyzers) and tells communication from
// computation by the kernel name alone (hta/utils/utils.py, is_comm_kernel: ^nccl.*Kernel in
// HTA 0.5.0), so ops named all_reduce or send count as computation in its breakdowns. All ops
// are "kernel" events with "device" and "stream" args, as Kineto's kernels are, and the two
// tracks stand for the two streams. Kineto's own flows are
// CPU-to-GPU ("ac2g") or forward-backward ("fwdbwd") links within one rank; it has no
// cross-rank flow, so those arrows get categories of their own.
constexpr const char* kOpCategory = "kernel";
constexpr const char* kCollectiveFlowCategory = "collective";
constexpr const char* kP2pFlowCategory = "p2p";

// Track ids: Kineto's tid for a GPU event is its stream. 0 is left to process metadata, which
// Kineto writes with tid 0.
constexpr int kComputeTid = 1;
constexpr int kCommTid = 2;
// Generation: one slice per round ("prefill", "decode step N") spanning the rank's ops of it,
// on a track of its own above nothing (PyTorch's profiler marks its steps alike, as
// "ProfilerStep#N" user annotations).
constexpr int kStepTid = 3;
constexpr const char* kStepCategory = "user_annotation";

int trackOf(const TraceEvent& e) { return e.kind == OpKind::Comm ? kCommTid : kComputeTid; }

bool isP2p(const TraceEvent& e) {
  return e.kind == OpKind::Comm && e.peer >= 0 && (e.op == "send" || e.op == "recv");
}

// A negative duration (a clock stepping back) would make viewers drop or mangle the slice.
double durationOf(const TraceEvent& e) { return std::max(0.0, e.end_us - e.start_us); }
// Computed the way a reader computes ts + dur, so that points placed inside a slice test inside.
double sliceEnd(const TraceEvent& e) { return e.start_us + durationOf(e); }

// Sorted by rank, then by order on the rank: a rank's events are contiguous, the k-th send on a
// rank precedes the (k+1)-th, and the output does not depend on the input's order.
EventList timelineOrder(const std::vector<TraceEvent>& events) {
  EventList order;
  order.reserve(events.size());
  for (const auto& e : events) {
    if (!isBookkeeping(e)) order.push_back(&e);
  }
  std::stable_sort(order.begin(), order.end(), [](const TraceEvent* a, const TraceEvent* b) {
    return std::tie(a->rank, a->seq, a->start_us, a->end_us, a->op, a->name) <
           std::tie(b->rank, b->seq, b->start_us, b->end_us, b->op, b->name);
  });
  return order;
}

RankEvents eventsOfRank(const EventList& order, int rank) {
  const auto range = std::ranges::equal_range(order, rank, std::ranges::less{}, &TraceEvent::rank);
  return {range.begin(), range.end()};
}

// Every rank of the world gets a process, idle or not; a rank beyond it that has events too.
std::vector<int> ranksOf(const EventList& order, const TimelineInfo& info) {
  std::set<int> ranks;
  for (int r = 0; r < info.world_size; ++r) ranks.insert(r);
  for (const TraceEvent* e : order) ranks.insert(e->rank);
  return {ranks.begin(), ranks.end()};
}

// With a ts, as Kineto writes them: not every reader takes an event without one.
json metadataEvent(const char* name, int pid, int tid, json args) {
  return {{"name", name}, {"ph", "M"},  {"ts", 0},
          {"pid", pid},   {"tid", tid}, {"args", std::move(args)}};
}

// Names and orders the rank's process and its two tracks, in Kineto's metadata events
// (process_name, process_sort_index, thread_name, thread_sort_index).
void appendRankMetadata(json& out, int rank) {
  const std::string label = "rank " + std::to_string(rank) + " (GPU " + std::to_string(rank) + ")";
  out.push_back(metadataEvent("process_name", rank, 0, {{"name", label}}));
  out.push_back(metadataEvent("process_sort_index", rank, 0, {{"sort_index", rank}}));
  for (const auto& [tid, name] :
       {std::pair{kComputeTid, "compute"}, std::pair{kCommTid, "communication"}}) {
    out.push_back(metadataEvent("thread_name", rank, tid, {{"name", name}}));
    out.push_back(metadataEvent("thread_sort_index", rank, tid, {{"sort_index", tid}}));
  }
}

json shapeList(const std::vector<TensorRef>& tensors) {
  json shapes = json::array();
  for (const auto& t : tensors) shapes.push_back(t.shape.str());
  return shapes;
}

json opArgs(const TraceEvent& e) {
  json args = {{"op", e.op},
               {"kind", opKindName(e.kind)},
               {"seq", e.seq},
               {"device", e.rank},
               {"stream", trackOf(e)},
               {"inputs", shapeList(e.inputs)},
               {"weights", shapeList(e.weights)},
               {"outputs", shapeList(e.outputs)},
               {"flops", e.flops},
               {"bytes", e.bytes}};
  if (e.layer >= 0) args["layer"] = e.layer;
  if (e.expert >= 0) args["expert"] = e.expert;
  if (e.microbatch >= 0) args["microbatch"] = e.microbatch;
  if (e.round >= 0) args["round"] = e.round;
  if (!e.mask.empty()) args["mask"] = e.mask;
  if (e.kind != OpKind::Comm) return args;
  if (!e.group.empty()) args["group"] = e.group;
  if (!e.group_ranks.empty()) args["group_ranks"] = e.group_ranks;
  if (e.group_seq >= 0) args["group_seq"] = e.group_seq;
  if (e.peer >= 0) args["peer"] = e.peer;
  return args;
}

json completeEvent(const TraceEvent& e) {
  return {{"ph", "X"},
          {"cat", kOpCategory},
          {"name", e.name.empty() ? e.op : e.name},
          {"pid", e.rank},
          {"tid", trackOf(e)},
          {"ts", e.start_us},
          {"dur", durationOf(e)},
          {"args", opArgs(e)}};
}

// The rank's generation rounds, each from its first op's start to its last op's end. With
// overlapped rounds a stage takes a round's new tokens while it runs the next: that hand-over
// is left out, so that the rank's round slices follow one another.
void appendRounds(json& out, int rank, RankEvents events) {
  std::map<int, std::pair<double, double>> rounds;
  for (const TraceEvent* e : events) {
    if (e->round < 0 || e->name == kNewTokensHandOver) continue;
    auto [it, fresh] = rounds.try_emplace(e->round, e->start_us, sliceEnd(*e));
    if (!fresh) {
      it->second.first = std::min(it->second.first, e->start_us);
      it->second.second = std::max(it->second.second, sliceEnd(*e));
    }
  }
  if (rounds.empty()) return;
  out.push_back(metadataEvent("thread_name", rank, kStepTid, {{"name", "generation rounds"}}));
  out.push_back(metadataEvent("thread_sort_index", rank, kStepTid, {{"sort_index", 0}}));
  for (const auto& [round, span] : rounds) {
    out.push_back({{"ph", "X"},
                   {"cat", kStepCategory},
                   {"name", round == 0 ? std::string("prefill")
                                       : "decode step " + std::to_string(round)},
                   {"pid", rank},
                   {"tid", kStepTid},
                   {"ts", span.first},
                   {"dur", span.second - span.first},
                   {"args", {{"round", round}}}});
  }
}

void appendRank(json& out, int rank, RankEvents events) {
  appendRankMetadata(out, rank);
  appendRounds(out, rank, events);
  for (const TraceEvent* e : events) out.push_back(completeEvent(*e));
}

struct Arrow {
  const TraceEvent* from;
  const TraceEvent* to;
  const char* category;
  std::string name;
};

// The calls of one collective share (group_ranks, group_seq) on every member; the arrows go
// from the first member of the group, in group order, to each other member.
void appendCollectiveArrows(const EventList& order, std::vector<Arrow>& arrows) {
  std::map<std::pair<std::vector<int>, long>, std::map<int, const TraceEvent*>> calls;
  for (const TraceEvent* e : order) {
    if (e->kind != OpKind::Comm || isP2p(*e) || e->group_seq < 0) continue;
    calls[{e->group_ranks, e->group_seq}].emplace(e->rank, e);  // a repeat on a rank is dropped
  }
  for (const auto& [call, by_rank] : calls) {
    const TraceEvent* first = nullptr;
    for (int rank : call.first) {
      const auto it = by_rank.find(rank);
      if (it == by_rank.end()) continue;
      if (!first) {
        first = it->second;
        continue;
      }
      const std::string name =
          first->group.empty() ? first->op : first->op + " (" + first->group + ")";
      arrows.push_back({first, it->second, kCollectiveFlowCategory, name});
    }
  }
}

// The k-th send from a rank to a peer is received by the peer's k-th recv from that rank.
void appendP2pArrows(const EventList& order, std::vector<Arrow>& arrows) {
  std::map<std::pair<int, int>, std::pair<EventList, EventList>> lanes;  // (sender, receiver)
  for (const TraceEvent* e : order) {
    if (!isP2p(*e)) continue;
    if (e->op == "send") {
      lanes[{e->rank, e->peer}].first.push_back(e);
    } else {
      lanes[{e->peer, e->rank}].second.push_back(e);
    }
  }
  for (const auto& [lane, calls] : lanes) {
    const auto& [sends, recvs] = calls;
    for (std::size_t k = 0; k < std::min(sends.size(), recvs.size()); ++k) {
      arrows.push_back({sends[k], recvs[k], kP2pFlowCategory, "send/recv"});
    }
  }
}

// Where an arrow leaves its source and reaches its target. A flow event binds to the slice that
// encloses it on its track, so both points lie inside their slices; where the slices overlap in
// time both lie inside the overlap, start before finish, since Perfetto drops a flow whose
// finish it reads before its start. Slices that do not overlap get their middles.
std::pair<double, double> arrowTimes(const TraceEvent& from, const TraceEvent& to) {
  const double lo = std::max(from.start_us, to.start_us);
  const double hi = std::min(sliceEnd(from), sliceEnd(to));
  if (lo < hi) {
    return {std::clamp(lo + (hi - lo) / 3, lo, hi), std::clamp(lo + 2 * (hi - lo) / 3, lo, hi)};
  }
  return {from.start_us + durationOf(from) / 2, to.start_us + durationOf(to) / 2};
}

json flowEvent(const char* phase, long id, const TraceEvent& e, double ts, const Arrow& arrow) {
  json flow = {{"ph", phase},       {"id", id}, {"pid", e.rank},
               {"tid", trackOf(e)}, {"ts", ts}, {"cat", arrow.category},
               {"name", arrow.name}};
  // Perfetto pairs a start with its finish by id, cat and name. A start binds to its enclosing
  // slice by default, a finish only with "bp": "e" (as Kineto writes it); else to the next one.
  if (std::string_view(phase) == "f") flow["bp"] = "e";
  return flow;
}

void appendArrows(json& out, const EventList& order) {
  std::vector<Arrow> arrows;
  appendCollectiveArrows(order, arrows);
  appendP2pArrows(order, arrows);
  long id = 1;
  for (const Arrow& arrow : arrows) {
    const auto [start, finish] = arrowTimes(*arrow.from, *arrow.to);
    out.push_back(flowEvent("s", id, *arrow.from, start, arrow));
    out.push_back(flowEvent("f", id, *arrow.to, finish, arrow));
    ++id;
  }
}

json document(const TimelineInfo& info, json trace_events) {
  return {{"schemaVersion", 1},
          {"traceName", info.title},
          {"displayTimeUnit", "ms"},
          {"traceEvents", std::move(trace_events)}};
}

json allRanksDocument(const EventList& order, const TimelineInfo& info) {
  json trace_events = json::array();
  for (int rank : ranksOf(order, info)) appendRank(trace_events, rank, eventsOfRank(order, rank));
  appendArrows(trace_events, order);
  return document(info, std::move(trace_events));
}

// One rank's file, as Kineto writes it on a distributed run: HTA maps each file of a directory
// to its rank by the rank in distributedInfo (hta/common/trace_file.py). Arrows are left out: their
// other end lies in another file.
json rankDocument(const TimelineInfo& info, int rank, RankEvents events) {
  json trace_events = json::array();
  appendRank(trace_events, rank, events);
  json doc = document(info, std::move(trace_events));
  doc["distributedInfo"] = {
      {"backend", info.backend}, {"rank", rank}, {"world_size", info.world_size}};
  return doc;
}

std::string dumpValue(const json& value, int indent = -1) {
  // A stray byte in an op name must not lose the whole timeline at the end of a run.
  return value.dump(indent, ' ', false, json::error_handler_t::replace);
}

// Moves every line but the first two spaces right: a dumped value nested one level deeper.
std::string nested(std::string text) {
  for (auto at = text.find('\n'); at != std::string::npos; at = text.find('\n', at + 1)) {
    text.insert(at + 1, "  ");
  }
  return text;
}

// Compact, one event a line: small for a thousand ranks, yet greppable and diffable. The
// top-level values come first and indented as Kineto writes them: HTA finds a file's rank by
// the first line of its text that matches "rank":\s+(\d+) (hta/common/trace_file.py,
// create_rank_to_trace_dict), so the space after the colon matters.
std::string serialize(const json& doc) {
  std::string text = "{\n";
  for (const auto& [key, value] : doc.items()) {
    if (key == "traceEvents") continue;
    text += "  " + dumpValue(key) + ": " + nested(dumpValue(value, 2)) + ",\n";
  }
  text += "  \"traceEvents\": [";
  const json& events = doc.at("traceEvents");
  for (std::size_t i = 0; i < events.size(); ++i) {
    text += i == 0 ? "\n    " : ",\n    ";
    text += dumpValue(events[i]);
  }
  return text + "\n  ]\n}\n";
}

void writeFile(const std::filesystem::path& path, const std::string& text) {
  writeFileAtomically(path.string(), [&](std::ostream& out) { out << text; });
}

}  // namespace

json chromeTrace(const std::vector<TraceEvent>& events, const TimelineInfo& info, int only_rank) {
  const EventList order = timelineOrder(events);
  if (only_rank >= 0) return rankDocument(info, only_rank, eventsOfRank(order, only_rank));
  return allRanksDocument(order, info);
}

void writeTimeline(const std::vector<TraceEvent>& events, const TimelineInfo& info,
                   const std::string& dir) {
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  if (error) {
    throw std::runtime_error("cannot create timeline directory " + dir + ": " + error.message());
  }
  const std::filesystem::path root(dir);
  const EventList order = timelineOrder(events);
  writeFile(root / "trace.json", serialize(allRanksDocument(order, info)));
  std::filesystem::create_directories(root / "ranks", error);
  if (error) {
    throw std::runtime_error("cannot create timeline directory " + (root / "ranks").string() +
                             ": " + error.message());
  }
  for (int rank : ranksOf(order, info)) {
    writeFile(root / "ranks" / ("rank" + std::to_string(rank) + ".trace.json"),
              serialize(rankDocument(info, rank, eventsOfRank(order, rank))));
  }
}

}  // namespace shardrt::dag
