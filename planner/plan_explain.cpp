#include "planner/plan_explain.h"

#include <algorithm>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <numeric>
#include <sstream>

#include "planner/near_ties.h"

namespace shardrt::planner {
namespace {

constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;

// printf into a string; arguments are plain numbers and C strings, checked by the compiler.
[[gnu::format(printf, 1, 2)]] std::string format(const char* fmt, ...);
std::string format(const char* fmt, ...) {
  char buf[512];
  va_list args;
  va_start(args, fmt);
  std::vsnprintf(buf, sizeof buf, fmt, args);
  va_end(args);
  return buf;
}

double maxOverMean(const std::vector<double>& xs) {
  if (xs.empty()) return 1.0;
  const double mean = std::accumulate(xs.begin(), xs.end(), 0.0) / xs.size();
  return mean > 0.0 ? *std::max_element(xs.begin(), xs.end()) / mean : 1.0;
}

std::string degrees(const config::StrategyConfig& s) {
  return format("tp %d x pp %d x dp %d, ep %d, %d microbatch%s", s.tp, s.pp, s.dp, s.ep,
                s.microbatches, s.microbatches == 1 ? "" : "es");
}

std::string clusterSummary(const ClusterConfig& c) {
  std::string out;
  for (const auto& g : c.groups) {
    out +=
        (out.empty() ? "" : " + ") + format("%d x %d %s", g.nodes, g.gpus_per_node, g.name.c_str());
  }
  return out;
}

// Sizes of consecutive parts, "4, 4" or "3 x 4" when equal.
std::string partSizes(const std::vector<int>& sizes) {
  if (std::all_of(sizes.begin(), sizes.end(), [&](int x) { return x == sizes[0]; })) {
    return sizes.size() == 1 ? std::to_string(sizes[0])
                             : format("%zu x %d", sizes.size(), sizes[0]);
  }
  std::string out;
  for (int x : sizes) out += (out.empty() ? "" : ", ") + std::to_string(x);
  return out;
}

std::string partsSection(const config::Deployment& d, const Candidate& c) {
  const auto& m = d.model;
  const auto& s = c.strategy;
  const config::Range kv = config::kvHeadsFor({0, m.heads / s.tp}, m.groupSize());
  std::ostringstream o;
  o << "  parts:\n";
  o << format("    attention  %d heads -> %d per tp rank; %d kv heads -> %d per tp rank%s\n",
              m.heads, m.heads / s.tp, m.kv_heads, kv.size(),
              s.tp > m.kv_heads ? " (replicated)" : "");
  o << format("    ffn        %d columns -> %d per tp rank\n", m.ffn_hidden, m.ffn_hidden / s.tp);
  if (m.hasMoe()) {
    std::vector<int> per_rank;
    int slots = 0;
    for (const auto& list : c.expert_placement) {
      per_rank.push_back(static_cast<int>(list.size()));
      slots += per_rank.back();
    }
    o << format("    experts    %d -> per ep rank %s (%d redundant copies)\n", m.moe.experts,
                partSizes(per_rank).c_str(), slots - m.moe.experts);
  }
  std::vector<int> layers, rows;
  for (const auto& r : c.stages) layers.push_back(r.size());
  for (int b : c.dp_batch) rows.push_back(b);
  o << format("    layers     %d -> stages of %s\n", m.layers, partSizes(layers).c_str());
  o << format("    batch      %d sequences -> replicas of %s, in %d microbatch%s each\n",
              d.workload.batch_size, partSizes(rows).c_str(), s.microbatches,
              s.microbatches == 1 ? "" : "es");
  return o.str();
}

std::string checkSection(const Candidate& c, int gpus) {
  const auto& s = c.strategy;
  const bool ok = s.tp * s.pp * s.dp == gpus;
  return format(
      "  check: tp %d x pp %d x dp %d = %d %s the cluster's %d GPUs; ep %d divides "
      "tp*dp = %d\n",
      s.tp, s.pp, s.dp, s.tp * s.pp * s.dp, ok ? "=" : "!=", gpus, s.ep, s.tp * s.dp);
}

// busy_what: what the busy times cover ("busy": one forward of the batch).
std::string balanceSection(const PlanCost& detail, const ClusterConfig& cluster,
                           const char* busy_what = "busy") {
  std::vector<double> busy, memory;
  for (const auto& r : detail.ranks) {
    busy.push_back(r.busy_seconds);
    memory.push_back(r.memoryBytes());
  }
  const auto busiest = std::max_element(busy.begin(), busy.end()) - busy.begin();
  // Each GPU against its own limit: the one nearest it, and on a mixed cluster each group's.
  auto share = [&](std::size_t r) { return memory[r] / detail.ranks[r].memory_limit_bytes; };
  std::size_t nearest = 0;
  for (std::size_t r = 1; r < memory.size(); ++r) {
    if (share(r) > share(nearest)) nearest = r;
  }
  std::string out = format(
      "  per GPU: %s max/mean %.2f (max %.3f ms on GPU %ld); memory max/mean %.2f, nearest "
      "its limit GPU %zu (%s): %.2f of %.2f GiB usable (%.0f%%)\n",
      busy_what, maxOverMean(busy), busy[busiest] * 1e3, static_cast<long>(busiest),
      maxOverMean(memory), nearest, cluster.groupOf(static_cast<int>(nearest)).name.c_str(),
      memory[nearest] / kGiB, detail.ranks[nearest].memory_limit_bytes / kGiB,
      100 * share(nearest));
  if (cluster.groups.size() < 2) return out;
  out += "  memory by group:";
  int first = 0;
  for (std::size_t g = 0; g < cluster.groups.size(); ++g) {
    const int end = first + cluster.groups[g].gpus();
    std::size_t most = static_cast<std::size_t>(first);
    for (int r = first; r < end; ++r) {
      if (share(static_cast<std::size_t>(r)) > share(most)) most = static_cast<std::size_t>(r);
    }
    out += format("%s %s at most %.2f of %.2f GiB (%.0f%%)", g ? ";" : "",
                  cluster.groups[g].name.c_str(), memory[most] / kGiB,
                  detail.ranks[most].memory_limit_bytes / kGiB, 100 * share(most));
    first = end;
  }
  return out + "\n";
}

const char* objectiveName(ObjectiveKind kind) {
  switch (kind) {
    case ObjectiveKind::Latency:
      return "latency";
    case ObjectiveKind::Throughput:
      return "throughput";
    case ObjectiveKind::TimeToFirstToken:
      return "time_to_first_token";
    case ObjectiveKind::TimePerOutputToken:
      return "time_per_output_token";
    case ObjectiveKind::DecodeThroughput:
      return "decode_throughput";
  }
  return "";
}

// What objectiveValue measures, in words.
const char* objectiveFigure(const Objective& o) {
  switch (o.kind) {
    case ObjectiveKind::Latency:
      return "latency";
    case ObjectiveKind::Throughput:
      return "tokens/s";
    case ObjectiveKind::TimeToFirstToken:
      return "time to first token";
    case ObjectiveKind::TimePerOutputToken:
      return "time per output token";
    case ObjectiveKind::DecodeThroughput:
      return "new tokens/s";
  }
  return "";
}

// How much worse plan b is than plan a by the objective.
std::string verdictOf(const PlanCost& a, const PlanCost& b, const Objective& o) {
  auto slower = [](const char* what, double x, double y) {
    return format("%.2fx the %s (%.3f vs %.3f ms)", y / x, what, y * 1e3, x * 1e3);
  };
  switch (o.kind) {
    case ObjectiveKind::Latency:
      return slower("latency", a.latency_seconds, b.latency_seconds);
    case ObjectiveKind::Throughput:
      return format("%.2fx fewer tokens/s (%.0f vs %.0f)",
                    a.tokens_per_second / b.tokens_per_second, b.tokens_per_second,
                    a.tokens_per_second);
    case ObjectiveKind::TimeToFirstToken:
      return slower("time to first token", a.generation->time_to_first_token,
                    b.generation->time_to_first_token);
    case ObjectiveKind::TimePerOutputToken:
      return slower("time per output token", a.generation->time_per_output_token,
                    b.generation->time_per_output_token);
    case ObjectiveKind::DecodeThroughput:
      return format("%.2fx fewer new tokens/s (%.0f vs %.0f)",
                    a.generation->decode_tokens_per_second / b.generation->decode_tokens_per_second,
                    b.generation->decode_tokens_per_second, a.generation->decode_tokens_per_second);
  }
  return "";
}

// Why the chosen plan beat a runner-up within noise of it: the first preference of
// planner/near_ties.h that tells them apart; "" when none does.
std::string nearTieReason(const RankedPlan& best, const RankedPlan& second) {
  const double step_a = kHeadroomStep * best.cost.max_memory_limit_bytes;
  const double step_b = kHeadroomStep * second.cost.max_memory_limit_bytes;
  const double free_a = headroomBytes(best.cost), free_b = headroomBytes(second.cost);
  if (std::floor(free_a / step_a) != std::floor(free_b / step_b)) {
    return format("less memory left on its GPU nearest its limit (%.2f vs %.2f GiB free)",
                  free_b / kGiB, free_a / kGiB);
  }
  if (best.collective_calls != second.collective_calls) {
    return format("more collectives per forward on its busiest GPU (%ld vs %ld)",
                  second.collective_calls, best.collective_calls);
  }
  if (best.candidate.strategy.pp != second.candidate.strategy.pp) {
    return format("more pipeline stages (%d vs %d)", second.candidate.strategy.pp,
                  best.candidate.strategy.pp);
  }
  return "";
}

// The chosen plan against the plans within noise of the best (planner/near_ties.h).
std::string nearTieSection(const SearchResult& result, const Objective& o) {
  const TieBreak& t = result.ties;
  if (t.plans < 2) return "";
  std::string line = format("  within noise: %d plans are within %.0f%% of the best %s; ", t.plans,
                            100 * kNearTie, objectiveFigure(o));
  if (t.decided_by.empty()) {
    return line + "the best also leads on memory headroom, then collectives, then stages\n";
  }
  return line +
         format(
             "chosen among them by %s (%.2f GiB free on the GPU nearest its limit, against %.2f "
             "for the best on the figure alone)\n",
             t.decided_by.c_str(), headroomBytes(result.top.front().cost) / kGiB,
             t.fastest_headroom / kGiB);
}

// What the runner-up loses by most: compute, communication or the pipeline bubble; within
// noise of the chosen plan, the preference that put it second.
std::string runnerUpSection(const SearchResult& result, const Objective& o) {
  const RankedPlan &best = result.top[0], &second = result.top[1];
  const PlanCost &a = best.cost, &b = second.cost;
  if (result.ties.plans > 1) {
    const std::string reason = nearTieReason(best, second);
    if (!reason.empty()) {
      const double x = objectiveValue(a, o), y = objectiveValue(b, o);
      const std::string by = y < x ? format("%.1f%% better", 100 * (x / y - 1))
                                   : format("%.1f%% worse", 100 * (y / x - 1));
      return "runner-up: " + degrees(second.candidate.strategy) + ": " + by + " on the " +
             objectiveFigure(o) + ", within noise; " + reason + "\n";
    }
  }
  std::string verdict = verdictOf(a, b, o);
  if (o.generation()) {  // the forward's split of compute and communication does not apply
    const std::string why = verdict.find("1.00x") == 0
                                ? ": equal within rounding; ranked by the degrees, smaller tp first"
                                : "";
    return "runner-up: " + degrees(second.candidate.strategy) + ": " + verdict + why + "\n";
  }
  const double compute_a = a.latency_seconds - a.comm_seconds;
  const double compute_b = b.latency_seconds - b.comm_seconds;
  std::string why;
  if (o.kind == ObjectiveKind::Throughput) {
    // Throughput counts the pipelines kept full: each replica's pace is its slowest stage per
    // microbatch, not the latency of one batch.
    auto pace = [](const RankedPlan& p) {
      const double slowest =
          *std::max_element(p.cost.stage_seconds.begin(), p.cost.stage_seconds.end());
      const int dp = p.candidate.strategy.dp;
      return format("%d replica%s, each %.3f ms a microbatch of %d rows", dp, dp > 1 ? "s" : "",
                    slowest * 1e3,
                    p.candidate.dp_batch.front() / p.candidate.strategy.microbatches);
    };
    why = "a slower pace through the slowest stage (" + pace(second) + ", against " + pace(best) +
          ")";
  } else if (b.comm_seconds - a.comm_seconds > compute_b - compute_a) {
    why = format("more communication on the critical path (%.3f vs %.3f ms)", b.comm_seconds * 1e3,
                 a.comm_seconds * 1e3);
  } else {
    why = format("more compute on the critical path (%.3f vs %.3f ms", compute_b * 1e3,
                 compute_a * 1e3);
    if (b.bubble > a.bubble)
      why += format("; pipeline bubble %.0f%% vs %.0f%%", 100 * b.bubble, 100 * a.bubble);
    if (b.expert_imbalance > a.expert_imbalance * 1.01) {
      why += format("; expert load max/mean %.2f vs %.2f", b.expert_imbalance, a.expert_imbalance);
    }
    why += ")";
  }
  if (verdict.find("1.00x") == 0)
    why = "equal within rounding; ranked by the degrees, smaller tp first";
  return "runner-up: " + degrees(second.candidate.strategy) + ": " + verdict + ": " + why + "\n";
}

}  // namespace

double busyMaxOverMean(const PlanCost& detail) {
  std::vector<double> xs;
  for (const auto& r : detail.ranks) xs.push_back(r.busy_seconds);
  return maxOverMean(xs);
}

double memoryMaxOverMean(const PlanCost& detail) {
  std::vector<double> xs;
  for (const auto& r : detail.ranks) xs.push_back(r.memoryBytes());
  return maxOverMean(xs);
}

// The report of a plan search under a generation objective: the top plans by their generation
// figures, then the chosen plan's parts, checks and balance as for the forward objectives.
std::string generationReport(const config::Deployment& deployment, const PlanningInput& in,
                             const SearchResult& result, const PlanCost& best_detail) {
  std::ostringstream o;
  o << "#  rank  tp  pp  ep  dp  mb      ttft_ms     tpot_ms  new_tokens/s   kv_GiB  mem_GiB  "
       "largest_batch\n";
  for (std::size_t i = 0; i < result.top.size(); ++i) {
    const auto& s = result.top[i].candidate.strategy;
    const auto& c = result.top[i].cost;
    const GenerationCost& g = *c.generation;
    o << format("%7zu %3d %3d %3d %3d %3d %12.3f %11.3f %13.1f %8.3f %8.2f %14d\n", i + 1, s.tp,
                s.pp, s.ep, s.dp, s.microbatches, g.time_to_first_token * 1e3,
                g.time_per_output_token * 1e3, g.decode_tokens_per_second, g.kv_cache_bytes / kGiB,
                c.max_memory_bytes / kGiB, g.largest_batch);
  }
  const RankedPlan& best = result.top.front();
  const GenerationCost& g = *best.cost.generation;
  o << "\nchosen: " << degrees(best.candidate.strategy) << "\n";
  o << partsSection(deployment, best.candidate);
  o << checkSection(best.candidate, in.cluster.gpus());
  o << balanceSection(best_detail, in.cluster, "busy in a decode round");
  o << format(
      "  predicted: time to first token %.3f ms (the prefill of %d x %d tokens); time "
      "per output token %.3f ms (a decode step at context %.0f); %.1f new tokens/s\n",
      g.time_to_first_token * 1e3, deployment.workload.batch_size, in.objective.prompt_tokens,
      g.time_per_output_token * 1e3, g.mean_context, g.decode_tokens_per_second);
  const config::StrategyConfig& s = best.candidate.strategy;
  if (s.pp > 1) {
    // How generate will run the rounds (runtime/generation_executor.h, RoundSchedule), which
    // the time per output token priced.
    o << (config::expertGroupSpansReplicas(deployment.model, s)
              ? format("  rounds: in lockstep (an expert-parallel group spans replicas): each "
                       "decode round fills and drains the %d stages\n",
                       s.pp)
              : format("  rounds: overlapped (generate's default): a decode round is the "
                       "pipeline's period, %d microbatch(es) through its %d stages, each "
                       "starting its next step once its token is back\n",
                       s.microbatches, s.pp));
  }
  o << format(
      "  memory: KV cache %.3f GiB on the fullest GPU (%d requests x %d positions); "
      "%.2f of %.2f GiB used; the largest batch that fits: %d requests\n",
      g.kv_cache_bytes / kGiB, deployment.workload.batch_size, deployment.workload.seq_len,
      best.cost.max_memory_bytes / kGiB, best.cost.max_memory_limit_bytes / kGiB, g.largest_batch);
  o << nearTieSection(result, in.objective);
  if (result.top.size() > 1) o << runnerUpSection(result, in.objective);
  return o.str();
}

std::string planReport(const config::Deployment& deployment, const PlanningInput& in,
                       const SearchResult& result, const PlanCost& best_detail) {
  const auto& w = deployment.workload;
  const Objective& obj = in.objective;
  std::ostringstream o;
  o << format("plan %s: batch %d x seq %d, %s, on %d GPUs (%s); objective: %s",
              deployment.name.c_str(), w.batch_size, w.seq_len,
              std::string(dtypeName(w.dtype)).c_str(), in.cluster.gpus(),
              clusterSummary(in.cluster).c_str(), objectiveName(obj.kind));
  if (obj.max_latency_seconds > 0.0) o << format(" under %.3f ms", obj.max_latency_seconds * 1e3);
  if (obj.max_time_per_output_token_seconds > 0.0) {
    o << format(" under %.3f ms per output token", obj.max_time_per_output_token_seconds * 1e3);
  }
  if (obj.generation()) {
    o << format(" (prompts of %d tokens, %d new tokens each)", obj.prompt_tokens, obj.new_tokens);
  }
  o << format("\n%ld valid strategies, %ld fit in memory (%.0f%% reserve)", result.strategies,
              result.fit, 100 * in.cluster.memory_reserve);
  if (obj.max_latency_seconds > 0.0 || obj.max_time_per_output_token_seconds > 0.0) {
    o << format(", %ld within the bound", result.within_bound);
  }
  o << "\n\n";
  if (obj.generation()) return o.str() + generationReport(deployment, in, result, best_detail);
  o << "#  rank  tp  pp  ep  dp  mb   latency_ms    tokens/s    comm_ms  bubble  mem_GiB  "
       "gpu_max/mean  experts_max/mean\n";
  for (std::size_t i = 0; i < result.top.size(); ++i) {
    const auto& s = result.top[i].candidate.strategy;
    const auto& c = result.top[i].cost;
    o << format("%7zu %3d %3d %3d %3d %3d %12.3f %11.1f %10.3f %6.1f%% %8.2f %13.2f %17.2f\n",
                i + 1, s.tp, s.pp, s.ep, s.dp, s.microbatches, c.latency_seconds * 1e3,
                c.tokens_per_second, c.comm_seconds * 1e3, 100 * c.bubble,
                c.max_memory_bytes / kGiB, c.busy_imbalance, c.expert_imbalance);
  }
  const RankedPlan& best = result.top.front();
  o << "\nchosen: " << degrees(best.candidate.strategy) << "\n";
  o << partsSection(deployment, best.candidate);
  o << checkSection(best.candidate, in.cluster.gpus());
  o << balanceSection(best_detail, in.cluster);
  if (deployment.model.hasMoe()) {
    o << format(
        "  expert load max/mean over ep ranks: %.2f with the default placement, %.2f "
        "with this one\n",
        result.imbalance_before, best.cost.expert_imbalance);
  }
  o << format(
      "  predicted: %.3f ms per forward of the batch, %.1f tokens/s, %.3f ms of it "
      "communication, bubble %.0f%%\n",
      best.cost.latency_seconds * 1e3, best.cost.tokens_per_second, best.cost.comm_seconds * 1e3,
      100 * best.cost.bubble);
  o << nearTieSection(result, in.objective);
  if (result.top.size() > 1) o << runnerUpSection(result, in.objective);
  return o.str();
}

nlohmann::json planReportJson(const config::Deployment& deployment, const PlanningInput& in,
                              const SearchResult& result, const PlanCost& best_detail) {
  nlohmann::json j;
  j["deployment"] = deployment.name;
  j["gpus"] = in.cluster.gpus();
  j["objective"] = objectiveName(in.objective.kind);
  j["valid_strategies"] = result.strategies;
  j["fit_in_memory"] = result.fit;
  j["expert_imbalance_default_placement"] = result.imbalance_before;
  j["near_ties"] = {{"plans", result.ties.plans},
                    {"tolerance", kNearTie},
                    {"decided_by", result.ties.decided_by}};
  for (const auto& p : result.top) {
    const auto& s = p.candidate.strategy;
    j["top"].push_back({{"tp", s.tp},
                        {"pp", s.pp},
                        {"ep", s.ep},
                        {"dp", s.dp},
                        {"microbatches", s.microbatches},
                        {"latency_seconds", p.cost.latency_seconds},
                        {"tokens_per_second", p.cost.tokens_per_second},
                        {"comm_seconds", p.cost.comm_seconds},
                        {"bubble", p.cost.bubble},
                        {"max_memory_bytes", p.cost.max_memory_bytes},
                        {"max_memory_limit_bytes", p.cost.max_memory_limit_bytes},
                        {"max_memory_gpu", p.cost.max_memory_gpu},
                        {"expert_imbalance", p.cost.expert_imbalance},
                        {"busy_imbalance", p.cost.busy_imbalance},
                        {"stage_seconds", p.cost.stage_seconds}});
    if (p.cost.generation) {
      const GenerationCost& g = *p.cost.generation;
      j["top"].back()["generation"] = {{"time_to_first_token_seconds", g.time_to_first_token},
                                       {"time_per_output_token_seconds", g.time_per_output_token},
                                       {"decode_tokens_per_second", g.decode_tokens_per_second},
                                       {"mean_context", g.mean_context},
                                       {"kv_cache_bytes", g.kv_cache_bytes},
                                       {"largest_batch", g.largest_batch}};
    }
  }
  for (std::size_t r = 0; r < best_detail.ranks.size(); ++r) {
    const auto& x = best_detail.ranks[r];
    j["best_per_gpu"].push_back({{"rank", r},
                                 {"stage", x.stage},
                                 {"replica", x.replica},
                                 {"busy_seconds", x.busy_seconds},
                                 {"comm_seconds", x.comm_seconds},
                                 {"weight_bytes", x.weight_bytes},
                                 {"activation_bytes", x.activation_bytes},
                                 {"memory_limit_bytes", x.memory_limit_bytes}});
  }
  j["best_busy_covers"] = in.objective.generation() ? "one decode round at the mean context"
                                                    : "one forward of the batch";
  j["best_busy_max_over_mean"] = busyMaxOverMean(best_detail);
  j["best_memory_max_over_mean"] = memoryMaxOverMean(best_detail);
  return j;
}

}  // namespace shardrt::planner
