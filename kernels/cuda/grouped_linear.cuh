// Several linear layers of the same shape in one cuBLAS launch (cublasSgemmGroupedBatched):
// group g computes out rows of its own token count with its own weight. This runs every local
// expert of an MoE layer at once instead of a loop of small GEMMs.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>

namespace shardrt::kernels::cuda {

// inp (sum of rows, in_features) and out (sum of rows, out_features) hold the groups' rows
// back to back; weights[g] (out_features, in_features) on the device, rows[g] on the host.
// Groups with no rows are left out of the launch.
void groupedLinear(cublasHandle_t handle, cudaStream_t stream, float* out, const float* inp,
                   const float* const* weights, const int* rows, int groups, int in_features,
                   int out_features);

}  // namespace shardrt::kernels::cuda
