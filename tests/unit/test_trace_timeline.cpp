// The timeline is what chrome://tracing, Perfetto and HTA need: complete events with every field
// a viewer reads, metadata naming every process and track, flow arrows that pair up and bind to
// the slices they join, one file per rank with Kineto's distributedInfo, and equal bytes for
// equal events.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "dag/trace_timeline.h"
#include "runtime/tracer.h"

namespace shardrt::dag {
namespace {

using nlohmann::json;

constexpr int kWorld = 3;

TensorRef tensor(Shape shape) { return {0x1000, 64, std::move(shape)}; }

TraceEvent compute(int rank, long seq, std::string name, std::string op, double start, double end) {
  TraceEvent e;
  e.rank = rank;
  e.seq = seq;
  e.kind = OpKind::Compute;
  e.op = std::move(op);
  e.name = std::move(name);
  e.start_us = start;
  e.end_us = end;
  e.flops = 1000.0;
  e.bytes = 256.0;
  e.inputs = {tensor({{"batch_size", 2}, {"hidden", 64}})};
  e.outputs = {tensor({{"batch_size", 2}, {"hidden", 64}})};
  return e;
}

TraceEvent collective(int rank, long seq, std::string group, std::vector<int> members,
                      long group_seq, double start, double end) {
  TraceEvent e = compute(rank, seq, "", "all_reduce", start, end);
  e.kind = OpKind::Comm;
  e.group = std::move(group);
  e.group_ranks = std::move(members);
  e.group_seq = group_seq;
  e.flops = 0.0;
  return e;
}

TraceEvent p2p(int rank, long seq, const char* op, int peer, long group_seq, double start,
               double end) {
  TraceEvent e = collective(rank, seq, "pp", {1, 2}, group_seq, start, end);
  e.op = op;
  e.peer = peer;
  return e;
}

// Three ranks: a world all_reduce (group_seq 0), a tp all_reduce on ranks 0 and 2 with the same
// group_seq (a different collective: the key is the member list and the sequence), two sends
// from rank 1 to rank 2 and their recvs, a layer's ops, one expert's op, a route op.
std::vector<TraceEvent> deployment() {
  const std::vector<int> world = {0, 1, 2};
  std::vector<TraceEvent> events = {
      compute(0, 0, "input_norm", "rmsnorm", 0, 10),
      compute(0, 1, "q_proj", "linear", 10, 30),
      collective(0, 2, "world", world, 0, 30, 50),
      compute(0, 3, "fc1", "linear", 50, 70),
      compute(0, 4, "", "topk", 70, 75),
      collective(0, 5, "tp", {0, 2}, 0, 80, 90),
      compute(1, 0, "input_norm", "rmsnorm", 0, 12),
      compute(1, 1, "q_proj", "linear", 12, 28),
      collective(1, 2, "world", world, 0, 28, 50),
      p2p(1, 3, "send", 2, 0, 50, 60),
      p2p(1, 4, "send", 2, 1, 60, 70),
      compute(2, 0, "input_norm", "rmsnorm", 0, 9),
      collective(2, 1, "world", world, 0, 25, 50),
      p2p(2, 2, "recv", 1, 0, 52, 61),
      p2p(2, 3, "recv", 1, 1, 61, 72),
      collective(2, 4, "tp", {0, 2}, 0, 75, 90),
  };
  for (auto& e : events) e.layer = e.rank == 0 && e.seq >= 3 ? 1 : 0;
  events[3].expert = 5;
  events[3].microbatch = 0;
  events[3].weights = {tensor({{"ffn", 32, 128}, {"hidden", 64}})};
  events[4].kind = OpKind::Route;
  return events;
}

TimelineInfo info() { return {"nccl", kWorld, "test deployment"}; }

std::vector<json> eventsWithPhase(const json& trace, const std::string& ph) {
  std::vector<json> out;
  for (const auto& e : trace.at("traceEvents")) {
    if (e.at("ph") == ph) out.push_back(e);
  }
  return out;
}

// The X event a flow binds to: on the flow's pid and tid, its slice holding the flow's ts. A
// point on a boundary between two slices, or in none, binds nowhere for sure.
std::optional<json> enclosingSlice(const std::vector<json>& slices, const json& flow) {
  std::optional<json> found;
  const double at = flow.at("ts");
  for (const auto& x : slices) {
    if (x.at("pid") != flow.at("pid") || x.at("tid") != flow.at("tid")) continue;
    const double ts = x.at("ts"), end = ts + x.at("dur").get<double>();
    if (at < ts || at > end) continue;
    if (found) return std::nullopt;
    found = x;
  }
  return found;
}

struct BoundArrow {
  json start, finish;
  std::optional<json> from, to;  // the slices they bind to
};

// Pairs each flow id's start and finish; fails the test on an id without exactly one of each.
std::vector<BoundArrow> arrows(const json& trace) {
  std::map<long, std::vector<json>> by_id;
  for (const auto& e : trace.at("traceEvents")) {
    if (e.at("ph") == "s" || e.at("ph") == "f") by_id[e.at("id").get<long>()].push_back(e);
  }
  const auto slices = eventsWithPhase(trace, "X");
  std::vector<BoundArrow> out;
  for (const auto& [id, flows] : by_id) {
    EXPECT_EQ(flows.size(), 2u) << "flow id " << id;
    if (flows.size() != 2) continue;
    const bool start_first = flows[0].at("ph") == "s";
    const json& start = start_first ? flows[0] : flows[1];
    const json& finish = start_first ? flows[1] : flows[0];
    EXPECT_EQ(start.at("ph"), "s") << "flow id " << id;
    EXPECT_EQ(finish.at("ph"), "f") << "flow id " << id;
    out.push_back({start, finish, enclosingSlice(slices, start), enclosingSlice(slices, finish)});
  }
  return out;
}

TEST(TraceTimeline, CompleteEventsCarryWhatViewersRead) {
  const json trace = chromeTrace(deployment(), info());
  const auto slices = eventsWithPhase(trace, "X");
  ASSERT_EQ(slices.size(), 16u);
  for (const auto& x : slices) {
    ASSERT_TRUE(x.contains("name") && x.at("name").is_string()) << x;
    EXPECT_FALSE(x.at("name").get<std::string>().empty()) << x;
    EXPECT_TRUE(x.at("ts").is_number()) << x;
    EXPECT_GE(x.at("dur").get<double>(), 0.0) << x;
    EXPECT_TRUE(x.at("pid").is_number_integer()) << x;
    EXPECT_TRUE(x.at("tid").is_number_integer()) << x;
    EXPECT_EQ(x.at("cat"), "kernel") << x;
    ASSERT_TRUE(x.at("args").is_object()) << x;
    EXPECT_TRUE(x.at("args").contains("op")) << x;
    // HTA counts an event as a GPU kernel by its stream arg.
    EXPECT_EQ(x.at("args").at("stream"), x.at("tid")) << x;
    EXPECT_EQ(x.at("args").at("device"), x.at("pid")) << x;
  }
  EXPECT_EQ(trace.at("displayTimeUnit"), "ms");
  EXPECT_EQ(trace.at("traceName"), "test deployment");
  EXPECT_FALSE(trace.contains("distributedInfo"));
}

TEST(TraceTimeline, TimesAreMicrosecondsAndNegativeDurationsClampToZero) {
  auto events = deployment();
  events[1].start_us = 10.5;
  events[1].end_us = 30.25;
  events[2].end_us = events[2].start_us - 1;  // a clock stepping back
  const auto slices = eventsWithPhase(chromeTrace(events, info()), "X");
  EXPECT_EQ(slices[1].at("ts"), 10.5);
  EXPECT_EQ(slices[1].at("dur"), 19.75);
  EXPECT_EQ(slices[2].at("dur"), 0.0);
}

TEST(TraceTimeline, NameFallsBackToOp) {
  const auto slices = eventsWithPhase(chromeTrace(deployment(), info()), "X");
  EXPECT_EQ(slices[1].at("name"), "q_proj");
  EXPECT_EQ(slices[2].at("name"), "all_reduce");
  EXPECT_EQ(slices[4].at("name"), "topk");
}

TEST(TraceTimeline, ArgsCarryShapesLayerExpertAndGroup) {
  const auto events = deployment();
  const auto slices = eventsWithPhase(chromeTrace(events, info()), "X");
  const json& fc1 = slices[3].at("args");
  EXPECT_EQ(fc1.at("op"), "linear");
  EXPECT_EQ(fc1.at("kind"), "compute");
  EXPECT_EQ(fc1.at("layer"), 1);
  EXPECT_EQ(fc1.at("expert"), 5);
  EXPECT_EQ(fc1.at("microbatch"), 0);
  EXPECT_EQ(fc1.at("inputs"), json::array({"[batch_size=2, hidden=64]"}));
  EXPECT_EQ(fc1.at("weights"), json::array({"[ffn=32 (of 128), hidden=64]"}));
  EXPECT_EQ(fc1.at("outputs"), json::array({events[3].outputs[0].shape.str()}));
  EXPECT_EQ(fc1.at("flops"), 1000.0);
  EXPECT_EQ(fc1.at("bytes"), 256.0);
  EXPECT_FALSE(fc1.contains("group"));

  const json& norm = slices[0].at("args");
  EXPECT_FALSE(norm.contains("expert"));  // -1: outside any expert
  EXPECT_FALSE(norm.contains("microbatch"));

  const json& all_reduce = slices[2].at("args");
  EXPECT_EQ(all_reduce.at("kind"), "comm");
  EXPECT_EQ(all_reduce.at("group"), "world");
  EXPECT_EQ(all_reduce.at("group_ranks"), json::array({0, 1, 2}));
  EXPECT_EQ(all_reduce.at("group_seq"), 0);
  EXPECT_FALSE(all_reduce.contains("peer"));
  EXPECT_EQ(slices[9].at("args").at("peer"), 2);  // rank 1's first send
  EXPECT_EQ(slices[4].at("args").at("kind"), "route");
}

TEST(TraceTimeline, CommunicationHasItsOwnTrack) {
  const auto slices = eventsWithPhase(chromeTrace(deployment(), info()), "X");
  std::set<int> compute_tids, comm_tids;
  for (const auto& x : slices) {
    (x.at("args").at("kind") == "comm" ? comm_tids : compute_tids).insert(x.at("tid").get<int>());
  }
  ASSERT_EQ(compute_tids.size(), 1u);  // compute and route share one
  ASSERT_EQ(comm_tids.size(), 1u);
  EXPECT_NE(*compute_tids.begin(), *comm_tids.begin());
}

TEST(TraceTimeline, MetadataNamesEveryProcessAndTrack) {
  auto events = deployment();
  events.push_back(compute(0, 6, "", kOpAllocate, 0, 0));  // bookkeeping: not on the timeline
  const json trace = chromeTrace(events, info());
  const auto metadata = eventsWithPhase(trace, "M");
  ASSERT_EQ(metadata.size(), 6u * kWorld);
  std::map<int, std::string> process_names;
  std::set<int> sorted_processes;
  std::set<std::pair<int, int>> named_tracks;
  for (const auto& m : metadata) {
    const int pid = m.at("pid");
    if (m.at("name") == "process_name") process_names[pid] = m.at("args").at("name");
    if (m.at("name") == "process_sort_index") sorted_processes.insert(pid);
    if (m.at("name") == "thread_name") named_tracks.insert({pid, m.at("tid").get<int>()});
  }
  for (int rank = 0; rank < kWorld; ++rank) {
    const std::string r = std::to_string(rank);
    EXPECT_EQ(process_names[rank], "rank " + r + " (GPU " + r + ")");
    EXPECT_TRUE(sorted_processes.count(rank)) << rank;
  }
  std::size_t slices = 0;
  for (const auto& e : trace.at("traceEvents")) {
    if (e.at("ph") == "M") continue;
    slices += e.at("ph") == "X";
    EXPECT_TRUE(process_names.count(e.at("pid").get<int>())) << e;
    EXPECT_TRUE(named_tracks.count({e.at("pid").get<int>(), e.at("tid").get<int>()})) << e;
  }
  EXPECT_EQ(slices, 16u);
}

TEST(TraceTimeline, IdleRanksOfTheWorldStillGetAProcess) {
  TimelineInfo wide = info();
  wide.world_size = 5;
  const auto metadata = eventsWithPhase(chromeTrace(deployment(), wide), "M");
  EXPECT_EQ(metadata.size(), 6u * 5);
}

TEST(TraceTimeline, FlowsPairUpAndBindInsideTheirSlices) {
  const json trace = chromeTrace(deployment(), info());
  const auto bound = arrows(trace);
  ASSERT_EQ(bound.size(), 5u);  // world: 2, tp: 1, send/recv: 2
  for (const auto& a : bound) {
    EXPECT_EQ(a.start.at("cat"), a.finish.at("cat"));
    EXPECT_EQ(a.start.at("name"), a.finish.at("name"));
    EXPECT_EQ(a.finish.at("bp"), "e");
    EXPECT_FALSE(a.start.contains("bp"));
    EXPECT_TRUE(a.from) << a.start;
    EXPECT_TRUE(a.to) << a.finish;
    EXPECT_NE(a.start.at("pid"), a.finish.at("pid"));
    // The slices overlap: the arrow must not point back in time.
    EXPECT_LE(a.start.at("ts").get<double>(), a.finish.at("ts").get<double>());
  }
}

TEST(TraceTimeline, EachCollectiveLinksItsFirstMemberToEveryOtherMember) {
  const json trace = chromeTrace(deployment(), info());
  std::multiset<std::tuple<std::vector<int>, long, int, int>> links;
  for (const auto& a : arrows(trace)) {
    if (a.start.at("cat") != "collective") continue;
    ASSERT_TRUE(a.from && a.to);
    const json& from = a.from->at("args");
    const json& to = a.to->at("args");
    EXPECT_EQ(from.at("group_ranks"), to.at("group_ranks"));
    EXPECT_EQ(from.at("group_seq"), to.at("group_seq"));
    links.insert({from.at("group_ranks").get<std::vector<int>>(), from.at("group_seq").get<long>(),
                  a.from->at("pid").get<int>(), a.to->at("pid").get<int>()});
  }
  const std::multiset<std::tuple<std::vector<int>, long, int, int>> expected = {
      {{0, 1, 2}, 0, 0, 1}, {{0, 1, 2}, 0, 0, 2}, {{0, 2}, 0, 0, 2}};
  EXPECT_EQ(links, expected);
}

TEST(TraceTimeline, FirstMemberFollowsGroupOrder) {
  // Group order puts world rank 2 first: the arrows leave rank 2.
  std::vector<TraceEvent> events = {collective(0, 0, "tp", {2, 0, 1}, 4, 0, 10),
                                    collective(1, 0, "tp", {2, 0, 1}, 4, 0, 10),
                                    collective(2, 0, "tp", {2, 0, 1}, 4, 0, 10)};
  std::set<std::pair<int, int>> links;
  for (const auto& a : arrows(chromeTrace(events, info()))) {
    links.insert({a.start.at("pid").get<int>(), a.finish.at("pid").get<int>()});
  }
  EXPECT_EQ(links, (std::set<std::pair<int, int>>{{2, 0}, {2, 1}}));
}

TEST(TraceTimeline, KthSendMeetsKthRecv) {
  const json trace = chromeTrace(deployment(), info());
  std::set<std::pair<long, long>> pairs;  // sender's seq, receiver's seq
  for (const auto& a : arrows(trace)) {
    if (a.start.at("cat") != "p2p") continue;
    ASSERT_TRUE(a.from && a.to);
    EXPECT_EQ(a.from->at("args").at("op"), "send");
    EXPECT_EQ(a.to->at("args").at("op"), "recv");
    EXPECT_EQ(a.from->at("pid"), 1);
    EXPECT_EQ(a.to->at("pid"), 2);
    pairs.insert(
        {a.from->at("args").at("seq").get<long>(), a.to->at("args").at("seq").get<long>()});
  }
  EXPECT_EQ(pairs, (std::set<std::pair<long, long>>{{3, 2}, {4, 3}}));
}

TEST(TraceTimeline, UnmatchedSendAndLoneMemberDrawNoArrow) {
  std::vector<TraceEvent> events = {p2p(1, 0, "send", 2, 0, 0, 10),
                                    collective(0, 0, "tp", {0, 1}, 0, 0, 10)};
  EXPECT_TRUE(arrows(chromeTrace(events, info())).empty());
}

TEST(TraceTimeline, ArrowsBindToInstantAndDisjointSlices) {
  // A dry run's zero-length ops, and a recv that starts after its send ended.
  std::vector<TraceEvent> events = {
      collective(0, 0, "tp", {0, 1}, 0, 5, 5), collective(1, 0, "tp", {0, 1}, 0, 5, 5),
      p2p(1, 1, "send", 2, 0, 10, 20), p2p(2, 0, "recv", 1, 0, 30, 40)};
  const auto bound = arrows(chromeTrace(events, info()));
  ASSERT_EQ(bound.size(), 2u);
  for (const auto& a : bound) {
    EXPECT_TRUE(a.from) << a.start;
    EXPECT_TRUE(a.to) << a.finish;
    EXPECT_LE(a.start.at("ts").get<double>(), a.finish.at("ts").get<double>());
  }
}

TEST(TraceTimeline, RankTraceHoldsOnlyItsRankWithDistributedInfo) {
  const json trace = chromeTrace(deployment(), info(), 1);
  ASSERT_TRUE(trace.contains("distributedInfo"));
  EXPECT_EQ(trace.at("distributedInfo"),
            (json{{"backend", "nccl"}, {"rank", 1}, {"world_size", kWorld}}));
  EXPECT_EQ(trace.at("displayTimeUnit"), "ms");
  for (const auto& e : trace.at("traceEvents")) EXPECT_EQ(e.at("pid"), 1) << e;
  EXPECT_EQ(eventsWithPhase(trace, "X").size(), 5u);
  EXPECT_EQ(eventsWithPhase(trace, "M").size(), 6u);
  EXPECT_TRUE(eventsWithPhase(trace, "s").empty());  // the other ends lie in other files
  EXPECT_TRUE(eventsWithPhase(trace, "f").empty());
}

TEST(TraceTimeline, SameEventsInAnyOrderGiveTheSameTrace) {
  auto events = deployment();
  const std::string once = chromeTrace(events, info()).dump();
  EXPECT_EQ(chromeTrace(events, info()).dump(), once);
  std::reverse(events.begin(), events.end());
  EXPECT_EQ(chromeTrace(events, info()).dump(), once);
  EXPECT_NE(chromeTrace(events, {"mpi", kWorld, "other"}).dump(), once);
}

class TimelineFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* test = ::testing::UnitTest::GetInstance()->current_test_info();
    root_ = std::filesystem::temp_directory_path() /
            (std::string("shardrt_timeline_") + test->name() + "_" + std::to_string(::getpid()));
    std::filesystem::remove_all(root_);
  }
  void TearDown() override { std::filesystem::remove_all(root_); }

  static std::string read(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  }

  std::filesystem::path root_;
};

TEST_F(TimelineFiles, WritesTheWholeTraceAndOneFilePerRank) {
  const auto dir = root_ / "nested" / "timeline";  // created on the way
  writeTimeline(deployment(), info(), dir.string());
  std::set<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    names.insert(entry.path().filename().string());
  }
  EXPECT_EQ(names, (std::set<std::string>{"trace.json", "ranks"}));
  names.clear();
  for (const auto& entry : std::filesystem::directory_iterator(dir / "ranks")) {
    names.insert(entry.path().filename().string());
  }
  EXPECT_EQ(names,
            (std::set<std::string>{"rank0.trace.json", "rank1.trace.json", "rank2.trace.json"}));
  EXPECT_EQ(json::parse(read(dir / "trace.json")), chromeTrace(deployment(), info()));
  for (int rank = 0; rank < kWorld; ++rank) {
    const json trace =
        json::parse(read(dir / "ranks" / ("rank" + std::to_string(rank) + ".trace.json")));
    EXPECT_EQ(trace.at("distributedInfo").at("rank"), rank);
    EXPECT_EQ(trace.at("distributedInfo").at("world_size"), kWorld);
    for (const auto& e : trace.at("traceEvents")) EXPECT_EQ(e.at("pid"), rank) << e;
    EXPECT_EQ(trace, chromeTrace(deployment(), info(), rank));
  }
}

// HTA maps a file to its rank by the first match of this pattern in its text, not by parsing
// it (hta/common/trace_file.py); with no match it takes the file for rank 0.
TEST_F(TimelineFiles, HtaFindsEachFilesRankInItsText) {
  writeTimeline(deployment(), info(), root_.string());
  const std::regex hta_rank(R"re("rank":\s+(\d+))re");
  for (int rank = 0; rank < kWorld; ++rank) {
    const std::string text =
        read(root_ / "ranks" / ("rank" + std::to_string(rank) + ".trace.json"));
    std::smatch match;
    ASSERT_TRUE(std::regex_search(text, match, hta_rank)) << rank;
    EXPECT_EQ(match[1], std::to_string(rank));
    EXPECT_LT(match.position(0), text.find("traceEvents"));
  }
}

TEST_F(TimelineFiles, SameEventsGiveByteIdenticalFiles) {
  auto events = deployment();
  writeTimeline(events, info(), (root_ / "a").string());
  std::reverse(events.begin(), events.end());
  writeTimeline(events, info(), (root_ / "b").string());
  for (const char* name : {"trace.json", "ranks/rank0.trace.json", "ranks/rank1.trace.json"}) {
    const std::string a = read(root_ / "a" / name);
    EXPECT_FALSE(a.empty()) << name;
    EXPECT_EQ(a, read(root_ / "b" / name)) << name;
  }
}

TEST_F(TimelineFiles, UnwritablePathIsNamedInTheError) {
  std::filesystem::create_directories(root_);
  std::ofstream(root_ / "file") << "not a directory";
  const std::string dir = (root_ / "file" / "timeline").string();
  try {
    writeTimeline(deployment(), info(), dir);
    FAIL() << "expected std::runtime_error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(dir), std::string::npos) << e.what();
  }
}

TEST_F(TimelineFiles, UnwritableFileIsNamedInTheError) {
  std::filesystem::create_directories(root_ / "ranks" / "rank1.trace.json");  // in the way
  try {
    writeTimeline(deployment(), info(), root_.string());
    FAIL() << "expected std::runtime_error";
  } catch (const std::runtime_error& e) {
    const std::string path = (root_ / "ranks" / "rank1.trace.json").string();
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace shardrt::dag
