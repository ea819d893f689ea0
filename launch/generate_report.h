// What `shardrt generate` reports: each request's tokens and how it finished, the latencies
// users plan for (time to first token; time per output token, median and p99; a decode step's
// time) and throughput (new tokens per second, in total and per GPU), printed and written as
// OUT/generate.json.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "config/deployment.h"
#include "launch/generate_trace.h"
#include "launch/generation_prediction.h"
#include "runtime/generation_executor.h"

namespace shardrt::launch {

struct GenerationCheck {  // --validate: against the unsharded run on rank 0
  bool tokens_equal = false;
  int first_difference_request = -1;  // the first request whose tokens differ
  double worst_rel_err = 0.0;         // over every chosen token's logits row
  int worst_request = -1;
  double tolerance = 0.0;
  bool passed = false;
};

struct GenerateReport {
  config::Deployment deployment;
  std::string deployment_path;
  std::string backend, communicator;
  int ranks = 0;
  int blas_threads = 0;
  std::size_t kv_cache_bytes = 0;  // the largest of any rank
  bool cuda_graphs = false;        // --cuda-graphs
  int graphs_captured = 0;         // decode-step graphs recorded, the most of any rank
  std::vector<GenerationRequest> requests;
  GenerationResult result;
  std::optional<GenerationCheck> check;
  std::optional<GenerateTrace> trace;  // --trace
  // The planner's, when the deployment file has a `cluster` (launch/generation_prediction.h).
  std::optional<GenerationPrediction> prediction;
};

// The figures from the rounds' times: every request's time to first token and time per output
// token, the decode steps' times, and the throughputs.
nlohmann::json timingsJson(const GenerateReport& report);
// The same figures from the planner's predicted round times (prediction->round_seconds).
nlohmann::json predictedTimingsJson(const GenerateReport& report);
nlohmann::json toJson(const GenerateReport& report);
std::string summary(const GenerateReport& report);

}  // namespace shardrt::launch
