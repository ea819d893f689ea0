#include "bench/bench_gemm.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>

#include "comm/mpi_communicator.h"
#include "common/atomic_file.h"
#include "common/error_report.h"
#include "common/errors.h"
#include "kernels/cpu/blas_threads.h"
#include "runtime/rank_agreement.h"
#include "runtime/run_setup.h"

namespace shardrt::bench {

std::vector<GemmShape> defaultGemmShapes() {
  return {
      {64, 64, 64},       // smaller than one BLAS panel: overhead dominates
      {127, 255, 129},    // every dimension off a tile boundary
      {1, 1024, 1024},    // one decode token: a matrix-vector product
      {512, 768, 768},    // 512 tokens of a hidden-768 layer: q, k, v, o projections
      {512, 3072, 768},   // its FFN up (4x)
      {512, 768, 3072},   // its FFN down
      {333, 777, 555},    // odd sizes at mid scale
      {1000, 1000, 1000}  // large, not a power of two
  };
}

std::vector<GemmShape> parseGemmShapes(const std::string& text) {
  const auto bad = [&](const std::string& why) {
    return ConfigError(
        "--shapes",
        why + " (expected M,N,K;M,N,K;... with positive integers, got \"" + text + "\")");
  };
  std::vector<GemmShape> shapes;
  std::stringstream list(text);
  std::string item;
  while (std::getline(list, item, ';')) {
    if (item.empty()) continue;  // a trailing ';'
    long dims[3];
    std::size_t pos = 0;
    for (int d = 0; d < 3; ++d) {
      const std::size_t end = d < 2 ? item.find(',', pos) : item.size();
      if (end == std::string::npos) throw bad("\"" + item + "\" has fewer than 3 sizes");
      const std::string token = item.substr(pos, end - pos);
      std::size_t used = 0;
      try {
        dims[d] = std::stol(token, &used);
      } catch (const std::exception&) {
        used = 0;
      }
      if (used == 0 || used != token.size() || dims[d] <= 0) {
        throw bad("\"" + token + "\" is not a positive integer");
      }
      pos = end + 1;
    }
    shapes.push_back({dims[0], dims[1], dims[2]});
  }
  if (shapes.empty()) throw bad("no shape given");
  return shapes;
}

namespace {

// --shapes, or the default shapes; nullopt on every rank when any rank refused the list.
std::optional<std::vector<GemmShape>> shapesOnEveryRank(const BenchGemmOptions& o,
                                                        comm::Communicator& world) {
  std::vector<GemmShape> shapes;
  std::string error;
  try {
    std::string list;
    for (const std::string& part : o.shapes) list += (list.empty() ? "" : ";") + part;
    shapes = o.shapes.empty() ? defaultGemmShapes() : parseGemmShapes(list);
  } catch (const ConfigError& e) {
    error = e.what();
  }
  if (!noRankFailed(world, error, "another rank rejected the command line")) return std::nullopt;
  return shapes;
}

void printHeader(const BenchGemmOptions& o, const ExecutionContext& ctx, int ranks, int threads) {
  const Backend& backend = *ctx.backend;
  std::printf("# shardrt bench gemm: %d rank(s) at once, backend %s (%s)", ranks,
              std::string(backend.name()).c_str(), ctx.device.c_str());
  if (backend.device() == Device::Cpu) std::printf(", %d BLAS thread(s) per rank", threads);
  std::printf(", warmup %d, iters %d\n", o.warmup, o.iterations);
  std::printf(
      "# out (m x n) = in (m x k) @ weight (n x k)^T, the Backend's linear op; FLOPs = 2mnk\n"
      "# time: the median over ranks of each rank's median over iters; slowest: the slowest "
      "rank's median;\n# GFLOP/s per rank, from time\n");
  std::printf("# %8s %8s %8s %5s %12s %12s %10s %7s\n", "m", "n", "k", "type", "time(us)",
              "slowest(us)", "GFLOP/s", "#wrong");
}

// What the shapes' timings add up to.
struct GemmResults {
  nlohmann::json rows = nlohmann::json::array();  // rank 0's
  long wrong_total = 0;
  int checked_rows = 0;
};

// Every shape, every rank at once; rank 0 prints a line and keeps a JSON row for each.
GemmResults timeShapes(const BenchGemmOptions& o, const std::vector<GemmShape>& shapes, DType dtype,
                       Backend& backend, comm::Communicator& world) {
  const char* type = dtype == DType::BF16 ? "bf16" : "fp32";
  GemmResults results;
  for (std::size_t i = 0; i < shapes.size(); ++i) {
    const GemmShape& s = shapes[i];
    const GemmTiming t =
        timeGemm(backend, world, s, dtype, {o.warmup, o.iterations, 0.0, o.fault_wrong_element},
                 static_cast<unsigned>(i + 1));
    results.wrong_total += t.wrong;
    results.checked_rows = std::max(results.checked_rows, t.checked_rows);
    const double gflops = s.flops() / t.median_seconds / 1e9;
    if (world.rank() == 0) {
      std::printf("  %8ld %8ld %8ld %5s %12.1f %12.1f %10.2f %7d\n", s.m, s.n, s.k, type,
                  t.median_seconds * 1e6, t.slowest_seconds * 1e6, gflops, t.wrong);
      results.rows.push_back({{"m", s.m},
                              {"n", s.n},
                              {"k", s.k},
                              {"type", type},
                              {"time_us", t.median_seconds * 1e6},
                              {"slowest_us", t.slowest_seconds * 1e6},
                              {"gflops", gflops},
                              {"wrong", t.wrong}});
    }
  }
  return results;
}

// Rank 0's closing line and --json file.
void finish(const BenchGemmOptions& o, const ExecutionContext& ctx, int ranks,
            const GemmResults& results) {
  std::printf(
      "# errors: %ld wrong element(s) in all (up to %d rows of each result, on every rank, "
      "against a float64 CPU reference)\n",
      results.wrong_total, results.checked_rows);
  if (!o.json_path.empty()) {
    writeFileAtomically(o.json_path, [&](std::ostream& out) {
      out << nlohmann::json{{"ranks", ranks},        {"backend", std::string(ctx.backend->name())},
                            {"device", ctx.device},  {"warmup", o.warmup},
                            {"iters", o.iterations}, {"rows", results.rows}}
                 .dump(2)
          << "\n";
    });
  }
}

}  // namespace

int benchGemm(const BenchGemmOptions& o, const comm::MpiSession& mpi) {
  auto mpi_world = comm::MpiCommunicator::wrap(MPI_COMM_WORLD, "world");
  const std::optional<std::vector<GemmShape>> shapes = shapesOnEveryRank(o, *mpi_world);
  if (!shapes) return kExitBadInput;
  const DType dtype = o.dtype == "bf16" ? DType::BF16 : DType::F32;
  std::optional<ExecutionContext> ctx = contextOnEveryRank(o.device, mpi, DType::F32, *mpi_world);
  if (!ctx) return kExitBadInput;
  if (dtype == DType::BF16 && ctx->backend->device() == Device::Cpu) {  // the same on every rank
    reportError(mpi.worldRank(),
                "--dtype: bf16 GEMMs run on the cuda backend only (--device cuda)");
    return kExitBadInput;
  }
  comm::Communicator& world = *ctx->world;
  const int threads = defaultBlasThreads(mpi);
  kernels::cpu::setBlasThreads(threads);
  const int n = world.size(), rank = world.rank();
  if (rank == 0) printHeader(o, *ctx, n, threads);
  const GemmResults results = timeShapes(o, *shapes, dtype, *ctx->backend, world);
  if (rank == 0) finish(o, *ctx, n, results);
  world.barrier();
  return results.wrong_total == 0 ? kExitOk : kExitValidationFailed;
}

}  // namespace shardrt::bench
