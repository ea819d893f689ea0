// The meta Communicator that `shardrt dag` runs every rank on, a thread each: host buffers
// move for real through every collective, buffers at meta addresses move nothing (and are
// never touched), and one failing rank stops the others instead of leaving them waiting.
#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <numeric>
#include <stdexcept>
#include <thread>
#include <vector>

#include "comm/meta_address.h"
#include "comm/meta_communicator.h"

namespace shardrt::comm {
namespace {

// Runs body(rank, world communicator) on `size` threads; returns how many threw.
int onEveryRank(int size, const std::function<void(int, Communicator&)>& body) {
  MetaWorld world(size);
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int r = 0; r < size; ++r) {
    threads.emplace_back([&, r] {
      auto comm = world.communicator(r);
      try {
        body(r, *comm);
      } catch (...) {
        ++failures;
        world.abort();
      }
    });
  }
  for (auto& t : threads) t.join();
  return failures;
}

TEST(MetaCommunicator, HostBuffersMoveThroughEveryCollective) {
  const int n = 4;
  std::vector<std::vector<std::int32_t>> gathered(n), reduced(n), received(n), ring(n);
  EXPECT_EQ(onEveryRank(n,
                        [&](int r, Communicator& c) {
                          const std::int32_t me = 10 + r;
                          gathered[r].resize(n);
                          c.allGather(&me, gathered[r].data(), 1, DType::I32);
                          reduced[r] = {r, 2 * r};
                          c.allReduce(reduced[r].data(), 2, DType::I32, ReduceOp::Sum);
                          // Rank r sends p + 1 values r*100 + p to each peer p.
                          std::vector<std::size_t> send_counts(n), recv_counts(n);
                          std::vector<std::int32_t> send;
                          for (int p = 0; p < n; ++p) {
                            send_counts[p] = p + 1;
                            recv_counts[p] = r + 1;
                            for (int i = 0; i <= p; ++i) send.push_back(r * 100 + p);
                          }
                          received[r].resize(n * (r + 1));
                          c.allToAllV(send.data(), send_counts, received[r].data(), recv_counts,
                                      DType::I32);
                          // A ring of sends: each rank sends first (buffered), then receives.
                          c.send(&me, 1, DType::I32, (r + 1) % n);
                          ring[r].resize(1);
                          c.recv(ring[r].data(), 1, DType::I32, (r + n - 1) % n);
                        }),
            0);
  for (int r = 0; r < n; ++r) {
    EXPECT_EQ(gathered[r], (std::vector<std::int32_t>{10, 11, 12, 13}));
    EXPECT_EQ(reduced[r], (std::vector<std::int32_t>{6, 12}));
    std::vector<std::int32_t> want;
    for (int p = 0; p < n; ++p) {
      for (int i = 0; i <= r; ++i) want.push_back(p * 100 + r);
    }
    EXPECT_EQ(received[r], want) << "rank " << r;
    EXPECT_EQ(ring[r][0], 10 + (r + n - 1) % n);
  }
}

TEST(MetaCommunicator, SplitOrdersMembersByKey) {
  const int n = 6;
  std::vector<std::vector<std::int32_t>> members(n);
  std::vector<int> group_rank(n);
  EXPECT_EQ(onEveryRank(n,
                        [&](int r, Communicator& c) {
                          auto sub = c.split(r % 2, -r, "parity");  // key -r: reversed order
                          group_rank[r] = sub->rank();
                          members[r].resize(sub->size());
                          const std::int32_t me = r;
                          sub->allGather(&me, members[r].data(), 1, DType::I32);
                        }),
            0);
  for (int r = 0; r < n; ++r) {
    EXPECT_EQ(members[r],
              r % 2 ? (std::vector<std::int32_t>{5, 3, 1}) : (std::vector<std::int32_t>{4, 2, 0}));
    EXPECT_EQ(members[r][group_rank[r]], r);
  }
}

TEST(MetaCommunicator, MetaAddressesMoveNothing) {
  // Never dereferenced: a collective on them must not touch them (it would crash).
  void* fake = reinterpret_cast<void*>(kMetaAddressBase + 4096);
  EXPECT_EQ(onEveryRank(3,
                        [&](int, Communicator& c) {
                          c.allReduce(fake, 1000, DType::F32, ReduceOp::Sum);
                          c.allGather(fake, fake, 10, DType::F32);
                          c.allToAllV(fake, {1, 1, 1}, fake, {1, 1, 1}, DType::BF16);
                        }),
            0);
}

TEST(MetaCommunicator, OneFailingRankStopsTheOthers) {
  // Rank 0 fails before the collective the others wait in; they must get an exception, not
  // hang (a hang here ends the test by its ctest timeout).
  const int failures = onEveryRank(4, [](int r, Communicator& c) {
    if (r == 0) throw std::runtime_error("rank 0 fails");
    std::int32_t x = r;
    c.allReduce(&x, 1, DType::I32, ReduceOp::Sum);
  });
  EXPECT_EQ(failures, 4);
}

TEST(MetaCommunicator, OneFailingRankStopsAWaitingReceiver) {
  const int failures = onEveryRank(2, [](int r, Communicator& c) {
    if (r == 0) throw std::runtime_error("rank 0 never sends");
    std::int32_t x = 0;
    c.recv(&x, 1, DType::I32, 0);
  });
  EXPECT_EQ(failures, 2);
}

}  // namespace
}  // namespace shardrt::comm
