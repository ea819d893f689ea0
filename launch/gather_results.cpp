#include "launch/gather_results.h"

#include <algorithm>

#include "runtime/host_values.h"

namespace shardrt::launch {
namespace {

config::ParallelLayout layoutOf(const RunReport& r, int world_rank) {
  const auto& s = r.deployment.strategy;
  return config::ParallelLayout(s.tp, s.pp, s.dp, world_rank, s.ep);
}

std::size_t rowElements(const RunReport& r) {
  return static_cast<std::size_t>(r.deployment.workload.seq_len) * r.deployment.model.hidden;
}

}  // namespace

std::vector<OutputCopy> gatherOutputs(comm::Communicator& world, const RunReport& report,
                                      const TransformerExecutor& executor, Backend& backend,
                                      const TensorView& output) {
  const std::vector<float> host =
      executor.holdsOutput() ? downloadFloats(backend, output) : std::vector<float>{};

  std::vector<std::size_t> counts(world.size());
  std::vector<OutputCopy> copies;
  std::size_t total = 0;
  for (int w = 0; w < world.size(); ++w) {
    const auto at = layoutOf(report, w);
    if (at.ppRank() != report.plan.pp - 1) continue;
    OutputCopy c;
    c.world_rank = w;
    c.batch = report.plan.dp_batches[at.dpRank()];
    counts[w] = c.batch.size() * rowElements(report);
    total += counts[w];
    copies.push_back(std::move(c));
  }
  std::vector<float> all(world.rank() == 0 ? total : 0);
  world.gatherV(host.data(), all.data(), counts, DType::F32, 0);
  if (world.rank() != 0) return {};
  std::size_t offset = 0;
  for (auto& c : copies) {
    const std::size_t n = counts[c.world_rank];
    c.values.assign(all.begin() + offset, all.begin() + offset + n);
    offset += n;
  }
  return copies;
}

std::vector<float> assembleOutput(const std::vector<OutputCopy>& copies, const RunReport& report) {
  std::vector<float> out(static_cast<std::size_t>(report.deployment.workload.batch_size) *
                         rowElements(report));
  for (const auto& c : copies) {
    if (layoutOf(report, c.world_rank).tpRank() != 0) continue;
    std::copy(c.values.begin(), c.values.end(), out.begin() + c.batch.begin * rowElements(report));
  }
  return out;
}

std::vector<StageReport> gatherStageTimings(comm::Communicator& world, const RunReport& report,
                                            const TransformerExecutor& executor,
                                            const config::ParallelLayout& layout) {
  // [stage][busy, wall], the maximum over the stage's ranks.
  std::vector<float> t(2 * report.plan.pp, 0.0f);
  t[2 * layout.ppRank()] = static_cast<float>(executor.timing().busy_seconds);
  t[2 * layout.ppRank() + 1] = static_cast<float>(executor.timing().wall_seconds);
  world.allReduce(t.data(), t.size(), DType::F32, comm::ReduceOp::Max);
  // All stages start together (a barrier); the pass ends when the slowest stage ends, and a
  // stage that finished earlier idled until then: that idling is its bubble too.
  double wall = 0.0;
  for (int s = 0; s < report.plan.pp; ++s) wall = std::max(wall, static_cast<double>(t[2 * s + 1]));
  std::vector<StageReport> stages(report.plan.pp);
  for (int s = 0; s < report.plan.pp; ++s) stages[s] = {t[2 * s], wall};
  return stages;
}

std::vector<MoeLayerReport> gatherMoeCounters(comm::Communicator& world, const RunReport& report,
                                              const TransformerExecutor& executor) {
  const auto& m = report.deployment.model;
  if (!m.hasMoe()) return {};
  const int layers = m.layers, experts = m.moe.experts, ranks = world.size();
  // Per layer: experts counts, then dropped, then one count per world rank.
  const int stride = experts + 1 + ranks;
  std::vector<std::int32_t> c(static_cast<std::size_t>(layers) * stride, 0);
  const auto& counters = executor.moeCounters();
  for (int l = 0; l < layers; ++l) {
    if (counters[l].expert_tokens.empty()) continue;
    std::int32_t* row = c.data() + static_cast<std::size_t>(l) * stride;
    for (int e = 0; e < experts; ++e)
      row[e] = static_cast<std::int32_t>(counters[l].expert_tokens[e]);
    row[experts] = static_cast<std::int32_t>(counters[l].dropped);
    row[experts + 1 + world.rank()] = static_cast<std::int32_t>(counters[l].received);
  }
  world.allReduce(c.data(), c.size(), DType::I32, comm::ReduceOp::Sum);

  std::vector<MoeLayerReport> out;
  for (int l = 0; l < layers; ++l) {
    if (!m.isMoeLayer(l)) continue;
    const std::int32_t* row = c.data() + static_cast<std::size_t>(l) * stride;
    MoeLayerReport rep;
    rep.layer = l;
    rep.expert_tokens.assign(row, row + experts);
    rep.dropped = row[experts];
    const int stage = report.plan.stageOf(l);
    for (int w = 0; w < ranks; ++w) {
      if (layoutOf(report, w).ppRank() == stage) rep.rank_tokens.push_back(row[experts + 1 + w]);
    }
    out.push_back(std::move(rep));
  }
  return out;
}

std::vector<std::vector<std::int32_t>> gatherRouting(comm::Communicator& world,
                                                     const RunReport& report,
                                                     const TransformerExecutor& executor) {
  const auto& m = report.deployment.model;
  std::vector<std::vector<std::int32_t>> out(m.layers);
  if (!m.hasMoe()) return out;
  const std::size_t n = static_cast<std::size_t>(report.deployment.workload.batch_size) *
                        report.deployment.workload.seq_len * m.moe.top_k;
  for (int l = 0; l < m.layers; ++l) {
    if (!m.isMoeLayer(l)) continue;
    const auto& mine = executor.routing()[l].experts;
    out[l] = mine.empty() ? std::vector<std::int32_t>(n, -1) : mine;
    // Each token's experts are logged by every tp rank of the replica holding it, -1 elsewhere.
    world.allReduce(out[l].data(), n, DType::I32, comm::ReduceOp::Max);
  }
  return out;
}

}  // namespace shardrt::launch
