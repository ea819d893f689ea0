#include "comm/staged_communicator.h"

#include <cuda_runtime.h>

#include <numeric>
#include <vector>

#include "comm/device_pointer.h"
#include "common/cuda_check.h"

namespace shardrt::comm {
namespace {

// A host copy of a buffer that may live on the GPU: in() fills it from the buffer (when on
// the device), out() writes it back. Both copy on the compute stream and wait for it: the
// buffer was written by kernels on that (non-blocking) stream, which a plain cudaMemcpy on the
// legacy default stream does not wait for -- it read stale rows on the first GPU run.
class Staged {
 public:
  Staged(const void* buf, std::size_t bytes, cudaStream_t stream)
      : buf_(const_cast<void*>(buf)), bytes_(bytes), stream_(stream) {
    if (isDevicePointer(buf)) host_.resize(bytes);
  }
  void* host() { return host_.empty() ? buf_ : host_.data(); }
  Staged& in() {
    if (!host_.empty()) copy(host_.data(), buf_, cudaMemcpyDeviceToHost);
    return *this;
  }
  void out() {
    if (!host_.empty()) copy(buf_, host_.data(), cudaMemcpyHostToDevice);
  }

 private:
  void copy(void* dst, const void* src, cudaMemcpyKind kind) {
    CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes_, kind, stream_));
    CUDA_CHECK(cudaStreamSynchronize(stream_));
  }

  void* buf_;
  std::size_t bytes_;
  cudaStream_t stream_;
  std::vector<char> host_;
};

std::size_t total(const std::vector<std::size_t>& counts) {
  return std::accumulate(counts.begin(), counts.end(), std::size_t{0});
}

}  // namespace

StagedCommunicator::StagedCommunicator(std::unique_ptr<Communicator> inner,
                                       cudaStream_t compute_stream)
    : ForwardingCommunicator(*inner), owned_(std::move(inner)), stream_(compute_stream) {}

void StagedCommunicator::allReduce(void* buf, std::size_t count, DType dtype, ReduceOp op) {
  Staged b(buf, count * dtypeSize(dtype), stream_);
  inner().allReduce(b.in().host(), count, dtype, op);
  b.out();
}

void StagedCommunicator::allGather(const void* send, void* recv, std::size_t count, DType dtype) {
  Staged s(send, count * dtypeSize(dtype), stream_),
      r(recv, count * size() * dtypeSize(dtype), stream_);
  inner().allGather(s.in().host(), r.host(), count, dtype);
  r.out();
}

void StagedCommunicator::reduceScatter(const void* send, void* recv, std::size_t count, DType dtype,
                                       ReduceOp op) {
  Staged s(send, count * size() * dtypeSize(dtype), stream_),
      r(recv, count * dtypeSize(dtype), stream_);
  inner().reduceScatter(s.in().host(), r.host(), count, dtype, op);
  r.out();
}

void StagedCommunicator::gather(const void* send, void* recv, std::size_t count, DType dtype,
                                int root) {
  Staged s(send, count * dtypeSize(dtype), stream_);
  Staged r(recv, rank() == root ? count * size() * dtypeSize(dtype) : 0, stream_);
  inner().gather(s.in().host(), r.host(), count, dtype, root);
  r.out();
}

void StagedCommunicator::allGatherV(const void* send, void* recv,
                                    const std::vector<std::size_t>& counts, DType dtype) {
  Staged s(send, counts.at(rank()) * dtypeSize(dtype), stream_);
  Staged r(recv, total(counts) * dtypeSize(dtype), stream_);
  inner().allGatherV(s.in().host(), r.host(), counts, dtype);
  r.out();
}

void StagedCommunicator::gatherV(const void* send, void* recv,
                                 const std::vector<std::size_t>& counts, DType dtype, int root) {
  Staged s(send, counts.at(rank()) * dtypeSize(dtype), stream_);
  Staged r(recv, rank() == root ? total(counts) * dtypeSize(dtype) : 0, stream_);
  inner().gatherV(s.in().host(), r.host(), counts, dtype, root);
  r.out();
}

void StagedCommunicator::allToAllV(const void* send, const std::vector<std::size_t>& send_counts,
                                   void* recv, const std::vector<std::size_t>& recv_counts,
                                   DType dtype) {
  Staged s(send, total(send_counts) * dtypeSize(dtype), stream_);
  Staged r(recv, total(recv_counts) * dtypeSize(dtype), stream_);
  inner().allToAllV(s.in().host(), send_counts, r.host(), recv_counts, dtype);
  r.out();
}

void StagedCommunicator::broadcast(void* buf, std::size_t count, DType dtype, int root) {
  Staged b(buf, count * dtypeSize(dtype), stream_);
  inner().broadcast(b.in().host(), count, dtype, root);
  b.out();
}

void StagedCommunicator::send(const void* buf, std::size_t count, DType dtype, int peer) {
  Staged b(buf, count * dtypeSize(dtype), stream_);
  inner().send(b.in().host(), count, dtype, peer);
}

void StagedCommunicator::recv(void* buf, std::size_t count, DType dtype, int peer) {
  Staged b(buf, count * dtypeSize(dtype), stream_);
  inner().recv(b.host(), count, dtype, peer);
  b.out();
}

std::unique_ptr<Communicator> StagedCommunicator::split(int color, int key,
                                                        std::string group_name) {
  return std::make_unique<StagedCommunicator>(inner().split(color, key, std::move(group_name)),
                                              stream_);
}

}  // namespace shardrt::comm
