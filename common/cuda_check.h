// CUDA_CHECK and CUBLAS_CHECK: every CUDA runtime and cuBLAS call goes through one of them.
// On failure they name the call, file:line, the device and the MPI rank (from the environment
// the MPI launcher sets, so that the CUDA kernels need not call MPI) with the library's own
// message, and throw CudaError for the shardrt command's top level to report.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

namespace shardrt {

class CudaError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// "rank R, GPU G: CALL failed at FILE:LINE", the start of every message below (and of
// common/cudnn_check.h's).
std::string failedCallSite(const char* call, const char* file, int line);

[[noreturn]] void throwCudaError(cudaError_t status, const char* call, const char* file, int line);
[[noreturn]] void throwCublasError(cublasStatus_t status, const char* call, const char* file,
                                   int line);

}  // namespace shardrt

#define CUDA_CHECK(call)                                                        \
  do {                                                                          \
    const cudaError_t cuda_check_status_ = (call);                              \
    if (cuda_check_status_ != cudaSuccess) {                                    \
      ::shardrt::throwCudaError(cuda_check_status_, #call, __FILE__, __LINE__); \
    }                                                                           \
  } while (0)

#define CUBLAS_CHECK(call)                                                          \
  do {                                                                              \
    const cublasStatus_t cublas_check_status_ = (call);                             \
    if (cublas_check_status_ != CUBLAS_STATUS_SUCCESS) {                            \
      ::shardrt::throwCublasError(cublas_check_status_, #call, __FILE__, __LINE__); \
    }                                                                               \
  } while (0)

// Every launcher ends with this: a launch error (bad configuration) surfaces at its launch;
// SHARDRT_SYNC_CHECK=1 builds also wait for the kernel, so a fault is blamed on the right op.
#ifdef SHARDRT_SYNC_CHECK
#define CUDA_CHECK_LAUNCH()              \
  do {                                   \
    CUDA_CHECK(cudaGetLastError());      \
    CUDA_CHECK(cudaDeviceSynchronize()); \
  } while (0)
#else
#define CUDA_CHECK_LAUNCH() CUDA_CHECK(cudaGetLastError())
#endif
