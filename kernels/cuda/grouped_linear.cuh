// Several linear layers of the same shape in one cuBLAS launch (cublasGemmGroupedBatchedEx):
// group g computes out rows of its own token count with its own weight. This runs every local
// expert of an MoE layer at once instead of a loop of small GEMMs.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>

namespace shardrt::kernels::cuda {

// inp (sum of rows, in_features) and out (sum of rows, out_features) hold the groups' rows
// back to back; weights[g] (out_features, in_features) on the device, rows[g] on the host.
// Groups with no rows are left out of the launch. All of one dtype (CUDA_R_32F or
// CUDA_R_16BF), accumulated in fp32.
void groupedLinear(cublasHandle_t handle, cudaStream_t stream, void* out, const void* inp,
                   const void* const* weights, cudaDataType_t type, const int* rows, int groups,
                   int in_features, int out_features);

inline void groupedLinear(cublasHandle_t handle, cudaStream_t stream, float* out, const float* inp,
                          const float* const* weights, const int* rows, int groups, int in_features,
                          int out_features) {
  groupedLinear(handle, stream, out, inp, reinterpret_cast<const void* const*>(weights), CUDA_R_32F,
                rows, groups, in_features, out_features);
}

}  // namespace shardrt::kernels::cuda
