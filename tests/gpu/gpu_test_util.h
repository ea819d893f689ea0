// Helpers for GPU tests: skip with the reason when there is no device, and device arrays that
// are poisoned (NaN) before a kernel writes them, so an unwritten element fails the check.
#pragma once

#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/cuda_check.h"

namespace shardrt::testing {

// Empty when a device is usable, else why not.
inline std::string whyNoGpu() {
  int n = 0;
  const cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess) return std::string("no usable CUDA device: ") + cudaGetErrorString(e);
  if (n == 0) return "no CUDA device";
  return "";
}

#define SHARDRT_REQUIRE_GPU()                                    \
  do {                                                           \
    const std::string why_no_gpu_ = ::shardrt::testing::whyNoGpu(); \
    if (!why_no_gpu_.empty()) GTEST_SKIP() << why_no_gpu_;       \
  } while (0)

template <typename T>
class DeviceArray {
 public:
  explicit DeviceArray(std::size_t n) : n_(n) {
    CUDA_CHECK(cudaMalloc(&p_, bytes()));
    CUDA_CHECK(cudaMemset(p_, 0xFF, bytes()));  // all-ones bits: NaN for floats
  }
  explicit DeviceArray(const std::vector<T>& host) : DeviceArray(host.size()) {
    CUDA_CHECK(cudaMemcpy(p_, host.data(), bytes(), cudaMemcpyHostToDevice));
  }
  ~DeviceArray() { cudaFree(p_); }
  DeviceArray(const DeviceArray&) = delete;
  DeviceArray& operator=(const DeviceArray&) = delete;

  T* get() const { return p_; }
  std::vector<T> download() const {
    std::vector<T> host(n_);
    CUDA_CHECK(cudaDeviceSynchronize());
    CUDA_CHECK(cudaMemcpy(host.data(), p_, bytes(), cudaMemcpyDeviceToHost));
    return host;
  }

 private:
  std::size_t bytes() const { return n_ * sizeof(T) + (n_ == 0 ? 1 : 0); }
  T* p_ = nullptr;
  std::size_t n_;
};

}  // namespace shardrt::testing
