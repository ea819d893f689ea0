#include "comm/nccl_communicator.h"

#include <cstdlib>
#include <cstring>
#include <numeric>
#include <string>

#include "comm/device_pointer.h"
#include "common/cuda_check.h"
#include "common/nccl_check.h"

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

NcclCommunicator::NcclCommunicator(std::unique_ptr<Communicator> host_group,
                                   cudaStream_t compute_stream)
    : Communicator(host_group->groupName()),
      host_(std::move(host_group)),
      compute_(compute_stream) {
  ncclUniqueId id;
  if (host_->rank() == 0) NCCL_CHECK(ncclGetUniqueId(&id));
  static_assert(sizeof(id) % sizeof(std::int32_t) == 0);
  host_->broadcast(&id, sizeof(id) / sizeof(std::int32_t), DType::I32, 0);
  NCCL_CHECK(ncclCommInitRank(&comm_, host_->size(), id, host_->rank()));
  init();
}

NcclCommunicator::NcclCommunicator(std::unique_ptr<Communicator> host_group, ncclComm_t comm,
                                   cudaStream_t compute_stream)
    : Communicator(host_group->groupName()),
      host_(std::move(host_group)),
      comm_(comm),
      compute_(compute_stream) {
  init();
}

void NcclCommunicator::init() {
  CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
  CUDA_CHECK(cudaEventCreateWithFlags(&before_, cudaEventDisableTiming));
  CUDA_CHECK(cudaEventCreateWithFlags(&after_, cudaEventDisableTiming));
}

NcclCommunicator::~NcclCommunicator() {
  // No throwing from a destructor: failures here have nobody left to report to.
  if (comm_) ncclCommDestroy(comm_);
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

void NcclCommunicator::allReduce(void* buf, std::size_t count, DType dtype, ReduceOp op) {
  if (!isDevicePointer(buf)) return host_->allReduce(buf, count, dtype, op);
  ordered([&] {
    NCCL_CHECK(ncclAllReduce(buf, buf, count, ncclType(dtype), ncclOp(op), comm_, stream_));
  });
}

void NcclCommunicator::allGather(const void* send, void* recv, std::size_t count, DType dtype) {
  if (!isDevicePointer(recv)) return host_->allGather(send, recv, count, dtype);
  ordered([&] { NCCL_CHECK(ncclAllGather(send, recv, count, ncclType(dtype), comm_, stream_)); });
}

void NcclCommunicator::reduceScatter(const void* send, void* recv, std::size_t count, DType dtype,
                                     ReduceOp op) {
  if (!isDevicePointer(recv)) return host_->reduceScatter(send, recv, count, dtype, op);
  ordered([&] {
    NCCL_CHECK(ncclReduceScatter(send, recv, count, ncclType(dtype), ncclOp(op), comm_, stream_));
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
  ordered([&] {
    NCCL_CHECK(ncclGroupStart());
    if (rank() == root) {
      for (int p = 0; p < size(); ++p) {
        NCCL_CHECK(ncclRecv(const_cast<char*>(at(recv, offs[p], dtype)), counts[p], ncclType(dtype),
                            p, comm_, stream_));
      }
    }
    NCCL_CHECK(ncclSend(send, counts[rank()], ncclType(dtype), root, comm_, stream_));
    NCCL_CHECK(ncclGroupEnd());
  });
}

void NcclCommunicator::allGatherV(const void* send, void* recv,
                                  const std::vector<std::size_t>& counts, DType dtype) {
  if (!isDevicePointer(recv)) return host_->allGatherV(send, recv, counts, dtype);
  const auto offs = offsets(counts);
  ordered([&] {
    NCCL_CHECK(ncclGroupStart());
    for (int p = 0; p < size(); ++p) {
      NCCL_CHECK(ncclSend(send, counts[rank()], ncclType(dtype), p, comm_, stream_));
      NCCL_CHECK(ncclRecv(const_cast<char*>(at(recv, offs[p], dtype)), counts[p], ncclType(dtype),
                          p, comm_, stream_));
    }
    NCCL_CHECK(ncclGroupEnd());
  });
}

void NcclCommunicator::allToAllV(const void* send, const std::vector<std::size_t>& send_counts,
                                 void* recv, const std::vector<std::size_t>& recv_counts,
                                 DType dtype) {
  if (!isDevicePointer(send) && !isDevicePointer(recv)) {
    return host_->allToAllV(send, send_counts, recv, recv_counts, dtype);
  }
  const auto send_offs = offsets(send_counts), recv_offs = offsets(recv_counts);
  ordered([&] {
    // Grouped point-to-point: NCCL's all-to-all(v) as its documentation writes it.
    NCCL_CHECK(ncclGroupStart());
    for (int p = 0; p < size(); ++p) {
      NCCL_CHECK(ncclSend(at(send, send_offs[p], dtype), send_counts[p], ncclType(dtype), p, comm_,
                          stream_));
      NCCL_CHECK(ncclRecv(const_cast<char*>(at(recv, recv_offs[p], dtype)), recv_counts[p],
                          ncclType(dtype), p, comm_, stream_));
    }
    NCCL_CHECK(ncclGroupEnd());
  });
}

void NcclCommunicator::broadcast(void* buf, std::size_t count, DType dtype, int root) {
  if (!isDevicePointer(buf)) return host_->broadcast(buf, count, dtype, root);
  ordered(
      [&] { NCCL_CHECK(ncclBroadcast(buf, buf, count, ncclType(dtype), root, comm_, stream_)); });
}

void NcclCommunicator::send(const void* buf, std::size_t count, DType dtype, int peer) {
  if (!isDevicePointer(buf)) return host_->send(buf, count, dtype, peer);
  ordered([&] { NCCL_CHECK(ncclSend(buf, count, ncclType(dtype), peer, comm_, stream_)); });
}

void NcclCommunicator::recv(void* buf, std::size_t count, DType dtype, int peer) {
  if (!isDevicePointer(buf)) return host_->recv(buf, count, dtype, peer);
  ordered([&] { NCCL_CHECK(ncclRecv(buf, count, ncclType(dtype), peer, comm_, stream_)); });
}

std::unique_ptr<Communicator> NcclCommunicator::split(int color, int key, std::string group_name) {
  auto host = host_->split(color, key, std::move(group_name));
  ncclComm_t sub = nullptr;
  NCCL_CHECK(ncclCommSplit(comm_, color, key, &sub, nullptr));
  return std::unique_ptr<Communicator>(new NcclCommunicator(std::move(host), sub, compute_));
}

}  // namespace shardrt::comm
