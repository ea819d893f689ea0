// `shardrt run`: read the deployment, build this rank's shard, run the forward pass, time it,
// and (with --validate) check it against the unsharded reference.
#pragma once

#include <string>
#include <vector>

#include "comm/mpi_session.h"

namespace shardrt::launch {

struct RunOptions {
  std::string deployment_path;
  std::string device = "auto";         // cpu | cuda | auto
  std::string attention = "own";       // own | cudnn: the cuda backend's bf16 attention kernel
  std::vector<std::string> overrides;  // --set dotted.path=value
  std::string strategy;                // --strategy NAME: one of the file's named strategies
  bool validate = false;
  std::string out_dir = "shardrt-out";
  std::string dump_dir;     // the --dump directory
  bool dump_given = false;  // --dump was given (then dump_dir must be a writable directory)
  std::string weights_path;  // empty: generated from the seed (runtime/weight_files.h)
  int blas_threads = 0;  // 0: cores / ranks on this node
  int warmup = 1;
  int iterations = 3;
  bool profile = false;
  std::string trace_dir;     // the DAG, dags.json and the timeline go here, with --trace
  bool trace_given = false;  // --trace was given
  bool fault_skip_attention_allreduce = false;  // test-only
  double timeout_seconds = 300.0;  // the collective watchdog (0: off)
  bool check_collectives = false;  // ranks confirm each collective's op and sizes first
  std::string nccl_watchdog = "off";  // on: the NCCL communicator non-blocking and watched
  std::string test_fault;          // test-only: RANK:WHERE:MODE (runtime/fault_injection.h)
  bool check_numerics = false;  // stop at the first op output holding NaN or Inf
  std::string fault_nan_weight;  // test-only: NaN in element 0 of this weight's local slices
};

// Returns the process exit code (common/errors.h); every rank returns the same one.
int runCommand(const RunOptions& options, const comm::MpiSession& mpi);

}  // namespace shardrt::launch
