// The Communicator: collectives on one group of ranks, over raw buffers, as NCCL's and MPI's
// own calls take them. One object per group (world, tp, pp, ep, dp), as one ncclComm_t or
// MPI_Comm is; split() makes the sub-groups. Implementations: mpi (CPU, here), nccl (issue 4),
// meta (shapes-only dry runs, issue 5).
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/dtype.h"

namespace shardrt::comm {

enum class ReduceOp { Sum, Max, Min };

class Communicator {
 public:
  virtual ~Communicator() = default;
  Communicator(const Communicator&) = delete;
  Communicator& operator=(const Communicator&) = delete;

  virtual std::string_view backendName() const = 0;  // "mpi", "nccl", ...
  // Its collectives on device buffers may be recorded into a CUDA graph (Backend::
  // beginCapture): enqueued on streams, with no host copy or host wait. A group of one makes no
  // calls.
  virtual bool graphSafe() const { return size() == 1; }
  const std::string& groupName() const { return group_name_; }  // "world", "tp", ...
  virtual int rank() const = 0;
  virtual int size() const = 0;

  // In place: every rank ends with the reduction of all ranks' buf[0:count].
  virtual void allReduce(void* buf, std::size_t count, DType dtype, ReduceOp op) = 0;
  // recv (size() * count) = concatenation of every rank's send (count), in rank order.
  virtual void allGather(const void* send, void* recv, std::size_t count, DType dtype) = 0;
  // recv (count) = rank r's block of the reduction of every rank's send (size() * count).
  virtual void reduceScatter(const void* send, void* recv, std::size_t count, DType dtype,
                             ReduceOp op) = 0;
  // On root, recv (size() * count) = every rank's send (count), in rank order; recv is
  // ignored elsewhere.
  virtual void gather(const void* send, void* recv, std::size_t count, DType dtype, int root) = 0;
  // Variable counts, one per rank of the group, in elements; blocks lie back to back in rank
  // order in the buffer holding several.
  // recv = every rank's send (counts[r] elements from rank r).
  virtual void allGatherV(const void* send, void* recv, const std::vector<std::size_t>& counts,
                          DType dtype) = 0;
  // On root, recv = every rank's send (counts[r] from rank r); recv is ignored elsewhere.
  virtual void gatherV(const void* send, void* recv, const std::vector<std::size_t>& counts,
                       DType dtype, int root) = 0;
  // Rank r sends send_counts[p] elements to each peer p and receives recv_counts[p] from it.
  virtual void allToAllV(const void* send, const std::vector<std::size_t>& send_counts, void* recv,
                         const std::vector<std::size_t>& recv_counts, DType dtype) = 0;
  virtual void broadcast(void* buf, std::size_t count, DType dtype, int root) = 0;
  virtual void send(const void* buf, std::size_t count, DType dtype, int peer) = 0;
  virtual void recv(void* buf, std::size_t count, DType dtype, int peer) = 0;
  // A send of host memory that returns before the peer receives it: the message is copied out
  // and travels while the caller goes on; the peer takes it with recv, in order with the
  // sends to it. For the closing edge of a ring, where a blocking send could wait on a peer
  // that is itself waiting to send (the last pipeline stage handing the new tokens back to the
  // first while every stage sends forward). flushPosted() returns once every message posted
  // on this group has been received.
  virtual void post(const void* buf, std::size_t count, DType dtype, int peer) = 0;
  virtual void flushPosted() = 0;
  virtual void barrier() = 0;

  // Ranks passing the same color form a new group, ordered by key (MPI_Comm_split).
  virtual std::unique_ptr<Communicator> split(int color, int key, std::string group_name) = 0;

 protected:
  explicit Communicator(std::string group_name) : group_name_(std::move(group_name)) {}

 private:
  std::string group_name_;
};

}  // namespace shardrt::comm
