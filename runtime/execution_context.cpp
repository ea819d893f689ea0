#include "runtime/execution_context.h"

#include <mpi.h>

#include "comm/collective_log.h"
#include "comm/mpi_communicator.h"
#include "common/errors.h"
#include "runtime/cpu_backend.h"

#ifdef SHARDRT_HAVE_CUDA
#include "comm/nccl_communicator.h"
#include "comm/staged_communicator.h"
#include "kernels/cuda/attention_cudnn.cuh"
#include "runtime/cuda_backend.h"
#endif

namespace shardrt {
namespace {

// --nccl-watchdog on changes how the NCCL communicator runs: asked for where there is none, it
// would do nothing, so it is refused rather than ignored.
void refuseNcclWatchdog(const char* why) {
  if (comm::reliabilitySettings().watch_nccl) {
    throw ConfigError("--nccl-watchdog",
                      std::string("on needs the NCCL communicator, and ") + why +
                          " (the MPI communicator is watched anyway: --timeout)");
  }
}

}  // namespace

ExecutionContext makeExecutionContext(const std::string& device, const comm::MpiSession& mpi,
                                      AttentionImpl attention) {
  ExecutionContext ctx;
#ifdef SHARDRT_HAVE_CUDA
  const int gpus = cudaDeviceCount();
  if (device == "cuda" || (device == "auto" && gpus > 0)) {
    if (gpus == 0) throw ConfigError("--device", "cuda was asked for, but no GPU is visible");
    if (attention == AttentionImpl::Cudnn && !kernels::cuda::cudnnAttentionBuilt()) {
      throw ConfigError("--attention",
                        "cudnn was asked for, but this build has no cuDNN (SHARDRT_CUDNN=OFF, "
                        "or cuDNN 9 or the cuDNN frontend headers not found at configure time)");
    }
    const int gpu = mpi.nodeRank() % gpus;
    auto cuda = std::make_unique<CudaBackend>(gpu, attention);
    ctx.ranks_share_a_gpu = mpi.ranksOnThisNode() > gpus;
    cudaStream_t stream = cuda->stream();  // the communicators order their copies after it
    // NCCL where it can run: one rank per GPU, or a version that lets ranks share one.
    const int version = comm::NcclCommunicator::loadedVersion();
    const std::string nccl = "nccl " + std::to_string(version / 10000) + "." +
                             std::to_string(version / 100 % 100) + "." +
                             std::to_string(version % 100);
    if (mpi.ranksOnThisNode() <= gpus || comm::NcclCommunicator::allowsRanksSharingAGpu()) {
      ctx.world = std::make_unique<comm::NcclCommunicator>(
          comm::MpiCommunicator::wrap(MPI_COMM_WORLD, "world"), stream);
      ctx.communicator_note = nccl + (mpi.ranksOnThisNode() > gpus
                                          ? ", ranks sharing a GPU (NCCL_MULTI_RANK_GPU_ENABLE=1)"
                                          : "");
      if (comm::reliabilitySettings().watch_nccl) {
        ctx.communicator_note += ", non-blocking and watched (--nccl-watchdog on)";
      }
    } else {
      refuseNcclWatchdog("this run's ranks share GPUs through the host-staged MPI path");
      ctx.world = std::make_unique<comm::StagedCommunicator>(
          comm::MpiCommunicator::wrap(MPI_COMM_WORLD, "world"), stream);
      ctx.communicator_note = std::to_string(mpi.ranksOnThisNode()) + " ranks share " +
                              std::to_string(gpus) + " GPU(s) and " + nccl +
                              " cannot (needs 2.30+ with NCCL_MULTI_RANK_GPU_ENABLE=1)";
    }
    ctx.backend = std::move(cuda);
    ctx.self = std::make_unique<comm::StagedCommunicator>(
        comm::MpiCommunicator::wrap(MPI_COMM_SELF, "self"), stream);
    ctx.device = "cuda:" + std::to_string(gpu);
    return ctx;
  }
#else
  (void)mpi;
  if (attention == AttentionImpl::Cudnn) {
    throw ConfigError("--attention",
                      "cudnn was asked for, but this build has no CUDA (no nvcc at configure "
                      "time, or SHARDRT_CUDA=OFF)");
  }
  if (device == "cuda") {
    throw ConfigError("--device",
                      "cuda was asked for, but this build has no CUDA (no nvcc at "
                      "configure time, or SHARDRT_CUDA=OFF)");
  }
#endif
  if (attention == AttentionImpl::Cudnn) {
    throw ConfigError("--attention", "cudnn runs on the cuda backend only (--device cuda)");
  }
  refuseNcclWatchdog("the cpu backend communicates through MPI");
  ctx.backend = std::make_unique<CpuBackend>();
  ctx.world = comm::MpiCommunicator::wrap(MPI_COMM_WORLD, "world");
  ctx.self = comm::MpiCommunicator::wrap(MPI_COMM_SELF, "self");
  ctx.device = "cpu";
  return ctx;
}

}  // namespace shardrt
