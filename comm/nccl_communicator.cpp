#include "comm/nccl_communicator.h"

#include <cstdlib>
#include <cstring>
#include <numeric>
#include <string>

#include "comm/collective_log.h"
#include "comm/device_pointer.h"
#include "common/cuda_check.h"
#include "common/nccl_check.h"

// An NCCL call that enqueues work: NCCL_CHECK's rule, except that a watched (non-blocking)
// communicator's ncclInProgress is waited out (NcclCommunicator::settle).
#define NCCL_ENQUEUE(call) settle((call), #call, __FILE__, __LINE__)

namespace shardrt::comm {

namespace {

ncclDataType_t ncclType(DType dtype) {
  switch (dtype) {
    case DType::F32:
      return ncclFloat32;
    case DType::BF16:
      return ncclBfloat16;
    case DType::I32:
      return ncclInt32;
  }
  throw CommError("nccl: unsupported dtype");
}

ncclRedOp_t ncclOp(ReduceOp op) {
  switch (op) {
    case ReduceOp::Sum:
      return ncclSum;
    case ReduceOp::Max:
      return ncclMax;
    case ReduceOp::Min:
      return ncclMin;
  }
  throw CommError("nccl: unsupported reduction");
}

long long total(const std::vector<std::size_t>& counts) {
  long long t = 0;
  for (std::size_t c : counts) t += static_cast<long long>(c);
  return t;
}

std::vector<std::size_t> offsets(const std::vector<std::size_t>& counts) {
  std::vector<std::size_t> out(counts.size(), 0);
  std::exclusive_scan(counts.begin(), counts.end(), out.begin(), std::size_t{0});
  return out;
}

const char* at(const void* base, std::size_t elements, DType dtype) {
  return static_cast<const char*>(base) + elements * dtypeSize(dtype);
}

}  // namespace

int NcclCommunicator::loadedVersion() {
  int version = 0;
  NCCL_CHECK(ncclGetVersion(&version));
  return version;
}

bool NcclCommunicator::allowsRanksSharingAGpu() {
  const char* flag = std::getenv("NCCL_MULTI_RANK_GPU_ENABLE");
  return loadedVersion() >= 23000 && flag && std::strcmp(flag, "1") == 0;
}

NcclCommunicator::NcclCommunicator(std::unique_ptr<MpiCommunicator> host_group,
                                   cudaStream_t compute_stream)
    : Communicator(host_group->groupName()),
      host_(std::move(host_group)),
      compute_(compute_stream),
      watched_(reliabilitySettings().watch_nccl) {
  ncclUniqueId id;
  if (host_->rank() == 0) NCCL_CHECK(ncclGetUniqueId(&id));
  static_assert(sizeof(id) % sizeof(std::int32_t) == 0);
  host_->broadcast(&id, sizeof(id) / sizeof(std::int32_t), DType::I32, 0);
  if (!watched_) {
    NCCL_CHECK(ncclCommInitRank(&comm_, host_->size(), id, host_->rank()));
  } else {
    // Non-blocking: the call returns at once and the communicator is ready when NCCL's state
    // leaves ncclInProgress, which the watchdog bounds (a rank that never comes is reported).
    ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
    config.blocking = 0;
    const CollectiveCall call = host_->begin("nccl_init", -1, DType::I32, -1, 0, false);
    current_ = &call;
    NCCL_ENQUEUE(ncclCommInitRankConfig(&comm_, host_->size(), id, host_->rank(), &config));
    waitUntilReady(comm_, call);
    current_ = nullptr;
    host_->end(call);
  }
  init();
}

NcclCommunicator::NcclCommunicator(std::unique_ptr<MpiCommunicator> host_group, ncclComm_t comm,
                                   cudaStream_t compute_stream, bool watched)
    : Communicator(host_group->groupName()),
      host_(std::move(host_group)),
      comm_(comm),
      compute_(compute_stream),
      watched_(watched) {
  init();
}

void NcclCommunicator::init() {
  CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
  CUDA_CHECK(cudaEventCreateWithFlags(&before_, cudaEventDisableTiming));
  CUDA_CHECK(cudaEventCreateWithFlags(&after_, cudaEventDisableTiming));
  if (watched_) watchThis();
}

NcclCommunicator::~NcclCommunicator() {
  // No throwing from a destructor: failures here have nobody left to report to.
  if (watched_) {
    closeWatched();
  } else if (comm_) {
    ncclCommDestroy(comm_);
  }
  if (before_) cudaEventDestroy(before_);
  if (after_) cudaEventDestroy(after_);
  if (stream_) cudaStreamDestroy(stream_);
}

template <typename Body>
void NcclCommunicator::ordered(Body&& body) {
  CUDA_CHECK(cudaEventRecord(before_, compute_));
  CUDA_CHECK(cudaStreamWaitEvent(stream_, before_, 0));
  body();
  CUDA_CHECK(cudaEventRecord(after_, stream_));
  CUDA_CHECK(cudaStreamWaitEvent(compute_, after_, 0));
}

template <typename Body>
void NcclCommunicator::collective(const char* op, long long count, DType dtype, int root,
                                  std::size_t bytes, bool agree, Body&& body) {
  // Neither watched nor checked: the calls alone, the host never waiting for them.
  if (!watched_ && !reliabilitySettings().check_collectives) return ordered(body);
  const CollectiveCall call = host_->begin(op, count, dtype, root, bytes, agree);
  current_ = &call;
  ordered(body);
  // Unwatched, the log's end of an NCCL collective is when it was enqueued.
  if (watched_) waitForStream(call);
  current_ = nullptr;
  host_->end(call);
}

bool NcclCommunicator::graphSafe() const {
  return size() == 1 || (!watched_ && !reliabilitySettings().check_collectives);
}

void NcclCommunicator::allReduce(void* buf, std::size_t count, DType dtype, ReduceOp op) {
  if (!isDevicePointer(buf)) return host_->allReduce(buf, count, dtype, op);
  collective("all_reduce", count, dtype, -1, count * dtypeSize(dtype), true, [&] {
    NCCL_ENQUEUE(ncclAllReduce(buf, buf, count, ncclType(dtype), ncclOp(op), comm_, stream_));
  });
}

void NcclCommunicator::allGather(const void* send, void* recv, std::size_t count, DType dtype) {
  if (!isDevicePointer(recv)) return host_->allGather(send, recv, count, dtype);
  collective("all_gather", count, dtype, -1, count * dtypeSize(dtype), true, [&] {
    NCCL_ENQUEUE(ncclAllGather(send, recv, count, ncclType(dtype), comm_, stream_));
  });
}

void NcclCommunicator::reduceScatter(const void* send, void* recv, std::size_t count, DType dtype,
                                     ReduceOp op) {
  if (!isDevicePointer(recv)) return host_->reduceScatter(send, recv, count, dtype, op);
  const std::size_t bytes = count * size() * dtypeSize(dtype);
  collective("reduce_scatter", count, dtype, -1, bytes, true, [&] {
    NCCL_ENQUEUE(
        ncclReduceScatter(send, recv, count, ncclType(dtype), ncclOp(op), comm_, stream_));
  });
}

void NcclCommunicator::gather(const void* send, void* recv, std::size_t count, DType dtype,
                              int root) {
  gatherV(send, recv, std::vector<std::size_t>(size(), count), dtype, root);
}

void NcclCommunicator::gatherV(const void* send, void* recv, const std::vector<std::size_t>& counts,
                               DType dtype, int root) {
  if (!isDevicePointer(send)) return host_->gatherV(send, recv, counts, dtype, root);
  const auto offs = offsets(counts);
  const std::size_t bytes = counts[rank()] * dtypeSize(dtype);
  collective("gather_v", total(counts), dtype, root, bytes, true, [&] {
    groupStart();
    if (rank() == root) {
      for (int p = 0; p < size(); ++p) {
        NCCL_ENQUEUE(ncclRecv(const_cast<char*>(at(recv, offs[p], dtype)), counts[p],
                              ncclType(dtype), p, comm_, stream_));
      }
    }
    NCCL_ENQUEUE(ncclSend(send, counts[rank()], ncclType(dtype), root, comm_, stream_));
    groupEnd();
  });
}

void NcclCommunicator::allGatherV(const void* send, void* recv,
                                  const std::vector<std::size_t>& counts, DType dtype) {
  if (!isDevicePointer(recv)) return host_->allGatherV(send, recv, counts, dtype);
  const auto offs = offsets(counts);
  const std::size_t bytes = counts[rank()] * dtypeSize(dtype);
  collective("all_gather_v", total(counts), dtype, -1, bytes, true, [&] {
    groupStart();
    for (int p = 0; p < size(); ++p) {
      NCCL_ENQUEUE(ncclSend(send, counts[rank()], ncclType(dtype), p, comm_, stream_));
      NCCL_ENQUEUE(ncclRecv(const_cast<char*>(at(recv, offs[p], dtype)), counts[p],
                            ncclType(dtype), p, comm_, stream_));
    }
    groupEnd();
  });
}

void NcclCommunicator::allToAllV(const void* send, const std::vector<std::size_t>& send_counts,
                                 void* recv, const std::vector<std::size_t>& recv_counts,
                                 DType dtype) {
  if (!isDevicePointer(send) && !isDevicePointer(recv)) {
    return host_->allToAllV(send, send_counts, recv, recv_counts, dtype);
  }
  const auto send_offs = offsets(send_counts), recv_offs = offsets(recv_counts);
  // Each rank's counts differ by design: the check compares op, sequence and dtype only.
  const std::size_t bytes = total(send_counts) * dtypeSize(dtype);
  collective("all_to_all_v", -1, dtype, -1, bytes, true, [&] {
    // Grouped point-to-point: NCCL's all-to-all(v) as its documentation writes it.
    groupStart();
    for (int p = 0; p < size(); ++p) {
      NCCL_ENQUEUE(ncclSend(at(send, send_offs[p], dtype), send_counts[p], ncclType(dtype), p,
                            comm_, stream_));
      NCCL_ENQUEUE(ncclRecv(const_cast<char*>(at(recv, recv_offs[p], dtype)), recv_counts[p],
                            ncclType(dtype), p, comm_, stream_));
    }
    groupEnd();
  });
}

void NcclCommunicator::broadcast(void* buf, std::size_t count, DType dtype, int root) {
  if (!isDevicePointer(buf)) return host_->broadcast(buf, count, dtype, root);
  collective("broadcast", count, dtype, root, count * dtypeSize(dtype), true, [&] {
    NCCL_ENQUEUE(ncclBroadcast(buf, buf, count, ncclType(dtype), root, comm_, stream_));
  });
}

// Point to point: logged and watched as the MPI communicator's, not agreed on (the pair is not
// the whole group; a send with no receive shows as a stalled recv).
void NcclCommunicator::send(const void* buf, std::size_t count, DType dtype, int peer) {
  if (!isDevicePointer(buf)) return host_->send(buf, count, dtype, peer);
  collective("send", count, dtype, peer, count * dtypeSize(dtype), false,
             [&] { NCCL_ENQUEUE(ncclSend(buf, count, ncclType(dtype), peer, comm_, stream_)); });
}

void NcclCommunicator::post(const void* buf, std::size_t count, DType dtype, int peer) {
  if (isDevicePointer(buf)) throw CommError("nccl: post takes host memory only");
  host_->post(buf, count, dtype, peer);
}

void NcclCommunicator::recv(void* buf, std::size_t count, DType dtype, int peer) {
  if (!isDevicePointer(buf)) return host_->recv(buf, count, dtype, peer);
  collective("recv", count, dtype, peer, count * dtypeSize(dtype), false, [&] {
    NCCL_ENQUEUE(ncclRecv(buf, count, ncclType(dtype), peer, comm_, stream_));
  });
}

std::unique_ptr<Communicator> NcclCommunicator::split(int color, int key, std::string group_name) {
  auto host = host_->splitMpi(color, key, std::move(group_name));
  ncclComm_t sub = nullptr;
  if (!watched_) {
    NCCL_CHECK(ncclCommSplit(comm_, color, key, &sub, nullptr));
  } else {
    // Collective over this group; the new communicator inherits the non-blocking config and
    // is ready when both leave ncclInProgress.
    const CollectiveCall call = host_->begin("nccl_split", -1, DType::I32, -1, 0, false);
    current_ = &call;
    NCCL_ENQUEUE(ncclCommSplit(comm_, color, key, &sub, nullptr));
    waitUntilReady(comm_, call);
    waitUntilReady(sub, call);
    current_ = nullptr;
    host_->end(call);
  }
  return std::unique_ptr<Communicator>(
      new NcclCommunicator(std::move(host), sub, compute_, watched_));
}

}  // namespace shardrt::comm
