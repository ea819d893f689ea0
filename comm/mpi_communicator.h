// The Communicator over MPI: host buffers, any machine. Owns its MPI_Comm unless it wraps
// MPI_COMM_WORLD or MPI_COMM_SELF.
#pragma once

#include <mpi.h>

#include <deque>
#include <functional>
#include <vector>

#include "comm/communicator.h"
#include "comm/watchdog.h"

namespace shardrt::comm {

class MpiCommunicator final : public Communicator {
 public:
  // Wraps comm without owning it (MPI_COMM_WORLD, MPI_COMM_SELF).
  static std::unique_ptr<MpiCommunicator> wrap(MPI_Comm comm, std::string group_name);
  ~MpiCommunicator() override;

  std::string_view backendName() const override { return "mpi"; }
  int rank() const override { return group_.rank; }
  int size() const override { return group_.size; }

  void allReduce(void* buf, std::size_t count, DType dtype, ReduceOp op) override;
  void allGather(const void* send, void* recv, std::size_t count, DType dtype) override;
  void reduceScatter(const void* send, void* recv, std::size_t count, DType dtype,
                     ReduceOp op) override;
  void gather(const void* send, void* recv, std::size_t count, DType dtype, int root) override;
  void allGatherV(const void* send, void* recv, const std::vector<std::size_t>& counts,
                  DType dtype) override;
  void gatherV(const void* send, void* recv, const std::vector<std::size_t>& counts, DType dtype,
               int root) override;
  void allToAllV(const void* send, const std::vector<std::size_t>& send_counts, void* recv,
                 const std::vector<std::size_t>& recv_counts, DType dtype) override;
  void broadcast(void* buf, std::size_t count, DType dtype, int root) override;
  void send(const void* buf, std::size_t count, DType dtype, int peer) override;
  void recv(void* buf, std::size_t count, DType dtype, int peer) override;
  void post(const void* buf, std::size_t count, DType dtype, int peer) override;
  void flushPosted() override;
  void barrier() override;
  std::unique_ptr<Communicator> split(int color, int key, std::string group_name) override;
  std::unique_ptr<MpiCommunicator> splitMpi(int color, int key, std::string group_name);

  MPI_Comm handle() const { return comm_; }

  // One collective in flight: what it is, for the log, the board, the check and the report.
  using Call = CollectiveCall;

  // The bookkeeping of a collective, public for a communicator that moves the data by other
  // means on this group (nccl) and shares its numbering, log, board, check and watchdog.
  // begin numbers the call, logs it, publishes it and, with --check-collectives and `agree`,
  // confirms with the group that every rank is making the same call (CommError naming both
  // calls if not); end closes it.
  Call begin(const char* op, long long count, DType dtype, int root, std::size_t bytes,
             bool agree = true);
  void end(const Call& call);
  // Polls `done` until it returns true; past --timeout, the watchdog's report and exit 4.
  void watch(const Call& call, const char* what, const std::function<bool()>& done) const {
    waitWatched(group_, call, what, done);
  }
  const WatchedGroup& watchedGroup() const { return group_; }

 private:
  MpiCommunicator(MPI_Comm comm, bool owned, std::string group_name);

  // Waits for the request; past the watchdog's timeout, reports and aborts the job.
  void finish(const Call& call, MPI_Request request);
  void wait(const Call& call, MPI_Request& request, const char* what);

  // A posted send: its request, its copy of the message, and its call for the watchdog.
  struct Posted {
    MPI_Request request = MPI_REQUEST_NULL;
    std::vector<char> message;
    Call call;
  };

  MPI_Comm comm_;
  bool owned_;
  std::deque<Posted> posted_;  // in the order posted; the received ones are dropped as found
  WatchedGroup group_;         // rank, size and members, as the watchdog's report names them
};

}  // namespace shardrt::comm
