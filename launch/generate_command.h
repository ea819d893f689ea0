// `shardrt generate`: token-level inference of a deployment, one rank per process. The prompts'
// prefill, then one decode step per new token over a KV cache split like the heads and layers
// (runtime/generation_executor.h); greedy by default, or sampled with a seed that gives every
// strategy the same draw. Prints each request's tokens and the timings (time to first token,
// time per output token, tokens per second) and writes them to OUT/generate.json; with
// --validate, rank 0 generates the same requests unsharded and every chosen token and every
// step's logits must agree.
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "comm/mpi_session.h"

namespace shardrt::launch {

struct GenerateOptions {
  std::string deployment_path;
  std::string prompts_path;          // --prompts FILE
  std::vector<std::string> prompts;  // --prompt "1,2,3" (repeatable)
  int max_new_tokens = 16;
  double temperature = 0.0;  // 0: greedy
  int top_k = 0;
  double top_p = 1.0;
  long long seed = -1;  // -1: the deployment's seed
  bool ignore_eos = false;
  bool validate = false;
  std::string device = "auto";
  std::string out_dir = "shardrt-out";
  std::string trace_dir;  // --trace DIR (launch/generate_trace.h)
  bool trace_given = false;
  bool cuda_graphs = false;          // --cuda-graphs: decode steps recorded once and replayed
  std::string schedule = "overlap";  // --schedule: overlap or lockstep (RoundSchedule)
  std::string weights_path;
  std::string strategy;
  std::vector<std::string> overrides;
  int blas_threads = 0;
  double timeout_seconds = 300.0;
};

CLI::App* addGenerateCommand(CLI::App& app, GenerateOptions& options);

// The process exit code (common/errors.h), the same on every rank.
int generateCommand(const GenerateOptions& options, const comm::MpiSession& mpi);

}  // namespace shardrt::launch
