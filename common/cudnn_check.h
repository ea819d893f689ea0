// CUDNN_CHECK: every direct cuDNN call (handle creation, stream binding) goes through it, and
// throwCudnnFrontendError reports a cuDNN frontend call that failed where failure is not a
// "not supported" answer (kernels/cuda/attention_cudnn.cpp). Both name the call, file:line,
// the device and the MPI rank, as CUDA_CHECK does, and throw CudaError.
// Compiled only where CMake found cuDNN (SHARDRT_CUDNN): include it only from code that is.
#pragma once

#include <cudnn.h>

#include <string>

#include "common/cuda_check.h"

namespace shardrt {

[[noreturn]] void throwCudnnError(cudnnStatus_t status, const char* call, const char* file,
                                  int line);
// The frontend returns its own error object; the caller passes its message.
[[noreturn]] void throwCudnnFrontendError(const std::string& message, const char* call,
                                          const char* file, int line);

}  // namespace shardrt

#define CUDNN_CHECK(call)                                                         \
  do {                                                                            \
    const cudnnStatus_t cudnn_check_status_ = (call);                             \
    if (cudnn_check_status_ != CUDNN_STATUS_SUCCESS) {                            \
      ::shardrt::throwCudnnError(cudnn_check_status_, #call, __FILE__, __LINE__); \
    }                                                                             \
  } while (0)
