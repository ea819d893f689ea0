#include "common/cuda_check.h"

#include <cstdlib>

namespace shardrt {
namespace {

// The rank as the MPI launcher tells it to the process (Open MPI, then PMI, then Slurm).
std::string rankText() {
  for (const char* var : {"OMPI_COMM_WORLD_RANK", "PMI_RANK", "SLURM_PROCID"}) {
    if (const char* v = std::getenv(var)) return v;
  }
  return "?";
}

}  // namespace

std::string failedCallSite(const char* call, const char* file, int line) {
  int device = -1;
  cudaGetDevice(&device);  // unchecked: it is only for the message
  return std::string("rank ") + rankText() + ", GPU " + std::to_string(device) + ": " + call +
         " failed at " + file + ":" + std::to_string(line);
}

void throwCudaError(cudaError_t status, const char* call, const char* file, int line) {
  throw CudaError(failedCallSite(call, file, line) + ": " + cudaGetErrorName(status) + ": " +
                  cudaGetErrorString(status));
}

void throwCublasError(cublasStatus_t status, const char* call, const char* file, int line) {
  throw CudaError(failedCallSite(call, file, line) + ": " + cublasGetStatusName(status) + ": " +
                  cublasGetStatusString(status));
}

}  // namespace shardrt
