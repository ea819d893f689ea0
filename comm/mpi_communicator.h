// The Communicator over MPI: host buffers, any machine. Owns its MPI_Comm unless it wraps
// MPI_COMM_WORLD or MPI_COMM_SELF.
#pragma once

#include <mpi.h>

#include <vector>

#include "comm/communicator.h"

namespace shardrt::comm {

class MpiCommunicator final : public Communicator {
 public:
  // Wraps comm without owning it (MPI_COMM_WORLD, MPI_COMM_SELF).
  static std::unique_ptr<MpiCommunicator> wrap(MPI_Comm comm, std::string group_name);
  ~MpiCommunicator() override;

  std::string_view backendName() const override { return "mpi"; }
  int rank() const override { return rank_; }
  int size() const override { return size_; }

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
  void barrier() override;
  std::unique_ptr<Communicator> split(int color, int key, std::string group_name) override;

  MPI_Comm handle() const { return comm_; }

 private:
  // One collective in flight: what it is, for the log, the board, the check and the report.
  struct Call {
    const char* op;
    long seq;
    long long count;  // elements (the total over ranks for the v-collectives; -1: unchecked)
    DType dtype;
    int root;
    std::size_t bytes;  // what this rank contributes
    int log_slot;
  };

  MpiCommunicator(MPI_Comm comm, bool owned, std::string group_name);

  // Numbers the call, logs it, publishes it and, with --check-collectives and `agree`,
  // confirms with the group that every rank is making the same call (CommError naming both
  // calls if not).
  Call begin(const char* op, long long count, DType dtype, int root, std::size_t bytes,
             bool agree = true);
  long nextSeq();
  // Waits for the request; past the watchdog's timeout, reports and aborts the job.
  void finish(const Call& call, MPI_Request request);
  void wait(const Call& call, MPI_Request& request, const char* what);
  [[noreturn]] void reportStall(const Call& call, const char* what, double waited);
  std::string describeSize(const Call& call) const;
  std::string whoHasNotArrived(const Call& call) const;

  MPI_Comm comm_;
  bool owned_;
  int rank_ = 0;
  int size_ = 1;
  int board_slot_ = -1;          // this group's slot on the progress board
  std::vector<int> world_ranks_;  // the group's members, by group rank
};

}  // namespace shardrt::comm
