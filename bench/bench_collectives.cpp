#include "bench/bench_collectives.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <vector>

#include "bench/collective_timing.h"
#include "common/atomic_file.h"
#include "common/error_report.h"
#include "common/errors.h"
#include "planner/cost_model.h"
#include "runtime/execution_context.h"

namespace shardrt::bench {

int benchCollectives(const BenchCollectivesOptions& o, const comm::MpiSession& mpi) {
  std::optional<ExecutionContext> ctx;
  try {
    ctx = makeExecutionContext(o.device, mpi);
  } catch (const ConfigError& e) {
    reportError(mpi.worldRank(), e.what());
    return kExitBadInput;
  }
  comm::Communicator& world = *ctx->world;
  Backend& backend = *ctx->backend;
  const int n = world.size(), rank = world.rank();
  if (n < 2) {
    reportError(rank, "bench collectives: needs at least 2 ranks (mpirun -np N, N >= 2)");
    return kExitBadInput;
  }
  if (rank == 0) {
    std::printf(
        "# shardrt bench collectives: %d ranks, backend %s (%s), communicator %s, float, "
        "warmup %d, iters %d\n",
        n, std::string(backend.name()).c_str(), ctx->device.c_str(),
        std::string(world.backendName()).c_str(), o.warmup, o.iterations);
    if (!ctx->communicator_note.empty()) std::printf("# communicator: %s\n", ctx->communicator_note.c_str());
    std::printf(
        "# time: the slowest rank's mean per call; algbw = size / time; busbw = algbw * "
        "nccl-tests' factor\n");
    // Several ranks on one GPU move data within one device's memory: the times say nothing of
    // the links between GPUs the planner prices, only #wrong (the data check) means something.
    if (ctx->ranks_share_a_gpu) {
      std::printf(
          "# WARNING: %d ranks share this node's GPU(s): time, algbw and busbw measure no link "
          "between GPUs and must not be compared or used for calibration; #wrong is valid\n",
          n);
    }
  }
  nlohmann::json rows = nlohmann::json::array();
  long wrong_total = 0;
  for (const CollectiveCase& c : collectiveCases()) {
    if (rank == 0) {
      std::printf("#\n# %s\n# %12s %12s %6s %6s %5s %10s %8s %8s %7s\n", c.name, "size", "count",
                  "type", "redop", "root", "time(us)", "algbw", "busbw", "#wrong");
    }
    for (long bytes = o.min_bytes; bytes <= o.max_bytes; bytes *= std::max(2, o.step_factor)) {
      const CollectiveTiming t = timeCollective(c, backend, world, bytes, o.warmup, o.iterations);
      wrong_total += t.wrong;
      const double algbw = t.size_bytes / t.seconds / 1e9;
      const double busbw = algbw * planner::busFactor(c.kind, n);
      if (rank == 0) {
        std::printf("  %12.0f %12zu %6s %6s %5s %10.2f %8.3f %8.3f %7d\n", t.size_bytes, t.count,
                    "float", c.redop, "-", t.seconds * 1e6, algbw, busbw, t.wrong);
        rows.push_back({{"collective", c.name},
                        {"size_bytes", t.size_bytes},
                        {"count", t.count},
                        {"type", "float"},
                        {"redop", c.redop},
                        {"time_us", t.seconds * 1e6},
                        {"algbw_gbps", algbw},
                        {"busbw_gbps", busbw},
                        {"wrong", t.wrong}});
      }
    }
  }
  if (rank == 0) {
    std::printf("# errors: %ld wrong element(s) in all\n", wrong_total);
    if (!o.json_path.empty()) {
      writeFileAtomically(o.json_path, [&](std::ostream& out) {
        out << nlohmann::json{{"ranks", n},
                              {"backend", std::string(backend.name())},
                              {"communicator", std::string(world.backendName())},
                              {"communicator_note", ctx->communicator_note},
                              {"ranks_share_a_gpu", ctx->ranks_share_a_gpu},
                              {"rows", rows}}
                   .dump(2)
            << "\n";
      });
    }
  }
  return wrong_total == 0 ? kExitOk : kExitValidationFailed;
}

}  // namespace shardrt::bench
