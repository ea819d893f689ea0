// The Communicator over NCCL, for GPU buffers: one ncclComm_t per group, made from the world's
// with ncclCommSplit, the unique id broadcast over MPI. Each group also keeps its MPI
// communicator, which carries the host buffers (counts, verdicts, gathered results) and the
// barrier. Collectives run on the communicator's own stream, ordered after the compute stream
// and before its next work by events, so the host never waits for them. Built only with CUDA.
//
// Watched (reliabilitySettings().watch_nccl, --nccl-watchdog on): the NCCL communicators are
// non-blocking, so that ncclCommAbort never waits on a stuck rank, and the host waits for
// each collective as the MPI communicator does: numbered, logged and published on the
// progress board through the MPI group beside it, then polled (a CUDA event recorded after
// it, NCCL's asynchronous state) under the watchdog. Past --timeout: the same report, every
// NCCL communicator of the rank aborted, exit 4; a failure NCCL reports: one line naming
// the collective, exit 3. docs/reliability.md, "The collective watchdog".
#pragma once

#include <cuda_runtime.h>
#include <nccl.h>

#include <memory>

#include "comm/communicator.h"
#include "comm/mpi_communicator.h"

namespace shardrt::comm {

class NcclCommunicator final : public Communicator {
 public:
  // Collective over `host_group`: every rank of it calls this with its own compute stream.
  NcclCommunicator(std::unique_ptr<MpiCommunicator> host_group, cudaStream_t compute_stream);
  ~NcclCommunicator() override;

  // The NCCL version loaded at run time, as NCCL_VERSION_CODE encodes it (2.30.0 = 23000).
  static int loadedVersion();
  // Whether this NCCL accepts several ranks of one communicator on one GPU: from 2.30 with
  // NCCL_MULTI_RANK_GPU_ENABLE=1; earlier versions refuse ("Duplicate GPU detected").
  static bool allowsRanksSharingAGpu();

  std::string_view backendName() const override { return "nccl"; }
  // Unwatched and unchecked, a collective is its enqueued NCCL calls alone (ordered()).
  bool graphSafe() const override;
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
  // Host memory only, through the host group's MPI: an NCCL send waits for its receiver.
  void post(const void* buf, std::size_t count, DType dtype, int peer) override;
  void flushPosted() override { host_->flushPosted(); }
  void barrier() override { host_->barrier(); }
  std::unique_ptr<Communicator> split(int color, int key, std::string group_name) override;

 private:
  NcclCommunicator(std::unique_ptr<MpiCommunicator> host_group, ncclComm_t comm,
                   cudaStream_t compute_stream, bool watched);
  void init();
  // Runs `body` on the communicator's stream, after all work issued so far on the compute
  // stream, and makes the compute stream's later work wait for it.
  template <typename Body>
  void ordered(Body&& body);
  // One collective: `body` makes the NCCL calls. Watched, or with --check-collectives, it is
  // numbered, logged, published and (--check-collectives, `agree`) agreed on through the
  // host group; watched, the host then waits for it.
  template <typename Body>
  void collective(const char* op, long long count, DType dtype, int root, std::size_t bytes,
                  bool agree, Body&& body);

  // Watched mode. An NCCL call's result: ncclInProgress waits (watched) until NCCL has taken
  // the call, outside a group; other failures throw as NCCL_CHECK does.
  void settle(ncclResult_t result, const char* call, const char* file, int line);
  void groupStart();
  void groupEnd();
  // Whether `comm` has left ncclInProgress; a failure it reports ends the job.
  bool ready(ncclComm_t comm, const CollectiveCall& call);
  void waitUntilReady(ncclComm_t comm, const CollectiveCall& call);
  void waitForStream(const CollectiveCall& call);
  [[noreturn]] void reportFailure(ncclComm_t comm, const CollectiveCall& call,
                                  ncclResult_t state);
  // Listed among the communicators aborted before the job is ended; unlisted, and
  // destroyed (finalized first) or aborted when the stack unwinds from an error.
  void watchThis();
  void closeWatched() noexcept;
  static void abortEveryCommunicator();

  std::unique_ptr<MpiCommunicator> host_;
  ncclComm_t comm_ = nullptr;
  cudaStream_t compute_;
  cudaStream_t stream_ = nullptr;
  cudaEvent_t before_ = nullptr, after_ = nullptr;
  bool watched_ = false;
  bool in_group_ = false;                     // between ncclGroupStart and ncclGroupEnd
  const CollectiveCall* current_ = nullptr;  // the call being made, for the watchdog's report
};

}  // namespace shardrt::comm
