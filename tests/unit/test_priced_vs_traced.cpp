// Issue 18, item 1: the planner prices what the runtime runs. For every strategy the planner
// accepts for every example on 1, 2, 4 and 8 GPUs, the ops PlanCostModel::rankOps prices for a
// rank are held against what that rank ran in a dry run (dag/dry_run.h: every rank's executor
// on the meta backend, traced by the recorders of `run --trace`), for the first microbatch:
// - each compute op, by layer, name and call: its FLOPs and the bytes it read and wrote, summed
//   over experts;
// - each collective and message, in order: its call, its group, the bytes this rank sent and
//   the size it is priced at (what the buffers the runtime passed it hold: the all-reduce's,
//   the all-gather's output, the larger of the all-to-all's send and receive buffers).
// An op that runs and is not priced, or is priced and does not run, fails as a difference.
//
// The meta backend routes token t's k slots to experts t*k .. t*k+k-1 (mod experts), which is
// uniform per rank only when each rank's slots are a multiple of the experts: MoE examples run
// at a seq_len that makes them so (a multiple of 8 x experts), and long enough that every
// expert is expected to receive rows (the priced count of active experts is an expectation).
// The planning examples of Qwen3-30B-A3B (128 experts) and DeepSeek-V3 (256) run only on
// request (PricedVsTracedHeavy): at such a seq_len a dry run of theirs routes for minutes.
// Their families' ops are those of tiny-qwen3-moe-hf and tiny-deepseek-v3-hf, always compared.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "dag/dry_run.h"
#include "planner/strategy_search.h"
#include "tests/unit/planner_fixtures.h"

namespace shardrt::planner {
namespace {

using config::Deployment;
using planner::testing::oneNode;

struct Sums {
  double flops = 0.0, bytes = 0.0;
};
using Key = std::tuple<int, std::string, std::string>;  // layer, name, call
struct Comm {
  int layer;
  std::string name, op, group;
  double bytes;  // sent by this rank
  double size;   // the size its price is of (planner/cost_model.h)
};

struct RankOps {
  std::map<Key, Sums> compute;
  std::vector<Comm> comm;
};

bool same(double a, double b) {
  return std::abs(a - b) <= 1e-9 * std::max(std::abs(a), std::abs(b));
}

std::string describe(const Comm& c) {
  std::ostringstream s;
  s << "layer " << c.layer << " " << c.name << " " << c.op << " (" << c.group << ") " << c.bytes
    << " bytes sent, size " << c.size;
  return s.str();
}

double bufferBytes(const std::vector<TensorRef>& refs) {
  double b = 0.0;
  for (const TensorRef& r : refs) b += static_cast<double>(r.bytes);
  return b;
}

// The size the cost model prices a traced collective at, from the buffers the runtime passed
// it: the all-reduce's buffer, the all-gather's output, the larger of an all-to-all's send and
// receive buffers, a message.
double pricedSize(const TraceEvent& e) {
  if (e.op == "all_gather") return bufferBytes(e.outputs);
  if (e.op == "all_to_all") return std::max(bufferBytes(e.inputs), bufferBytes(e.outputs));
  return bufferBytes(e.inputs);
}

RankOps traced(const std::vector<TraceEvent>& events, int rank) {
  RankOps out;
  for (const TraceEvent& e : events) {
    if (e.rank != rank || e.microbatch != 0 || (e.flops == 0.0 && e.bytes == 0.0)) continue;
    if (e.kind == OpKind::Comm) {
      out.comm.push_back({e.layer, e.name, e.op, e.group, e.bytes, pricedSize(e)});
      continue;
    }
    Sums& s = out.compute[{e.layer, e.name, e.op}];
    s.flops += e.flops;
    s.bytes += e.bytes;
  }
  return out;
}

RankOps priced(const std::vector<PricedOp>& ops) {
  RankOps out;
  for (const PricedOp& op : ops) {
    if (op.count * (op.flops + op.bytes) == 0.0) continue;
    if (op.cls == OpClass::Collective) {
      out.comm.push_back({op.layer, op.name, op.op, op.group, op.bytes, op.size});
      continue;
    }
    Sums& s = out.compute[{op.layer, op.name, op.op}];
    s.flops += op.count * op.flops;
    s.bytes += op.count * op.bytes;
  }
  return out;
}

// Every difference between what a rank ran and what was priced, one line each.
std::vector<std::string> differences(const RankOps& ran, const RankOps& price) {
  std::vector<std::string> out;
  for (const auto& [key, t] : ran.compute) {
    const auto& [layer, name, op] = key;
    const std::string what = "layer " + std::to_string(layer) + " " + name + " (" + op + ")";
    const auto it = price.compute.find(key);
    if (it == price.compute.end()) {
      out.push_back(what + " ran but is not priced");
      continue;
    }
    if (!same(t.flops, it->second.flops) || !same(t.bytes, it->second.bytes)) {
      std::ostringstream s;
      s << what << ": traced " << t.flops << " FLOPs, " << t.bytes << " bytes; priced "
        << it->second.flops << " FLOPs, " << it->second.bytes << " bytes";
      out.push_back(s.str());
    }
  }
  for (const auto& [key, p] : price.compute) {
    if (!ran.compute.count(key)) {
      out.push_back("layer " + std::to_string(std::get<0>(key)) + " " + std::get<1>(key) + " (" +
                    std::get<2>(key) + ") priced but did not run");
    }
  }
  for (std::size_t i = 0; i < std::max(ran.comm.size(), price.comm.size()); ++i) {
    if (i >= ran.comm.size()) {
      out.push_back("priced but did not run: " + describe(price.comm[i]));
    } else if (i >= price.comm.size()) {
      out.push_back("ran but is not priced: " + describe(ran.comm[i]));
    } else {
      const Comm &t = ran.comm[i], &p = price.comm[i];
      if (t.layer != p.layer || t.name != p.name || t.op != p.op || t.group != p.group ||
          !same(t.bytes, p.bytes) || !same(t.size, p.size)) {
        out.push_back("collective " + std::to_string(i) + ": traced " + describe(t) + "; priced " +
                      describe(p));
      }
    }
  }
  return out;
}

// The example at sizes where the meta routing is exactly uniform per rank (above).
Deployment exampleAtUniformRouting(const std::string& name) {
  Deployment d = config::loadDeployment(std::string(SHARDRT_EXAMPLES) + "/" + name + ".json");
  if (d.model.hasMoe()) {
    const int unit = 8 * d.model.moe.experts;
    const int least = (224 * d.model.moe.experts + d.model.moe.top_k - 1) / d.model.moe.top_k;
    const int want = std::max(d.workload.seq_len, least);
    d.workload.seq_len = (want + unit - 1) / unit * unit;
    // The planning examples' batches of 4096-token sequences make each dry run route millions
    // of slots on the host; eight sequences exercise the same ops.
    d.workload.batch_size = std::min(d.workload.batch_size, 8);
  }
  return d;
}

// Every rank of every strategy of `example`; returns how many plans were compared.
int comparePlans(const std::string& example) {
  const Deployment d = exampleAtUniformRouting(example);
  int plans = 0;
  for (int gpus : {1, 2, 4, 8}) {
    const ClusterConfig cluster = oneNode(gpus);
    const PlannerOptions options;
    const PlanCostModel costs(d.model, d.workload, cluster, options);
    for (const config::StrategyConfig& s : validStrategies(d.model, d.workload, cluster, options)) {
      const Candidate c = buildCandidate(costs, d.model, d.workload, cluster, options, s);
      const std::vector<TraceEvent> events = dag::dryRun(withCandidate(d, c));
      ++plans;
      for (int rank = 0; rank < s.worldSize(); ++rank) {
        const auto diffs = differences(traced(events, rank), priced(costs.rankOps(c, rank)));
        for (const auto& line : diffs) {
          ADD_FAILURE() << example << " tp" << s.tp << " pp" << s.pp << " ep" << s.ep << " dp"
                        << s.dp << " mb" << s.microbatches << ", rank " << rank << ": " << line;
        }
        if (!diffs.empty()) return plans;  // the first rank that differs says enough
      }
    }
  }
  return plans;
}

// A test name from an example's path.
std::string testName(const ::testing::TestParamInfo<const char*>& info) {
  std::string name = info.param;
  for (char& ch : name) {
    if (ch == '-' || ch == '/' || ch == '.') ch = '_';
  }
  return name;
}

class PricedVsTraced : public ::testing::TestWithParam<const char*> {};

TEST_P(PricedVsTraced, EveryStrategyPricesTheOpsItRuns) {
  const int plans = comparePlans(GetParam());
  std::cout << GetParam() << ": " << plans << " plans compared, every rank of each\n";
  EXPECT_GT(plans, 3) << "too few strategies to compare";
}

INSTANTIATE_TEST_SUITE_P(
    Examples, PricedVsTraced,
    ::testing::Values("small-gpt", "tiny-llama", "tiny-moe", "tiny-deepseek-moe", "decode-1024",
                      "llama3-8b-one-layer", "tiny-llama31-hf", "tiny-mistral-hf", "tiny-qwen2-hf",
                      "tiny-qwen3-hf", "tiny-qwen2-moe-hf", "tiny-qwen3-moe-hf", "tiny-mixtral-hf",
                      "tiny-glm4-moe-hf", "tiny-deepseek-v2-hf", "tiny-deepseek-v3-hf",
                      "plan/small-dense-2cpu", "plan/small-moe-2cpu", "plan/decode-1024-2cpu",
                      "plan/llama-70b-2x8", "plan/mixtral-8x7b-1x8", "plan/mixtral-8x7b-hf-1x8",
                      "plan/llama-3.1-8b-hf-1x8", "plan/hetero-h100-a100-2x8"),
    testName);

// The planning examples of 128 and 256 experts: minutes of host routing each, so compared only
// on request (SHARDRT_PRICED_HEAVY=1), and skipped visibly otherwise.
class PricedVsTracedHeavy : public ::testing::TestWithParam<const char*> {};

TEST_P(PricedVsTracedHeavy, EveryStrategyPricesTheOpsItRuns) {
  if (!std::getenv("SHARDRT_PRICED_HEAVY")) {
    GTEST_SKIP() << GetParam() << ": minutes of dry runs; set SHARDRT_PRICED_HEAVY=1 to compare";
  }
  const int plans = comparePlans(GetParam());
  std::cout << GetParam() << ": " << plans << " plans compared, every rank of each\n";
  EXPECT_GT(plans, 3) << "too few strategies to compare";
}

INSTANTIATE_TEST_SUITE_P(LargeMoe, PricedVsTracedHeavy,
                         ::testing::Values("plan/qwen3-30b-a3b-hf-1x8", "plan/deepseek-v3-hf-32x8",
                                           "plan/deepseek-v3-like-32x8"),
                         testName);

}  // namespace
}  // namespace shardrt::planner
