#include "launch/bench_collectives.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <vector>

#include "common/errors.h"
#include "launch/error_report.h"
#include "launch/execution_context.h"
#include "launch/rank_agreement.h"
#include "planner/cost_model.h"
#include "runtime/host_values.h"

namespace shardrt::launch {
namespace {

using planner::Collective;

// One collective as nccl-tests lays it out: the buffers for a size, the call, what every rank
// must hold afterwards. `bytes` is nccl-tests' size column: the whole buffer of all-reduce,
// the gathered output of all-gather, the input of reduce-scatter, the per-rank send buffer of
// all-to-all, the message of send/recv.
struct CollectiveCase {
  const char* name;
  const char* redop;
  Collective kind;
  // Elements of the send and receive buffers for nccl-tests size `count` (in elements).
  std::size_t (*send_elements)(std::size_t count, int n);
  std::size_t (*recv_elements)(std::size_t count, int n);
  std::function<void(comm::Communicator&, float*, float*, std::size_t)> run;
  // What recv[i] must be on rank r of n.
  std::function<float(std::size_t i, int r, int n, std::size_t count)> expect;
};

// Rank r's send value at element i: small integers, exact in fp32 sums.
float sendValue(int r, std::size_t i) {
  return static_cast<float>(r + 1 + static_cast<int>(i % 7));
}

std::vector<CollectiveCase> cases() {
  auto same = [](std::size_t c, int) { return c; };
  auto share = [](std::size_t c, int n) { return c / n; };
  return {
      {"all_reduce", "sum", Collective::AllReduce, same, same,
       [](comm::Communicator& c, float* s, float*, std::size_t count) {
         c.allReduce(s, count, DType::F32, comm::ReduceOp::Sum);
       },
       [](std::size_t i, int, int n, std::size_t) {
         float sum = 0.0f;
         for (int q = 0; q < n; ++q) sum += sendValue(q, i);
         return sum;
       }},
      {"all_gather", "none", Collective::AllGather, share, same,
       [](comm::Communicator& c, float* s, float* r, std::size_t count) {
         c.allGather(s, r, count / c.size(), DType::F32);
       },
       [](std::size_t i, int, int n, std::size_t count) {
         const std::size_t block = count / n;
         return sendValue(static_cast<int>(i / block), i % block);
       }},
      {"reduce_scatter", "sum", Collective::ReduceScatter, same, share,
       [](comm::Communicator& c, float* s, float* r, std::size_t count) {
         c.reduceScatter(s, r, count / c.size(), DType::F32, comm::ReduceOp::Sum);
       },
       [](std::size_t i, int r, int n, std::size_t count) {
         float sum = 0.0f;
         for (int q = 0; q < n; ++q) sum += sendValue(q, r * (count / n) + i);
         return sum;
       }},
      {"all_to_all", "none", Collective::AllToAll, same, same,
       [](comm::Communicator& c, float* s, float* r, std::size_t count) {
         const std::vector<std::size_t> counts(c.size(), count / c.size());
         c.allToAllV(s, counts, r, counts, DType::F32);
       },
       [](std::size_t i, int r, int n, std::size_t count) {
         const std::size_t block = count / n;  // from peer i / block, its block for rank r
         return sendValue(static_cast<int>(i / block), r * block + i % block);
       }},
      {"send_recv", "none", Collective::SendRecv, same, same,
       [](comm::Communicator& c, float* s, float* r, std::size_t count) {
         // A ring: even ranks send first, odd ranks receive first, so blocking calls pair up.
         const int next = (c.rank() + 1) % c.size(), prev = (c.rank() + c.size() - 1) % c.size();
         if (c.rank() % 2 == 0) {
           c.send(s, count, DType::F32, next);
           c.recv(r, count, DType::F32, prev);
         } else {
           c.recv(r, count, DType::F32, prev);
           c.send(s, count, DType::F32, next);
         }
       },
       [](std::size_t i, int r, int n, std::size_t) { return sendValue((r + n - 1) % n, i); }},
  };
}

}  // namespace

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
    std::printf(
        "# time: the slowest rank's mean per call; algbw = size / time; busbw = algbw * "
        "nccl-tests' factor\n");
  }
  nlohmann::json rows = nlohmann::json::array();
  long wrong_total = 0;
  for (const CollectiveCase& c : cases()) {
    if (rank == 0) {
      std::printf("#\n# %s\n# %12s %12s %6s %6s %5s %10s %8s %8s %7s\n", c.name, "size", "count",
                  "type", "redop", "root", "time(us)", "algbw", "busbw", "#wrong");
    }
    for (long bytes = o.min_bytes; bytes <= o.max_bytes; bytes *= std::max(2, o.step_factor)) {
      // Whole elements, a multiple of the ranks (the buffers split evenly among them).
      std::size_t count = static_cast<std::size_t>(bytes) / sizeof(float);
      count = std::max<std::size_t>(n, count / n * n);
      const std::size_t send_n = c.send_elements(count, n), recv_n = c.recv_elements(count, n);
      Tensor send = backend.empty({Dim("elements", static_cast<std::int64_t>(send_n))}, DType::F32);
      Tensor recv = backend.empty({Dim("elements", static_cast<std::int64_t>(recv_n))}, DType::F32);
      std::vector<float> host(send_n);
      auto fill = [&] {
        for (std::size_t i = 0; i < send_n; ++i) host[i] = sendValue(rank, i);
        uploadFloats(backend, send, host);
      };
      // Checked first: all-reduce works in place, so it is refilled before every timed call.
      fill();
      c.run(world, send.data<float>(), recv.data<float>(), count);
      const std::vector<float> got =
          downloadFloats(backend, c.kind == Collective::AllReduce ? send : recv);
      long wrong = 0;
      for (std::size_t i = 0; i < got.size(); ++i) wrong += got[i] != c.expect(i, rank, n, count);
      std::int32_t wrong_all = static_cast<std::int32_t>(wrong);
      world.allReduce(&wrong_all, 1, DType::I32, comm::ReduceOp::Sum);
      wrong_total += wrong_all;

      for (int i = 0; i < o.warmup; ++i)
        c.run(world, send.data<float>(), recv.data<float>(), count);
      backend.synchronize();
      world.barrier();
      const auto t0 = std::chrono::steady_clock::now();
      for (int i = 0; i < o.iterations; ++i) {
        c.run(world, send.data<float>(), recv.data<float>(), count);
      }
      backend.synchronize();
      const double mean = maxOverRanks(
          world, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() /
                     o.iterations);
      const double size = static_cast<double>(count * sizeof(float));
      const double algbw = size / mean / 1e9;
      const double busbw = algbw * planner::busFactor(c.kind, n);
      if (rank == 0) {
        std::printf("  %12.0f %12zu %6s %6s %5s %10.2f %8.3f %8.3f %7d\n", size, count, "float",
                    c.redop, "-", mean * 1e6, algbw, busbw, wrong_all);
        rows.push_back({{"collective", c.name},
                        {"size_bytes", size},
                        {"count", count},
                        {"type", "float"},
                        {"redop", c.redop},
                        {"time_us", mean * 1e6},
                        {"algbw_gbps", algbw},
                        {"busbw_gbps", busbw},
                        {"wrong", wrong_all}});
      }
    }
  }
  if (rank == 0) {
    std::printf("# errors: %ld wrong element(s) in all\n", wrong_total);
    if (!o.json_path.empty()) {
      std::ofstream(o.json_path) << nlohmann::json{{"ranks", n},
                                                   {"backend", std::string(backend.name())},
                                                   {"communicator",
                                                    std::string(world.backendName())},
                                                   {"rows", rows}}
                                        .dump(2)
                                 << "\n";
    }
  }
  return wrong_total == 0 ? kExitOk : kExitValidationFailed;
}

}  // namespace shardrt::launch
