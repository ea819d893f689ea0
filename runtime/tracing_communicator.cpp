#include "runtime/tracing_communicator.h"

#include <numeric>

namespace shardrt {
namespace {

std::size_t total(const std::vector<std::size_t>& counts) {
  return std::accumulate(counts.begin(), counts.end(), std::size_t{0});
}

}  // namespace

TracingCommunicator::TracingCommunicator(comm::Communicator& inner,
                                         std::unique_ptr<comm::Communicator> owned, Tracer& tracer)
    : ForwardingCommunicator(inner), owned_(std::move(owned)), tracer_(tracer) {
  // Who is in the group, as world ranks: one small all-gather when the group is made.
  members_.resize(inner.size());
  const std::int32_t me = tracer_.rank();
  inner.allGather(&me, members_.data(), 1, DType::I32);
}

std::unique_ptr<TracingCommunicator> TracingCommunicator::wrapWorld(comm::Communicator& world,
                                                                    Tracer& tracer) {
  return std::unique_ptr<TracingCommunicator>(new TracingCommunicator(world, nullptr, tracer));
}

std::unique_ptr<comm::Communicator> TracingCommunicator::split(int color, int key,
                                                               std::string group_name) {
  auto group = inner().split(color, key, std::move(group_name));
  comm::Communicator& ref = *group;
  return std::unique_ptr<comm::Communicator>(
      new TracingCommunicator(ref, std::move(group), tracer_));
}

void TracingCommunicator::run(Call call, const std::function<void()>& body) {
  if (!tracer_.recording()) {
    body();
    return;
  }
  const std::size_t start = tracer_.mark();
  body();
  const std::size_t end = tracer_.mark();
  TraceEvent e;
  e.kind = OpKind::Comm;
  e.op = call.op;
  e.inputs = std::move(call.inputs);
  e.outputs = std::move(call.outputs);
  e.bytes = call.bytes_sent;
  e.group = groupName();
  e.group_ranks = members_;
  e.group_seq = call.seq;
  e.peer = call.peer;
  tracer_.record(std::move(e), start, end);
}

void TracingCommunicator::allReduce(void* buf, std::size_t count, DType dtype, comm::ReduceOp op) {
  const TensorRef r = tracer_.refRaw(buf, count, dtype);
  run({"all_reduce", {r}, {r}, static_cast<double>(r.bytes), calls_++},
      [&] { inner().allReduce(buf, count, dtype, op); });
}

void TracingCommunicator::allGather(const void* send, void* recv, std::size_t count, DType dtype) {
  const TensorRef s = tracer_.refRaw(send, count, dtype);
  run({"all_gather",
       {s},
       {tracer_.refRaw(recv, count * size(), dtype)},
       static_cast<double>(s.bytes),
       calls_++},
      [&] { inner().allGather(send, recv, count, dtype); });
}

void TracingCommunicator::reduceScatter(const void* send, void* recv, std::size_t count,
                                        DType dtype, comm::ReduceOp op) {
  const TensorRef s = tracer_.refRaw(send, count * size(), dtype);
  run({"reduce_scatter",
       {s},
       {tracer_.refRaw(recv, count, dtype)},
       static_cast<double>(s.bytes),
       calls_++},
      [&] { inner().reduceScatter(send, recv, count, dtype, op); });
}

void TracingCommunicator::gather(const void* send, void* recv, std::size_t count, DType dtype,
                                 int root) {
  const TensorRef s = tracer_.refRaw(send, count, dtype);
  std::vector<TensorRef> out;
  if (rank() == root) out.push_back(tracer_.refRaw(recv, count * size(), dtype));
  run({"gather", {s}, out, static_cast<double>(s.bytes), calls_++},
      [&] { inner().gather(send, recv, count, dtype, root); });
}

void TracingCommunicator::allGatherV(const void* send, void* recv,
                                     const std::vector<std::size_t>& counts, DType dtype) {
  const TensorRef s = tracer_.refRaw(send, counts.at(rank()), dtype);
  run({"all_gather",
       {s},
       {tracer_.refRaw(recv, total(counts), dtype)},
       static_cast<double>(s.bytes),
       calls_++},
      [&] { inner().allGatherV(send, recv, counts, dtype); });
}

void TracingCommunicator::gatherV(const void* send, void* recv,
                                  const std::vector<std::size_t>& counts, DType dtype, int root) {
  const TensorRef s = tracer_.refRaw(send, counts.at(rank()), dtype);
  std::vector<TensorRef> out;
  if (rank() == root) out.push_back(tracer_.refRaw(recv, total(counts), dtype));
  run({"gather", {s}, out, static_cast<double>(s.bytes), calls_++},
      [&] { inner().gatherV(send, recv, counts, dtype, root); });
}

void TracingCommunicator::allToAllV(const void* send, const std::vector<std::size_t>& send_counts,
                                    void* recv, const std::vector<std::size_t>& recv_counts,
                                    DType dtype) {
  const TensorRef s = tracer_.refRaw(send, total(send_counts), dtype);
  // What stays on this rank is not sent anywhere.
  const double sent =
      static_cast<double>(s.bytes) - static_cast<double>(send_counts.at(rank()) * dtypeSize(dtype));
  run({"all_to_all", {s}, {tracer_.refRaw(recv, total(recv_counts), dtype)}, sent, calls_++},
      [&] { inner().allToAllV(send, send_counts, recv, recv_counts, dtype); });
}

void TracingCommunicator::broadcast(void* buf, std::size_t count, DType dtype, int root) {
  const TensorRef r = tracer_.refRaw(buf, count, dtype);
  run({"broadcast",
       rank() == root ? std::vector<TensorRef>{r} : std::vector<TensorRef>{},
       {r},
       rank() == root ? static_cast<double>(r.bytes) : 0.0,
       calls_++},
      [&] { inner().broadcast(buf, count, dtype, root); });
}

void TracingCommunicator::send(const void* buf, std::size_t count, DType dtype, int peer) {
  const TensorRef r = tracer_.refRaw(buf, count, dtype);
  run({"send", {r}, {}, static_cast<double>(r.bytes), sends_[peer]++, members_.at(peer)},
      [&] { inner().send(buf, count, dtype, peer); });
}

void TracingCommunicator::recv(void* buf, std::size_t count, DType dtype, int peer) {
  run({"recv", {}, {tracer_.refRaw(buf, count, dtype)}, 0.0, recvs_[peer]++, members_.at(peer)},
      [&] { inner().recv(buf, count, dtype, peer); });
}

// A posted send is drawn as a send: the same node and edges, numbered with the sends to the
// peer (MPI keeps them in order with each other); its time on the timeline is the hand-over.
void TracingCommunicator::post(const void* buf, std::size_t count, DType dtype, int peer) {
  const TensorRef r = tracer_.refRaw(buf, count, dtype);
  run({"send", {r}, {}, static_cast<double>(r.bytes), sends_[peer]++, members_.at(peer)},
      [&] { inner().post(buf, count, dtype, peer); });
}

}  // namespace shardrt
