// Linear layer on the CPU: out = inp @ weight^T, weight stored [out_features, in_features]
// as PyTorch's nn.Linear stores it. The GEMM is OpenBLAS's sgemm.
#pragma once

namespace shardrt::kernels::cpu {

// out (rows, out_features) = inp (rows, in_features) @ weight (out_features, in_features)^T
void linear(float* out, const float* inp, const float* weight, int rows, int in_features,
            int out_features);

// Plain triple loop, the reference the tests hold the BLAS path to.
void linearReference(float* out, const float* inp, const float* weight, int rows, int in_features,
                     int out_features);

}  // namespace shardrt::kernels::cpu
