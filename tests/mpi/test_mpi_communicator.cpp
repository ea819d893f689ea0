// The mpi Communicator on 1..8 ranks: each collective against the value it must produce,
// computed independently on every rank. Data are rank-dependent and not tile-sized.
#include <gtest/gtest.h>

#include <numeric>

#include "comm/mpi_communicator.h"
#include "common/bfloat16.h"
#include "config/parallel_layout.h"
#include "runtime/process_groups.h"

namespace shardrt::comm {
namespace {

// A value every rank can compute for any (rank, index): integers small enough that float
// sums over 8 ranks are exact.
float valueAt(int rank, std::size_t i) { return float((rank + 1) * 10 + static_cast<int>(i % 7)); }

std::unique_ptr<MpiCommunicator> world() { return MpiCommunicator::wrap(MPI_COMM_WORLD, "world"); }

TEST(MpiCommunicator, AllReduceSumMaxMin) {
  auto w = world();
  const std::size_t n = 1003;
  std::vector<float> sum(n), mx(n), mn(n);
  for (std::size_t i = 0; i < n; ++i) sum[i] = mx[i] = mn[i] = valueAt(w->rank(), i);
  w->allReduce(sum.data(), n, DType::F32, ReduceOp::Sum);
  w->allReduce(mx.data(), n, DType::F32, ReduceOp::Max);
  w->allReduce(mn.data(), n, DType::F32, ReduceOp::Min);
  for (std::size_t i = 0; i < n; ++i) {
    float expect = 0;
    for (int r = 0; r < w->size(); ++r) expect += valueAt(r, i);
    ASSERT_EQ(sum[i], expect);
    ASSERT_EQ(mx[i], valueAt(w->size() - 1, i));
    ASSERT_EQ(mn[i], valueAt(0, i));
  }
}

TEST(MpiCommunicator, Bfloat16ReducesThroughItsOwnOps) {
  auto w = world();
  const std::size_t n = 301;
  std::vector<bfloat16> sum(n), mx(n);
  // Integers below 256 are exact in bf16 (8 significant bits), so every partial sum is too,
  // whatever order the reduction takes.
  auto small = [](int rank, std::size_t i) { return float(rank + 1 + static_cast<int>(i % 3)); };
  for (std::size_t i = 0; i < n; ++i) sum[i] = mx[i] = toBfloat16(small(w->rank(), i));
  w->allReduce(sum.data(), n, DType::BF16, ReduceOp::Sum);
  w->allReduce(mx.data(), n, DType::BF16, ReduceOp::Max);
  for (std::size_t i = 0; i < n; ++i) {
    float expect = 0;
    for (int r = 0; r < w->size(); ++r) expect += small(r, i);
    ASSERT_EQ(toFloat(sum[i]), expect);
    ASSERT_EQ(toFloat(mx[i]), small(w->size() - 1, i));
  }
}

TEST(MpiCommunicator, AllGatherConcatenatesInRankOrder) {
  auto w = world();
  const std::size_t n = 37;
  std::vector<float> mine(n), all(n * w->size(), -1.0f);
  for (std::size_t i = 0; i < n; ++i) mine[i] = valueAt(w->rank(), i);
  w->allGather(mine.data(), all.data(), n, DType::F32);
  for (int r = 0; r < w->size(); ++r)
    for (std::size_t i = 0; i < n; ++i) ASSERT_EQ(all[r * n + i], valueAt(r, i));
}

TEST(MpiCommunicator, ReduceScatterGivesEachRankItsBlockOfTheSum) {
  auto w = world();
  const std::size_t n = 29;
  std::vector<float> send(n * w->size()), recv(n, -1.0f);
  for (std::size_t i = 0; i < send.size(); ++i) send[i] = valueAt(w->rank(), i);
  w->reduceScatter(send.data(), recv.data(), n, DType::F32, ReduceOp::Sum);
  for (std::size_t i = 0; i < n; ++i) {
    float expect = 0;
    for (int r = 0; r < w->size(); ++r) expect += valueAt(r, w->rank() * n + i);
    ASSERT_EQ(recv[i], expect);
  }
}

TEST(MpiCommunicator, GatherAndBroadcast) {
  auto w = world();
  const std::size_t n = 11;
  std::vector<float> mine(n), all(w->rank() == 0 ? n * w->size() : 0);
  for (std::size_t i = 0; i < n; ++i) mine[i] = valueAt(w->rank(), i);
  w->gather(mine.data(), all.data(), n, DType::F32, 0);
  if (w->rank() == 0) {
    for (int r = 0; r < w->size(); ++r)
      for (std::size_t i = 0; i < n; ++i) ASSERT_EQ(all[r * n + i], valueAt(r, i));
  }
  const int root = w->size() - 1;
  std::int32_t token = w->rank() == root ? 4242 : 0;
  w->broadcast(&token, 1, DType::I32, root);
  EXPECT_EQ(token, 4242);
}

TEST(MpiCommunicator, SendRecvAroundARing) {
  auto w = world();
  if (w->size() < 2) GTEST_SKIP() << "send/recv needs at least 2 ranks";
  const int next = (w->rank() + 1) % w->size(), prev = (w->rank() + w->size() - 1) % w->size();
  const std::size_t n = 17;
  std::vector<float> out(n), in(n, -1.0f);
  for (std::size_t i = 0; i < n; ++i) out[i] = valueAt(w->rank(), i);
  // Even ranks send first, odd ranks receive first: blocking send/recv cannot deadlock.
  if (w->rank() % 2 == 0) {
    w->send(out.data(), n, DType::F32, next);
    w->recv(in.data(), n, DType::F32, prev);
  } else {
    w->recv(in.data(), n, DType::F32, prev);
    w->send(out.data(), n, DType::F32, next);
  }
  for (std::size_t i = 0; i < n; ++i) ASSERT_EQ(in[i], valueAt(prev, i));
}

// Every rank posts to the next before any receives: with blocking sends of messages this
// large (beyond MPI's eager limit, so each waits for its receiver) the ring would deadlock.
// Posts return at once, keep their order per receiver, and hold their own copy: the buffer
// is overwritten right after each post.
TEST(MpiCommunicator, PostedSendsAroundARingAllAtOnce) {
  auto w = world();
  if (w->size() < 2) GTEST_SKIP() << "a ring needs at least 2 ranks";
  const int next = (w->rank() + 1) % w->size(), prev = (w->rank() + w->size() - 1) % w->size();
  const std::size_t n = (1 << 20) + 13;  // 4 MiB and a little
  const int messages = 3;
  std::vector<float> out(n);
  for (int m = 0; m < messages; ++m) {
    for (std::size_t i = 0; i < n; ++i) out[i] = valueAt(w->rank(), i) + 1000.0f * m;
    w->post(out.data(), n, DType::F32, next);
  }
  std::fill(out.begin(), out.end(), -7.0f);
  std::vector<float> in(n);
  for (int m = 0; m < messages; ++m) {
    std::fill(in.begin(), in.end(), -1.0f);
    w->recv(in.data(), n, DType::F32, prev);
    for (std::size_t i = 0; i < n; ++i) ASSERT_EQ(in[i], valueAt(prev, i) + 1000.0f * m);
  }
  w->flushPosted();
}

TEST(MpiCommunicator, SplitGroupsFollowTheParallelLayout) {
  auto w = world();
  // Every (tp, pp, dp) grid of this world size whose tp divides it.
  for (int tp = 1; tp <= w->size(); ++tp) {
    if (w->size() % tp) continue;
    const int dp = w->size() / tp;
    const config::ParallelLayout layout(tp, 1, dp, w->rank());
    ProcessGroups g = ProcessGroups::split(*w, layout);
    EXPECT_EQ(g.tp->size(), tp);
    EXPECT_EQ(g.tp->rank(), layout.tpRank());
    EXPECT_EQ(g.dp->size(), dp);
    EXPECT_EQ(g.dp->rank(), layout.dpRank());
    EXPECT_EQ(g.pp->size(), 1);
    EXPECT_EQ(g.tp->groupName(), "tp");
    // The sum of world ranks over the tp group is the sum over layout.tpGroup().
    std::int32_t mine = w->rank();
    g.tp->allReduce(&mine, 1, DType::I32, ReduceOp::Sum);
    const auto members = layout.tpGroup();
    EXPECT_EQ(mine, std::accumulate(members.begin(), members.end(), 0)) << "tp=" << tp;
  }
}

}  // namespace
}  // namespace shardrt::comm
