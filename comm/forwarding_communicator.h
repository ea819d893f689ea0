// A Communicator that passes every call, unchanged, to another Communicator of the same group:
// the base of the decorators (the tracer's recorder, the host-staged copies, test faults), so
// that each overrides only the calls it changes. It does not own the inner communicator; a
// decorator that does (one wrapping a group split() made) keeps it and passes a reference.
// split() is forwarded too, so the sub-group it returns is the inner one's, undecorated: a
// decorator that must also cover sub-groups overrides split().
#pragma once

#include "comm/communicator.h"

namespace shardrt::comm {

class ForwardingCommunicator : public Communicator {
 public:
  explicit ForwardingCommunicator(Communicator& inner);

  std::string_view backendName() const override;
  bool graphSafe() const override;
  int rank() const override;
  int size() const override;

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

 protected:
  Communicator& inner() const { return inner_; }

 private:
  Communicator& inner_;
};

}  // namespace shardrt::comm
