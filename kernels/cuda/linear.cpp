#include "kernels/cuda/linear.cuh"

#include "kernels/cuda/cuda_check.h"

namespace shardrt::kernels::cuda {

void linear(cublasHandle_t handle, float* out, const float* inp, const float* weight, int rows,
            int in_features, int out_features) {
  if (rows == 0 || out_features == 0) return;
  const float one = 1.0f, zero = 0.0f;
  CUBLAS_CHECK(cublasSgemm(handle, CUBLAS_OP_T, CUBLAS_OP_N, out_features, rows, in_features, &one,
                           weight, in_features, inp, in_features, &zero, out, out_features));
}

}  // namespace shardrt::kernels::cuda
