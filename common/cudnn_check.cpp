#include "common/cudnn_check.h"

namespace shardrt {

void throwCudnnError(cudnnStatus_t status, const char* call, const char* file, int line) {
  throw CudaError(failedCallSite(call, file, line) + ": " + cudnnGetErrorString(status));
}

void throwCudnnFrontendError(const std::string& message, const char* call, const char* file,
                             int line) {
  throw CudaError(failedCallSite(call, file, line) + ": cuDNN frontend: " + message);
}

}  // namespace shardrt
