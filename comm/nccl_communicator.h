// The Communicator over NCCL, for GPU buffers: one ncclComm_t per group, made from the world's
// with ncclCommSplit, the unique id broadcast over MPI. Each group also keeps its MPI
// communicator, which carries the host buffers (counts, verdicts, gathered results) and the
// barrier. Collectives run on the communicator's own stream, ordered after the compute stream
// and before its next work by events, so the host never waits for them. Built only with CUDA.
#pragma once

#include <cuda_runtime.h>
#include <nccl.h>

#include <memory>

#include "comm/communicator.h"

namespace shardrt::comm {

class NcclCommunicator final : public Communicator {
 public:
  // Collective over `host_group`: every rank of it calls this with its own compute stream.
  NcclCommunicator(std::unique_ptr<Communicator> host_group, cudaStream_t compute_stream);
  ~NcclCommunicator() override;

  // The NCCL version loaded at run time, as NCCL_VERSION_CODE encodes it (2.30.0 = 23000).
  static int loadedVersion();
  // Whether this NCCL accepts several ranks of one communicator on one GPU: from 2.30 with
  // NCCL_MULTI_RANK_GPU_ENABLE=1; earlier versions refuse ("Duplicate GPU detected").
  static bool allowsRanksSharingAGpu();

  std::string_view backendName() const override { return "nccl"; }
  int rank() const override { return host_->rank(); }
  int size() const override { return host_->size(); }

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
  void barrier() override { host_->barrier(); }
  std::unique_ptr<Communicator> split(int color, int key, std::string group_name) override;

 private:
  NcclCommunicator(std::unique_ptr<Communicator> host_group, ncclComm_t comm,
                   cudaStream_t compute_stream);
  void init();
  // Runs `body` on the communicator's stream, after all work issued so far on the compute
  // stream, and makes the compute stream's later work wait for it.
  template <typename Body>
  void ordered(Body&& body);

  std::unique_ptr<Communicator> host_;
  ncclComm_t comm_ = nullptr;
  cudaStream_t compute_;
  cudaStream_t stream_ = nullptr;
  cudaEvent_t before_ = nullptr, after_ = nullptr;
};

}  // namespace shardrt::comm
