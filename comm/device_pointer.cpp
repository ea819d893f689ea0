#include "comm/device_pointer.h"

#include <cuda_runtime.h>

namespace shardrt::comm {

bool isDevicePointer(const void* pointer) {
  if (!pointer) return false;
  cudaPointerAttributes attr{};
  if (cudaPointerGetAttributes(&attr, pointer) != cudaSuccess) {
    cudaGetLastError();  // clear it: an unregistered host pointer is not an error to keep
    return false;
  }
  return attr.type == cudaMemoryTypeDevice;
}

}  // namespace shardrt::comm
