#include "kernels/cuda/linear.cuh"

#include "common/cuda_check.h"

namespace shardrt::kernels::cuda {

void linear(cublasHandle_t handle, void* out, cudaDataType_t out_type, const void* inp,
            const void* weight, cudaDataType_t in_type, int rows, int in_features,
            int out_features) {
  if (rows == 0 || out_features == 0) return;
  const float one = 1.0f, zero = 0.0f;
  CUBLAS_CHECK(cublasGemmEx(handle, CUBLAS_OP_T, CUBLAS_OP_N, out_features, rows, in_features, &one,
                            weight, in_type, in_features, inp, in_type, in_features, &zero, out,
                            out_type, out_features, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
}

}  // namespace shardrt::kernels::cuda
