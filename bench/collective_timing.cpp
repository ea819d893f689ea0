#include "bench/collective_timing.h"

#include <algorithm>
#include <chrono>

#include "runtime/host_values.h"
#include "runtime/rank_agreement.h"

namespace shardrt::bench {
namespace {

using planner::Collective;

// Rank r's send value at element i: small integers, exact in fp32 sums.
float sendValue(int r, std::size_t i) {
  return static_cast<float>(r + 1 + static_cast<int>(i % 7));
}

std::vector<CollectiveCase> makeCases() {
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

const std::vector<CollectiveCase>& collectiveCases() {
  static const std::vector<CollectiveCase> cases = makeCases();
  return cases;
}

CollectiveTiming timeCollective(const CollectiveCase& collective, Backend& backend,
                                comm::Communicator& world, long bytes, int warmup, int iterations) {
  const int n = world.size(), rank = world.rank();
  // Whole elements, a multiple of the ranks (the buffers split evenly among them).
  std::size_t count = static_cast<std::size_t>(bytes) / sizeof(float);
  count = std::max<std::size_t>(n, count / n * n);
  const std::size_t send_n = collective.send_elements(count, n),
                    recv_n = collective.recv_elements(count, n);
  Tensor send = backend.empty({Dim("elements", static_cast<std::int64_t>(send_n))}, DType::F32);
  Tensor recv = backend.empty({Dim("elements", static_cast<std::int64_t>(recv_n))}, DType::F32);
  std::vector<float> host(send_n);
  for (std::size_t i = 0; i < send_n; ++i) host[i] = sendValue(rank, i);
  uploadFloats(backend, send, host);
  // Checked before the timed calls: all-reduce works in place and sums its own result again.
  collective.run(world, send.data<float>(), recv.data<float>(), count);
  const std::vector<float> got =
      downloadFloats(backend, collective.kind == Collective::AllReduce ? send : recv);
  long wrong = 0;
  for (std::size_t i = 0; i < got.size(); ++i)
    wrong += got[i] != collective.expect(i, rank, n, count);
  CollectiveTiming t;
  t.wrong = static_cast<std::int32_t>(wrong);
  world.allReduce(&t.wrong, 1, DType::I32, comm::ReduceOp::Sum);

  for (int i = 0; i < warmup; ++i)
    collective.run(world, send.data<float>(), recv.data<float>(), count);
  backend.synchronize();
  world.barrier();
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < iterations; ++i)
    collective.run(world, send.data<float>(), recv.data<float>(), count);
  backend.synchronize();
  const std::chrono::duration<double> dt = std::chrono::steady_clock::now() - t0;
  t.seconds = maxOverRanks(world, dt.count() / iterations);
  t.count = count;
  t.size_bytes = static_cast<double>(count * sizeof(float));
  return t;
}

}  // namespace shardrt::bench
