// Linear layer on the GPU through cuBLAS: out = inp @ weight^T, weight [out_features,
// in_features] row-major as nn.Linear stores it. In cuBLAS's column-major view the row-major
// out (rows, N) is out^T (N, rows) = weight (N, K) . inp^T, i.e. gemm(T, N, N, rows, K) on
// the same pointers, with no copy. Accumulation is always fp32 (CUBLAS_COMPUTE_32F: no TF32
// rounding, which would miss fp32 validation at 1e-5).
#pragma once

#include <cublas_v2.h>

namespace shardrt::kernels::cuda {

// inp and weight of in_type (CUDA_R_32F or CUDA_R_16BF), out of out_type (the same, or
// CUDA_R_32F for bf16 inputs: the router's logits stay fp32). The handle carries the stream.
void linear(cublasHandle_t handle, void* out, cudaDataType_t out_type, const void* inp,
            const void* weight, cudaDataType_t in_type, int rows, int in_features,
            int out_features);

// fp32 everywhere.
inline void linear(cublasHandle_t handle, float* out, const float* inp, const float* weight,
                   int rows, int in_features, int out_features) {
  linear(handle, out, CUDA_R_32F, inp, weight, CUDA_R_32F, rows, in_features, out_features);
}

}  // namespace shardrt::kernels::cuda
