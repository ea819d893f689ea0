#include "comm/forwarding_communicator.h"

namespace shardrt::comm {

ForwardingCommunicator::ForwardingCommunicator(Communicator& inner)
    : Communicator(inner.groupName()), inner_(inner) {}

std::string_view ForwardingCommunicator::backendName() const { return inner_.backendName(); }

bool ForwardingCommunicator::graphSafe() const { return inner_.graphSafe(); }

int ForwardingCommunicator::rank() const { return inner_.rank(); }

int ForwardingCommunicator::size() const { return inner_.size(); }

void ForwardingCommunicator::allReduce(void* buf, std::size_t count, DType dtype, ReduceOp op) {
  inner_.allReduce(buf, count, dtype, op);
}

void ForwardingCommunicator::allGather(const void* send, void* recv, std::size_t count,
                                       DType dtype) {
  inner_.allGather(send, recv, count, dtype);
}

void ForwardingCommunicator::reduceScatter(const void* send, void* recv, std::size_t count,
                                           DType dtype, ReduceOp op) {
  inner_.reduceScatter(send, recv, count, dtype, op);
}

void ForwardingCommunicator::gather(const void* send, void* recv, std::size_t count, DType dtype,
                                    int root) {
  inner_.gather(send, recv, count, dtype, root);
}

void ForwardingCommunicator::allGatherV(const void* send, void* recv,
                                        const std::vector<std::size_t>& counts, DType dtype) {
  inner_.allGatherV(send, recv, counts, dtype);
}

void ForwardingCommunicator::gatherV(const void* send, void* recv,
                                     const std::vector<std::size_t>& counts, DType dtype,
                                     int root) {
  inner_.gatherV(send, recv, counts, dtype, root);
}

void ForwardingCommunicator::allToAllV(const void* send,
                                       const std::vector<std::size_t>& send_counts, void* recv,
                                       const std::vector<std::size_t>& recv_counts, DType dtype) {
  inner_.allToAllV(send, send_counts, recv, recv_counts, dtype);
}

void ForwardingCommunicator::broadcast(void* buf, std::size_t count, DType dtype, int root) {
  inner_.broadcast(buf, count, dtype, root);
}

void ForwardingCommunicator::send(const void* buf, std::size_t count, DType dtype, int peer) {
  inner_.send(buf, count, dtype, peer);
}

void ForwardingCommunicator::recv(void* buf, std::size_t count, DType dtype, int peer) {
  inner_.recv(buf, count, dtype, peer);
}

void ForwardingCommunicator::post(const void* buf, std::size_t count, DType dtype, int peer) {
  inner_.post(buf, count, dtype, peer);
}

void ForwardingCommunicator::flushPosted() { inner_.flushPosted(); }

void ForwardingCommunicator::barrier() { inner_.barrier(); }

std::unique_ptr<Communicator> ForwardingCommunicator::split(int color, int key,
                                                            std::string group_name) {
  return inner_.split(color, key, std::move(group_name));
}

}  // namespace shardrt::comm
