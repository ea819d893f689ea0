// A Communicator that lets a host-only one (mpi) move GPU buffers: device buffers are copied
// to the host, the inner communicator runs, and results are copied back; host buffers pass
// straight through. The fallback the CUDA backend uses where NCCL is not available, and slow
// by design: two PCIe copies per collective. Built only with CUDA.
#pragma once

#include <cuda_runtime.h>

#include <memory>

#include "comm/forwarding_communicator.h"

namespace shardrt::comm {

// rank, size and barrier (no buffers) are forwarded as they are.
class StagedCommunicator final : public ForwardingCommunicator {
 public:
  // Device buffers are read and written on `compute_stream`, after the work queued on it.
  StagedCommunicator(std::unique_ptr<Communicator> inner, cudaStream_t compute_stream);

  std::string_view backendName() const override { return "mpi (host-staged)"; }

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
  std::unique_ptr<Communicator> split(int color, int key, std::string group_name) override;

 private:
  std::unique_ptr<Communicator> owned_;  // the host-only communicator inner() names
  cudaStream_t stream_;
};

}  // namespace shardrt::comm
