#include "launch/execution_context.h"

#include <mpi.h>

#include "comm/mpi_communicator.h"
#include "common/errors.h"
#include "runtime/cpu_backend.h"

#ifdef SHARDRT_HAVE_CUDA
#include "comm/staged_communicator.h"
#include "runtime/cuda_backend.h"
#endif

namespace shardrt::launch {

ExecutionContext makeExecutionContext(const std::string& device, const comm::MpiSession& mpi) {
  ExecutionContext ctx;
#ifdef SHARDRT_HAVE_CUDA
  const int gpus = cudaDeviceCount();
  if (device == "cuda" || (device == "auto" && gpus > 0)) {
    if (gpus == 0) throw ConfigError("--device", "cuda was asked for, but no GPU is visible");
    const int gpu = mpi.nodeRank() % gpus;
    ctx.backend = std::make_unique<CudaBackend>(gpu);
    ctx.world = std::make_unique<comm::StagedCommunicator>(
        comm::MpiCommunicator::wrap(MPI_COMM_WORLD, "world"));
    ctx.self = std::make_unique<comm::StagedCommunicator>(
        comm::MpiCommunicator::wrap(MPI_COMM_SELF, "self"));
    ctx.device = "cuda:" + std::to_string(gpu);
    return ctx;
  }
#else
  (void)mpi;
  if (device == "cuda") {
    throw ConfigError("--device",
                      "cuda was asked for, but this build has no CUDA (no nvcc at "
                      "configure time, or SHARDRT_CUDA=OFF)");
  }
#endif
  ctx.backend = std::make_unique<CpuBackend>();
  ctx.world = comm::MpiCommunicator::wrap(MPI_COMM_WORLD, "world");
  ctx.self = comm::MpiCommunicator::wrap(MPI_COMM_SELF, "self");
  ctx.device = "cpu";
  return ctx;
}

}  // namespace shardrt::launch
