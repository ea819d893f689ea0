#include "kernels/cuda/grouped_linear.cuh"

#include <vector>

#include "common/cuda_check.h"
#include "kernels/cuda/linear.cuh"

namespace shardrt::kernels::cuda {
namespace {

constexpr long kRowsPerGroupForSeparateGemms = 1024;

}  // namespace

void groupedLinear(cublasHandle_t handle, cudaStream_t stream, void* out, const void* inp,
                   const void* const* weights, cudaDataType_t type, const int* rows, int groups,
                   int in_features, int out_features) {
  const std::size_t element = type == CUDA_R_16BF ? 2 : 4;
  const char* inp_bytes = static_cast<const char*>(inp);
  char* out_bytes = static_cast<char*>(out);
  // Row-major out_g = inp_g @ W_g^T is, column-major, out_g^T = W_g (op T) . inp_g^T, as in
  // linear.cpp. Per-group sizes live on the host, the pointer arrays on the device.
  std::vector<cublasOperation_t> trans_a, trans_b;
  std::vector<int> m, n, k, lda, ldb, ldc, group_size;
  std::vector<float> alpha, beta;
  std::vector<const void*> a, b;
  std::vector<void*> c;
  long row = 0;
  for (int g = 0; g < groups; ++g) {
    if (rows[g] > 0) {
      trans_a.push_back(CUBLAS_OP_T);
      trans_b.push_back(CUBLAS_OP_N);
      m.push_back(out_features);
      n.push_back(rows[g]);
      k.push_back(in_features);
      lda.push_back(in_features);
      ldb.push_back(in_features);
      ldc.push_back(out_features);
      alpha.push_back(1.0f);
      beta.push_back(0.0f);
      group_size.push_back(1);
      a.push_back(weights[g]);
      b.push_back(inp_bytes + row * in_features * element);
      c.push_back(out_bytes + row * out_features * element);
    }
    row += rows[g];
  }
  const int count = static_cast<int>(a.size());
  if (count == 0) return;
  // Large groups run as one cublasGemmEx each: on an H100 the grouped call ran a Mixtral-shaped
  // layer's experts (8 x ~4096 rows x 4096 x 14336, bf16) at 265 TFLOP/s, while one GEMM of
  // such a shape reaches ~850 (bench/cuda_kernel_bench). Many small groups (fine-grained
  // experts) keep the single grouped launch, where per-launch overhead would dominate.
  const long rows_total = row;
  if (rows_total / count >= kRowsPerGroupForSeparateGemms) {
    for (int i = 0; i < count; ++i) {
      linear(handle, c[i], type, b[i], a[i], type, n[i], in_features, out_features);
    }
    return;
  }

  // The pointer arrays must stay valid until the launch has run: stream-ordered memory.
  void* device_pointers = nullptr;
  const std::size_t bytes = 3 * count * sizeof(void*);
  CUDA_CHECK(cudaMallocAsync(&device_pointers, bytes, stream));
  std::vector<const void*> host_pointers;
  host_pointers.insert(host_pointers.end(), a.begin(), a.end());
  host_pointers.insert(host_pointers.end(), b.begin(), b.end());
  host_pointers.insert(host_pointers.end(), c.begin(), c.end());
  CUDA_CHECK(cudaMemcpyAsync(device_pointers, host_pointers.data(), bytes, cudaMemcpyHostToDevice,
                             stream));
  // No stream sync: a copy from pageable host memory returns only once the source has been
  // staged, so host_pointers may die with this call (CUDA Runtime API, "API synchronization
  // behavior"); the launch stays asynchronous.
  char* base = static_cast<char*>(device_pointers);  // A pointers, then B, then C
  const auto* da = reinterpret_cast<const void* const*>(base);
  const auto* db = reinterpret_cast<const void* const*>(base + count * sizeof(void*));
  auto* dc = reinterpret_cast<void* const*>(base + 2 * count * sizeof(void*));
  CUBLAS_CHECK(cublasGemmGroupedBatchedEx(handle, trans_a.data(), trans_b.data(), m.data(),
                                          n.data(), k.data(), alpha.data(), da, type, lda.data(),
                                          db, type, ldb.data(), beta.data(), dc, type, ldc.data(),
                                          count, group_size.data(), CUBLAS_COMPUTE_32F));
  CUDA_CHECK(cudaFreeAsync(device_pointers, stream));
}

}  // namespace shardrt::kernels::cuda
