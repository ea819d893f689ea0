// Linear layer on the GPU through cuBLAS: out = inp @ weight^T, weight [out_features,
// in_features] row-major as nn.Linear stores it. In cuBLAS's column-major view the row-major
// out (rows, N) is out^T (N, rows) = weight (N, K) . inp^T, i.e. sgemm(T, N, N, rows, K) on
// the same pointers, with no copy.
#pragma once

#include <cublas_v2.h>

namespace shardrt::kernels::cuda {

// out (rows, out_features) = inp (rows, in_features) @ weight (out_features, in_features)^T.
// The handle carries the stream. fp32 math, TF32 off, as validation at 1e-5 requires.
void linear(cublasHandle_t handle, float* out, const float* inp, const float* weight, int rows,
            int in_features, int out_features);

}  // namespace shardrt::kernels::cuda
