// The watched mode of the NCCL communicator (comm/nccl_communicator.h): non-blocking NCCL
// calls waited out under the watchdog, failures NCCL reports while the host waits, and the
// abort of every NCCL communicator before the job is ended. Built only with CUDA.
#include <mpi.h>
#include <sched.h>

#include <algorithm>
#include <exception>
#include <string>
#include <vector>

#include "comm/collective_log.h"
#include "comm/nccl_communicator.h"
#include "comm/watchdog.h"
#include "common/cuda_check.h"
#include "common/errors.h"
#include "common/nccl_check.h"
#include "common/rank_label.h"

namespace shardrt::comm {
namespace {

// The watched communicators alive in this process, oldest first (a split's parent before it).
std::vector<ncclComm_t*>& watchedComms() {
  static std::vector<ncclComm_t*> comms;
  return comms;
}

}  // namespace

void NcclCommunicator::settle(ncclResult_t result, const char* call, const char* file, int line) {
  if (result == ncclSuccess) return;
  if (result != ncclInProgress || !watched_) throwNcclError(result, call, file, line);
  // NCCL takes a group's calls at ncclGroupEnd: they are waited out there.
  if (in_group_) return;
  // A non-blocking call returned before NCCL took it (it may be waiting for its peers to
  // connect): no other NCCL call, nor work on its stream, until the state leaves
  // ncclInProgress (NCCL's rule for non-blocking communicators).
  waitUntilReady(comm_, *current_);
}

void NcclCommunicator::groupStart() {
  settle(ncclGroupStart(), "ncclGroupStart()", __FILE__, __LINE__);
  in_group_ = true;
}

void NcclCommunicator::groupEnd() {
  in_group_ = false;
  settle(ncclGroupEnd(), "ncclGroupEnd()", __FILE__, __LINE__);
}

bool NcclCommunicator::ready(ncclComm_t comm, const CollectiveCall& call) {
  ncclResult_t state = ncclSuccess;
  NCCL_CHECK(ncclCommGetAsyncError(comm, &state));
  if (state == ncclInProgress) return false;
  if (state != ncclSuccess) reportFailure(comm, call, state);
  return true;
}

void NcclCommunicator::waitUntilReady(ncclComm_t comm, const CollectiveCall& call) {
  host_->watch(call, "", [&] { return ready(comm, call); });
}

void NcclCommunicator::waitForStream(const CollectiveCall& call) {
  host_->watch(call, "", [&] {
    ready(comm_, call);  // a failure NCCL saw (a peer's connection lost, ...) ends the job
    const cudaError_t status = cudaEventQuery(after_);
    if (status == cudaErrorNotReady) {
      // Not a failure; cleared so that the next launch check does not take it for one (the
      // runtime may keep it as the thread's last error).
      (void)cudaGetLastError();
      return false;
    }
    CUDA_CHECK(status);
    return true;
  });
}

void NcclCommunicator::reportFailure(ncclComm_t comm, const CollectiveCall& call,
                                     ncclResult_t state) {
  std::string line = std::string(thisRankPrefix()) + ": error: nccl: " + groupName() + " " +
                     call.op + " #" + std::to_string(call.seq) + " (" +
                     describeSize(host_->watchedGroup(), call) +
                     ") failed: " + ncclGetErrorString(state);
  const char* detail = ncclGetLastError(comm);
  if (detail && detail[0] != '\0') line += " (" + std::string(detail) + ")";
  const std::string context = describeContext();
  if (!context.empty()) line += " (in " + context + ")";
  // Ended here rather than thrown: unwinding would destroy communicators whose work NCCL
  // can no longer finish.
  reportAndEndJob(line + "\n", kExitInternal);
}

void NcclCommunicator::watchThis() {
  watchedComms().push_back(&comm_);
  setBeforeEndJob(&NcclCommunicator::abortEveryCommunicator);
}

void NcclCommunicator::abortEveryCommunicator() {
  // Newest first: a split's communicators before the one it was split from.
  auto& comms = watchedComms();
  for (auto it = comms.rbegin(); it != comms.rend(); ++it) {
    if (**it) ncclCommAbort(**it);  // non-blocking: waits for no other rank
    **it = nullptr;
  }
}

void NcclCommunicator::closeWatched() noexcept {
  auto& comms = watchedComms();
  comms.erase(std::remove(comms.begin(), comms.end(), &comm_), comms.end());
  if (!comm_) return;
  ncclResult_t state = ncclSuccess;
  const bool healthy = std::uncaught_exceptions() == 0 &&
                       ncclCommGetAsyncError(comm_, &state) == ncclSuccess && state == ncclSuccess;
  const ncclResult_t finalizing = healthy ? ncclCommFinalize(comm_) : ncclInternalError;
  if (finalizing == ncclSuccess || finalizing == ncclInProgress) {
    // Finalize waits out the communicator's work (bounded like a collective: the other
    // ranks finalize theirs too); then destroy frees what is left without blocking.
    const double timeout = reliabilitySettings().timeout_seconds;
    const double start = secondsSinceLogStart();
    while (ncclCommGetAsyncError(comm_, &state) == ncclSuccess && state == ncclInProgress &&
           (timeout <= 0.0 || secondsSinceLogStart() - start < timeout)) {
      sched_yield();
    }
    if (state == ncclSuccess) {
      ncclCommDestroy(comm_);
      comm_ = nullptr;
      return;
    }
  }
  // Unwinding from an error, or NCCL saw one, or finalizing did not end: abort, which
  // waits for no other rank.
  ncclCommAbort(comm_);
  comm_ = nullptr;
}

}  // namespace shardrt::comm
