#include <cuda_bf16.h>

#include "common/cuda_check.h"
#include "kernels/cuda/column_copy.cuh"
#include "kernels/cuda/element_type.cuh"

namespace shardrt::kernels::cuda {
namespace {

template <typename T>
__global__ void copyColumnsKernel(T* out, int out_cols, int out_col, const T* inp, int inp_cols,
                                  int inp_col, long n, int width, int repeat) {
  const long i = static_cast<long>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= n) return;
  const long r = i / out_cols;
  const int j = static_cast<int>(i % out_cols) - out_col;  // column within the block
  out[i] = j >= 0 && j < width ? inp[(r / repeat) * inp_cols + inp_col + j] : fromFloat<T>(0.0f);
}

template <typename T>
void launch(T* out, int out_cols, int out_col, const T* inp, int inp_cols, int inp_col,
            long out_rows, int width, int repeat, cudaStream_t stream) {
  const long n = out_rows * out_cols;
  if (n == 0) return;
  constexpr int kThreads = 256;
  copyColumnsKernel<T>
      <<<static_cast<unsigned>((n + kThreads - 1) / kThreads), kThreads, 0, stream>>>(
          out, out_cols, out_col, inp, inp_cols, inp_col, n, width, repeat);
  CUDA_CHECK_LAUNCH();
}

}  // namespace

void copyColumns(float* out, int out_cols, int out_col, const float* inp, int inp_cols, int inp_col,
                 long out_rows, int width, int repeat, cudaStream_t stream) {
  launch(out, out_cols, out_col, inp, inp_cols, inp_col, out_rows, width, repeat, stream);
}

void copyColumns(__nv_bfloat16* out, int out_cols, int out_col, const __nv_bfloat16* inp,
                 int inp_cols, int inp_col, long out_rows, int width, int repeat,
                 cudaStream_t stream) {
  launch(out, out_cols, out_col, inp, inp_cols, inp_col, out_rows, width, repeat, stream);
}

}  // namespace shardrt::kernels::cuda
