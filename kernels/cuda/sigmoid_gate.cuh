// A gate on whole rows on the GPU: x[r, :] *= sigmoid(g[r]), as kernels/cpu/sigmoid_gate.h.
// fp32 or bf16 storage; the sigmoid and the product in fp32.
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime.h>

namespace shardrt::kernels::cuda {

// x: rows x cols, in place; gate_logits: rows.
void sigmoidGateRows(float* x, const float* gate_logits, long rows, int cols, cudaStream_t stream);
void sigmoidGateRows(__nv_bfloat16* x, const __nv_bfloat16* gate_logits, long rows, int cols,
                     cudaStream_t stream);

}  // namespace shardrt::kernels::cuda
