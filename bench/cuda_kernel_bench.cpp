// The CUDA kernels against the two ceilings of the GPU they run on: each memory-bound kernel's
// achieved bandwidth against a device-to-device copy of the same bytes, and cuBLAS's GEMM rate
// on one Llama-3-8B-shaped layer's projections (the rate `shardrt run --profile` reports for
// `linear` is compared with it). Times are CUDA events, median of --iters after warm-up; the
// tensors (hundreds of MB) are far larger than L2, so repeats do not run from cache.
// Attention is timed in TFLOP/s: our kernel (`attention`) and, for bf16 in a build with cuDNN,
// cuDNN's fused one (`attn_cudnn`, what `run --attention cudnn` calls) on the same shape.
//   cuda_kernel_bench [--tokens 16384] [--hidden 4096] [--ffn 14336] [--dtype fp32|bf16]
#include <cublas_v2.h>
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <functional>
#include <string>
#include <type_traits>
#include <vector>

#include "common/cuda_check.h"
#include "kernels/cuda/activations.cuh"
#include "kernels/cuda/attention.cuh"
#include "kernels/cuda/attention_cudnn.cuh"
#include "kernels/cuda/layernorm.cuh"
#include "kernels/cuda/linear.cuh"
#include "kernels/cuda/residual.cuh"
#include "kernels/cuda/rmsnorm.cuh"
#include "kernels/cuda/rope.cuh"

namespace kc = shardrt::kernels::cuda;

namespace {

struct Options {
  long tokens = 16384;
  int hidden = 4096, ffn = 14336, heads = 32, head_dim = 128, iters = 20;
  std::string dtype = "fp32";
};

double medianMs(const std::function<void()>& launch, int iters) {
  cudaEvent_t start, stop;
  CUDA_CHECK(cudaEventCreate(&start));
  CUDA_CHECK(cudaEventCreate(&stop));
  for (int i = 0; i < 3; ++i) launch();  // warm-up
  std::vector<float> ms;
  for (int i = 0; i < iters; ++i) {
    CUDA_CHECK(cudaEventRecord(start));
    launch();
    CUDA_CHECK(cudaEventRecord(stop));
    CUDA_CHECK(cudaEventSynchronize(stop));
    float t = 0.0f;
    CUDA_CHECK(cudaEventElapsedTime(&t, start, stop));
    ms.push_back(t);
  }
  CUDA_CHECK(cudaEventDestroy(start));
  CUDA_CHECK(cudaEventDestroy(stop));
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

// Device buffer of `bytes`, filled with a non-zero pattern (never zeros: 0x3C3C... is a small
// positive value in fp32 and bf16).
void* deviceBuffer(std::size_t bytes) {
  void* p = nullptr;
  CUDA_CHECK(cudaMalloc(&p, bytes));
  CUDA_CHECK(cudaMemset(p, 0x3C, bytes));
  return p;
}

// The same causal attention through cuDNN's fused kernel (--attention cudnn), same FLOP count.
// Its first call builds the graph; medianMs's warm-up calls keep that out of the timing.
void benchCudnnAttention(const Options& o, __nv_bfloat16* q, __nv_bfloat16* out, __nv_bfloat16* kv,
                         int batch, const shardrt::kernels::AttentionHeads& ah) {
  if (!kc::cudnnAttentionBuilt()) {
    std::printf("%-12s not in this build (SHARDRT_CUDNN)\n", "attn_cudnn");
    return;
  }
  kc::CudnnAttention cudnn(nullptr);
  std::string why_not;
  if (!cudnn.run(out, q, kv, kv, batch, 2048, o.head_dim, ah, true, &why_not)) {
    std::printf("%-12s refused: %s\n", "attn_cudnn", why_not.c_str());
    return;
  }
  const double flops = 2.0 * batch * ah.q_heads * 2048.0 * 2048.0 * o.head_dim;
  const double ms = medianMs(
      [&] { cudnn.run(out, q, kv, kv, batch, 2048, o.head_dim, ah, true, nullptr); }, o.iters);
  std::printf("%-12s %12s %12s %10.3f %10.1f TFLOP/s (causal, cuDNN %s, same shape)\n",
              "attn_cudnn", "", "", ms, flops / ms / 1e9,
              kc::CudnnAttention::loadedVersion().c_str());
}

template <typename T>
void benchKernels(const Options& o) {
  const long n = o.tokens * o.hidden;
  const std::size_t e = sizeof(T);
  T* x = static_cast<T*>(deviceBuffer(n * e));
  T* y = static_cast<T*>(deviceBuffer(n * e));
  T* z = static_cast<T*>(deviceBuffer(n * e));
  T* w = static_cast<T*>(deviceBuffer(o.hidden * e));
  T* b = static_cast<T*>(deviceBuffer(o.hidden * e));
  const int rows = static_cast<int>(o.tokens), cols = o.hidden;

  const double copy_ms = medianMs(
      [&] { CUDA_CHECK(cudaMemcpyAsync(y, x, n * e, cudaMemcpyDeviceToDevice)); }, o.iters);
  const double copy_gbs = 2.0 * n * e / copy_ms / 1e6;
  std::printf("%-12s %12s %12s %10s %10s %8s\n", "# kernel", "elements", "bytes", "time_ms", "GB/s",
              "of_copy");
  auto row = [&](const char* name, double bytes, double ms) {
    const double gbs = bytes / ms / 1e6;
    std::printf("%-12s %12ld %12.0f %10.3f %10.1f %7.1f%%\n", name, n, bytes, ms, gbs,
                100.0 * gbs / copy_gbs);
  };
  row("d2d_copy", 2.0 * n * e, copy_ms);
  row("rmsnorm", (2.0 * n + cols) * e,
      medianMs([&] { kc::rmsNorm(y, x, w, rows, cols, 1e-5f, nullptr); }, o.iters));
  row("layernorm", (2.0 * n + 2.0 * cols) * e,
      medianMs([&] { kc::layerNorm(y, x, w, b, rows, cols, 1e-5f, nullptr); }, o.iters));
  // Sequences of 2048 positions, so the angles are those of a real batch.
  const int seq = rows % 2048 == 0 ? 2048 : 1;
  row("rope", 2.0 * n * e,
      medianMs(
          [&] {
            kc::rotaryEmbedding(y, rows / seq, seq, o.hidden / o.head_dim, o.head_dim, 500000.0f,
                                nullptr);
          },
          o.iters));
  row("gelu", 2.0 * n * e, medianMs([&] { kc::gelu(y, x, n, nullptr); }, o.iters));
  row("swiglu", 3.0 * n * e, medianMs([&] { kc::swiglu(z, x, y, n, nullptr); }, o.iters));
  row("residual", 3.0 * n * e, medianMs([&] { kc::residualAdd(z, x, y, n, nullptr); }, o.iters));
  // Causal attention over sequences of 2048 (GQA, 8 kv heads): counted as the unmasked half
  // of QK^T and PV, 2 * 2 * batch * heads * seq^2 / 2 * head_dim FLOPs, against cuBLAS's rate.
  if (rows % 2048 == 0) {
    const int batch = rows / 2048, heads = o.hidden / o.head_dim, kv_heads = 8;
    const shardrt::kernels::AttentionHeads ah{heads, kv_heads, 0, 0, heads / kv_heads};
    const double flops = 2.0 * batch * heads * 2048.0 * 2048.0 * o.head_dim;
    const double ms = medianMs(
        [&] { kc::attention(y, x, z, z, batch, 2048, o.head_dim, ah, true, nullptr); }, o.iters);
    std::printf("%-12s %12s %12s %10.3f %10.1f TFLOP/s (causal, batch %d x seq 2048 x %d heads)\n",
                "attention", "", "", ms, flops / ms / 1e9, batch, heads);
    if constexpr (std::is_same_v<T, __nv_bfloat16>) benchCudnnAttention(o, x, y, z, batch, ah);
  }
  for (void* p : {static_cast<void*>(x), static_cast<void*>(y), static_cast<void*>(z),
                  static_cast<void*>(w), static_cast<void*>(b)}) {
    CUDA_CHECK(cudaFree(p));
  }
}

void benchGemms(const Options& o, cudaDataType_t type, std::size_t e) {
  cublasHandle_t handle;
  CUBLAS_CHECK(cublasCreate(&handle));
  CUBLAS_CHECK(cublasSetMathMode(handle, CUBLAS_DEFAULT_MATH));
  struct Shape {
    const char* name;
    int n, k;
  };
  const int q = o.heads * o.head_dim, kv = 8 * o.head_dim;
  const Shape shapes[] = {{"q_proj", q, o.hidden},        {"k_proj", kv, o.hidden},
                          {"v_proj", kv, o.hidden},       {"o_proj", o.hidden, q},
                          {"gate_proj", o.ffn, o.hidden}, {"up_proj", o.ffn, o.hidden},
                          {"down_proj", o.hidden, o.ffn}};
  const int m = static_cast<int>(o.tokens);
  std::printf("%-12s %8s %8s %8s %10s %10s\n", "# gemm", "M", "N", "K", "time_ms", "TFLOP/s");
  double total_ms = 0.0, total_flops = 0.0;
  for (const Shape& s : shapes) {
    void* a = deviceBuffer(static_cast<std::size_t>(m) * s.k * e);
    void* w = deviceBuffer(static_cast<std::size_t>(s.n) * s.k * e);
    void* c = deviceBuffer(static_cast<std::size_t>(m) * s.n * e);
    const double ms =
        medianMs([&] { kc::linear(handle, c, type, a, w, type, m, s.k, s.n); }, o.iters);
    const double flops = 2.0 * m * s.n * s.k;
    std::printf("%-12s %8d %8d %8d %10.3f %10.1f\n", s.name, m, s.n, s.k, ms, flops / ms / 1e9);
    total_ms += ms;
    total_flops += flops;
    for (void* p : {a, w, c}) CUDA_CHECK(cudaFree(p));
  }
  std::printf("%-12s %8s %8s %8s %10.3f %10.1f\n", "total", "", "", "", total_ms,
              total_flops / total_ms / 1e9);
  cublasDestroy(handle);
}

}  // namespace

int run(const Options& o);

int main(int argc, char** argv) {
  Options o;
  CLI::App app{"CUDA kernels against a device-to-device copy and cuBLAS"};
  app.add_option("--tokens", o.tokens, "Rows (batch_size * seq_len)")->capture_default_str();
  app.add_option("--hidden", o.hidden)->capture_default_str();
  app.add_option("--ffn", o.ffn)->capture_default_str();
  app.add_option("--iters", o.iters)->capture_default_str();
  app.add_option("--dtype", o.dtype)->check(CLI::IsMember({"fp32", "bf16"}))->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  try {
    return run(o);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "cuda_kernel_bench: %s\n", e.what());
    return 2;
  }
}

int run(const Options& o) {
  int device = 0;
  cudaDeviceProp prop{};
  CUDA_CHECK(cudaGetDevice(&device));
  CUDA_CHECK(cudaGetDeviceProperties(&prop, device));
  std::printf("# cuda_kernel_bench: %s, %s, tokens %ld hidden %d ffn %d, median of %d\n", prop.name,
              o.dtype.c_str(), o.tokens, o.hidden, o.ffn, o.iters);
  if (o.dtype == "bf16") {
    benchKernels<__nv_bfloat16>(o);
    benchGemms(o, CUDA_R_16BF, 2);
  } else {
    benchKernels<float>(o);
    benchGemms(o, CUDA_R_32F, 4);
  }
  return 0;
}
