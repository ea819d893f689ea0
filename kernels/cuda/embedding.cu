#include <cuda_bf16.h>

#include "common/cuda_check.h"
#include "kernels/cuda/element_type.cuh"
#include "kernels/cuda/embedding.cuh"

namespace shardrt::kernels::cuda {
namespace {

constexpr int kThreads = 256;

// Block t writes token t's row: the table's row ids[t] - first_id, or zeros when the id is
// outside this table's block.
template <typename T>
__global__ void embedRowsKernel(T* out, const std::int32_t* ids, const T* table, int hidden,
                                long table_rows, long first_id) {
  const long row = static_cast<long>(ids[blockIdx.x]) - first_id;
  T* dst = out + static_cast<long>(blockIdx.x) * hidden;
  if (row >= 0 && row < table_rows) {
    const T* src = table + row * hidden;
    for (int c = threadIdx.x; c < hidden; c += blockDim.x) dst[c] = src[c];
  } else {
    for (int c = threadIdx.x; c < hidden; c += blockDim.x) dst[c] = fromFloat<T>(0.0f);
  }
}

template <typename T>
void launchEmbedRows(T* out, const std::int32_t* ids, const T* table, long tokens, int hidden,
                     long table_rows, long first_id, cudaStream_t stream) {
  if (tokens == 0 || hidden == 0) return;
  embedRowsKernel<T><<<static_cast<unsigned>(tokens), kThreads, 0, stream>>>(
      out, ids, table, hidden, table_rows, first_id);
  CUDA_CHECK_LAUNCH();
}

}  // namespace

void embedRows(float* out, const std::int32_t* ids, const float* table, long tokens, int hidden,
               long table_rows, long first_id, cudaStream_t stream) {
  launchEmbedRows(out, ids, table, tokens, hidden, table_rows, first_id, stream);
}

void embedRows(__nv_bfloat16* out, const std::int32_t* ids, const __nv_bfloat16* table, long tokens,
               int hidden, long table_rows, long first_id, cudaStream_t stream) {
  launchEmbedRows(out, ids, table, tokens, hidden, table_rows, first_id, stream);
}

}  // namespace shardrt::kernels::cuda
