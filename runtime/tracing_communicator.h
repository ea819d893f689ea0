// A Communicator that records every collective and point-to-point call it forwards: the
// communication half of the tracer (runtime/tracing_backend.h is the compute half). Each call
// becomes a TraceEvent of kind Comm that names its group, the group's members as world ranks,
// and the call's sequence number in the group, so that rank 0 can join the records of one
// collective from every member; send and recv are numbered per (sender, receiver) pair.
// Groups made by split() are wrapped too.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <vector>

#include "comm/forwarding_communicator.h"
#include "runtime/tracer.h"

namespace shardrt {

class TracingCommunicator final : public comm::ForwardingCommunicator {
 public:
  // Wraps the world communicator (not owned); collective: every rank calls it.
  static std::unique_ptr<TracingCommunicator> wrapWorld(comm::Communicator& world, Tracer& tracer);

  const std::vector<int>& members() const { return members_; }  // world ranks, in group order

  void allReduce(void* buf, std::size_t count, DType dtype, comm::ReduceOp op) override;
  void allGather(const void* send, void* recv, std::size_t count, DType dtype) override;
  void reduceScatter(const void* send, void* recv, std::size_t count, DType dtype,
                     comm::ReduceOp op) override;
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
  // flushPosted is not recorded: it waits on sends already drawn.
  // barrier is not recorded: it orders ranks and moves no data.
  std::unique_ptr<Communicator> split(int color, int key, std::string group_name) override;

 private:
  TracingCommunicator(comm::Communicator& inner, std::unique_ptr<comm::Communicator> owned,
                      Tracer& tracer);
  struct Call {
    const char* op;
    std::vector<TensorRef> inputs, outputs;
    double bytes_sent;
    long seq;
    int peer = -1;  // world rank, for send/recv
  };
  void run(Call call, const std::function<void()>& body);

  std::unique_ptr<comm::Communicator> owned_;  // a group split() made; null for the world
  Tracer& tracer_;
  std::vector<int> members_;
  long calls_ = 0;                     // collectives issued on this group
  std::map<int, long> sends_, recvs_;  // per peer (group rank)
};

}  // namespace shardrt
