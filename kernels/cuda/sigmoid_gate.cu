#include <cuda_bf16.h>

#include "common/cuda_check.h"
#include "kernels/cuda/element_type.cuh"
#include "kernels/cuda/sigmoid_gate.cuh"

namespace shardrt::kernels::cuda {
namespace {

// One thread per element; the gate is its row's. expf as the CPU's std::exp in fp32.
template <typename T>
__global__ void sigmoidGateRowsKernel(T* x, const T* gate_logits, long n, int cols) {
  const long i = static_cast<long>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= n) return;
  const float g = 1.0f / (1.0f + expf(-toFloat(gate_logits[i / cols])));
  x[i] = fromFloat<T>(toFloat(x[i]) * g);
}

template <typename T>
void launch(T* x, const T* gate_logits, long rows, int cols, cudaStream_t stream) {
  const long n = rows * cols;
  if (n == 0) return;
  constexpr int kThreads = 256;
  sigmoidGateRowsKernel<T>
      <<<static_cast<unsigned>((n + kThreads - 1) / kThreads), kThreads, 0, stream>>>(
          x, gate_logits, n, cols);
  CUDA_CHECK_LAUNCH();
}

}  // namespace

void sigmoidGateRows(float* x, const float* gate_logits, long rows, int cols, cudaStream_t stream) {
  launch(x, gate_logits, rows, cols, stream);
}

void sigmoidGateRows(__nv_bfloat16* x, const __nv_bfloat16* gate_logits, long rows, int cols,
                     cudaStream_t stream) {
  launch(x, gate_logits, rows, cols, stream);
}

}  // namespace shardrt::kernels::cuda
