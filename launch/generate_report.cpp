#include "launch/generate_report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "bench/op_timing.h"

namespace shardrt::launch {
namespace {

using nlohmann::json;

json spread(const std::vector<double>& seconds) {
  return {{"median_ms", 1e3 * bench::median(seconds)},
          {"p99_ms", 1e3 * bench::percentile(seconds, 0.99)},
          {"count", seconds.size()}};
}

std::string ms(double seconds) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f ms", 1e3 * seconds);
  return buf;
}

}  // namespace

json timingsJson(const GenerateReport& r) {
  const GenerationResult& g = r.result;
  const std::vector<double>& end = g.round_seconds;
  std::vector<double> first_token, per_token, steps;
  long new_tokens = 0;
  for (std::size_t i = 0; i < g.tokens.size(); ++i) {
    const int n = static_cast<int>(g.tokens[i].size());
    new_tokens += n;
    if (n == 0) continue;
    first_token.push_back(end[static_cast<std::size_t>(g.first_round[i])]);
    if (n > 1) {
      per_token.push_back((end[static_cast<std::size_t>(g.last_round[i])] -
                           end[static_cast<std::size_t>(g.first_round[i])]) /
                          (n - 1));
    }
  }
  for (std::size_t k = 1; k < end.size(); ++k) steps.push_back(end[k] - end[k - 1]);
  const double total = end.empty() ? 0.0 : end.back();
  const double prefill_tokens = g.round_tokens.empty() ? 0.0 : g.round_tokens[0];
  return {{"time_to_first_token", spread(first_token)},
          {"time_per_output_token", spread(per_token)},
          {"decode_step", spread(steps)},
          {"prefill_seconds", end.empty() ? 0.0 : end[0]},
          {"prefill_tokens", prefill_tokens},
          {"total_seconds", total},
          {"new_tokens", new_tokens},
          {"tokens_per_second", total > 0 ? new_tokens / total : 0.0},
          {"tokens_per_second_per_gpu", total > 0 ? new_tokens / total / r.ranks : 0.0}};
}

json predictedTimingsJson(const GenerateReport& r) {
  GenerateReport predicted = r;
  predicted.result.round_seconds = r.prediction->round_seconds;
  json t = timingsJson(predicted);
  t["rates"] = r.prediction->rates;
  return t;
}

json toJson(const GenerateReport& r) {
  const auto& s = r.deployment.strategy;
  json requests = json::array();
  for (std::size_t i = 0; i < r.result.tokens.size(); ++i) {
    requests.push_back({{"prompt_tokens", r.requests[i].prompt.size()},
                        {"max_new_tokens", r.requests[i].max_new_tokens},
                        {"tokens", r.result.tokens[i]},
                        {"finish", r.result.finish[i]}});
  }
  json out = {
      {"deployment", r.deployment.name},
      {"deployment_path", r.deployment_path},
      {"strategy",
       {{"tp", s.tp}, {"pp", s.pp}, {"ep", s.ep}, {"dp", s.dp}, {"microbatches", s.microbatches}}},
      {"dtype", dtypeName(r.deployment.workload.dtype)},
      {"backend", r.backend},
      {"communicator", r.communicator},
      {"ranks", r.ranks},
      {"blas_threads", r.blas_threads},
      {"kv_cache_bytes_per_rank", r.kv_cache_bytes},
      {"cuda_graphs", {{"on", r.cuda_graphs}, {"captured", r.graphs_captured}}},
      {"requests", requests},
      {"rounds", r.result.round_seconds.size()},
      {"schedule", roundScheduleName(r.result.schedule)},
      {"timings", timingsJson(r)}};
  if (r.prediction) {
    out["prediction"] = r.prediction->round_seconds.empty() ? json{{"note", r.prediction->note}}
                                                            : predictedTimingsJson(r);
  }
  if (r.trace) {
    json graphs = json::array();
    for (const auto& g : r.trace->graphs) graphs.push_back(g.dot);
    out["trace"] = {{"dir", r.trace->dir},
                    {"graphs", graphs},
                    {"rounds", r.trace->rounds},
                    {"seconds", r.trace->seconds}};
  }
  if (r.check) {
    const GenerationCheck& c = *r.check;
    out["validation"] = {{"passed", c.passed},
                         {"tokens_equal", c.tokens_equal},
                         {"logits_rel_err", c.worst_rel_err},
                         {"worst_request", c.worst_request},
                         {"tolerance", c.tolerance}};
    if (c.first_difference_request >= 0) {
      out["validation"]["first_difference_request"] = c.first_difference_request;
    }
  }
  return out;
}

std::string summary(const GenerateReport& r) {
  const json t = timingsJson(r);
  // Appended piece by piece: GCC 12 warns, wrongly, of an overlapping memcpy in long chains
  // of operator+.
  std::string s = "generate ";
  s += r.deployment.name;
  s += ": " + std::to_string(r.requests.size()) + " requests on ";
  s += std::to_string(r.ranks) + " ranks (" + r.backend;
  s += ", " + r.communicator + "), KV cache ";
  s += std::to_string(r.kv_cache_bytes) + " bytes on the fullest rank\n";
  for (std::size_t i = 0; i < r.result.tokens.size(); ++i) {
    s += "  request ";
    s += std::to_string(i);
    s += " (";
    s += std::to_string(r.requests[i].prompt.size());
    s += " prompt tokens, ";
    s += r.result.finish[i] + "):";
    for (std::int32_t id : r.result.tokens[i]) {
      s += ' ';
      s += std::to_string(id);
    }
    s += "\n";
  }
  const double ttft = t["time_to_first_token"]["median_ms"].get<double>() / 1e3;
  const double tpot = t["time_per_output_token"]["median_ms"].get<double>() / 1e3;
  const double tpot99 = t["time_per_output_token"]["p99_ms"].get<double>() / 1e3;
  char line[256];
  std::snprintf(line, sizeof line, "  %.1f new tokens/s (%.1f per rank), %ld rounds, %s\n",
                t["tokens_per_second"].get<double>(), t["tokens_per_second_per_gpu"].get<double>(),
                static_cast<long>(r.result.round_seconds.size()),
                r.result.schedule == RoundSchedule::Overlap ? "overlapped"
                : config::expertGroupSpansReplicas(r.deployment.model, r.deployment.strategy)
                    ? "in lockstep (an expert-parallel group spans replicas)"
                    : "in lockstep");
  s += "  time to first token " + ms(ttft);
  s += "; time per output token " + ms(tpot);
  s += " median, " + ms(tpot99) + " p99\n";
  s += line;
  if (r.cuda_graphs) {
    s += "  decode steps replayed from " + std::to_string(r.graphs_captured) +
         " CUDA graphs (one per microbatch and token count)\n";
  }
  if (r.prediction && r.prediction->round_seconds.empty()) {
    s += "  predicted none: " + r.prediction->note + "\n";
  } else if (r.prediction) {
    const json p = predictedTimingsJson(r);
    auto ratio = [&](const char* key, const char* stat) {
      const double want = p[key][stat].get<double>(), got = t[key][stat].get<double>();
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.2f", want > 0.0 ? got / want : 0.0);
      return std::string(buf);
    };
    s += "  predicted by the planner (" + r.prediction->rates + "): time to first token ";
    s += ms(p["time_to_first_token"]["median_ms"].get<double>() / 1e3);
    s += ", time per output token " +
         ms(p["time_per_output_token"]["median_ms"].get<double>() / 1e3);
    s += " median; measured / predicted " + ratio("time_to_first_token", "median_ms");
    s += " and " + ratio("time_per_output_token", "median_ms") + "\n";
  }
  if (r.trace) {
    s += "  trace: " + r.trace->dir + " (";
    for (const auto& g : r.trace->graphs) s += g.name + ".dot, ";
    s += "dags.json, trace.json: " + std::to_string(r.trace->rounds) + " rounds)\n";
  }
  if (r.check) {
    const GenerationCheck& c = *r.check;
    char err[96];
    std::snprintf(err, sizeof err, "; logits rel_err %.3e in request %d, tolerance %.0e)\n",
                  c.worst_rel_err, c.worst_request, c.tolerance);
    s += c.passed ? "  validation: PASS (tokens " : "  validation: FAIL (tokens ";
    s += c.tokens_equal ? std::string("identical")
                        : "differ from request " + std::to_string(c.first_difference_request);
    s += err;
  }
  return s;
}

}  // namespace shardrt::launch
