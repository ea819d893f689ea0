// The shardrt command line: every subcommand and its options, parsed by CLI11 into one struct
// of options per subcommand. launch/main.cpp parses it and calls the subcommand given.
#pragma once

#include <CLI/CLI.hpp>

#include "bench/bench_collectives.h"
#include "bench/bench_decode.h"
#include "bench/bench_gemm.h"
#include "bench/bench_layer.h"
#include "bench/calibrate.h"
#include "launch/dag_command.h"
#include "launch/generate_command.h"
#include "launch/plan_command.h"
#include "launch/run_command.h"

namespace shardrt::launch {

struct CommandLine {
  RunOptions run;
  GenerateOptions generate;
  DagOptions dag;
  PlanOptions plan;
  bench::BenchCollectivesOptions collectives;
  bench::CalibrateOptions calibrate;
  bench::BenchGemmOptions gemm;
  bench::BenchLayerOptions layer;
  bench::BenchDecodeOptions decode;
  CLI::App* bench = nullptr;  // `bench`, whose subcommand picks the benchmark
};

// Adds every subcommand to `app`, parsing into `line` (which must outlive the parse).
void defineCommands(CLI::App& app, CommandLine& line);

}  // namespace shardrt::launch
