#include "runtime/cuda_backend.h"

#include "kernels/cuda/activations.cuh"
#include "kernels/cuda/attention.cuh"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/grouped_linear.cuh"
#include "kernels/cuda/layernorm.cuh"
#include "kernels/cuda/linear.cuh"
#include "kernels/cuda/permute.cuh"
#include "kernels/cuda/residual.cuh"
#include "kernels/cuda/rmsnorm.cuh"
#include "kernels/cuda/rope.cuh"
#include "kernels/cuda/router.cuh"
#include "runtime/op_checks.h"

namespace shardrt {
namespace kc = kernels::cuda;
namespace {

int toInt(std::int64_t v) { return static_cast<int>(v); }  // sizes were checked at load time

void freeDevice(void* p) {
  cudaFree(p);
}  // a deleter cannot throw; cudaFree of live memory
   // fails only when the context is already gone

}  // namespace

int cudaDeviceCount() {
  int n = 0;
  return cudaGetDeviceCount(&n) == cudaSuccess ? n : 0;
}

CudaBackend::CudaBackend(int device) : device_(device) {
  CUDA_CHECK(cudaSetDevice(device));
  CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
  CUBLAS_CHECK(cublasCreate(&cublas_));
  CUBLAS_CHECK(cublasSetStream(cublas_, stream_));
  // Plain fp32: no TF32 tensor-core rounding, which would miss the 1e-5 validation tolerance.
  CUBLAS_CHECK(cublasSetMathMode(cublas_, CUBLAS_DEFAULT_MATH));
  CUDA_CHECK(cudaEventCreate(&start_));
  CUDA_CHECK(cudaEventCreate(&stop_));
}

CudaBackend::~CudaBackend() {
  if (start_) cudaEventDestroy(start_);
  if (stop_) cudaEventDestroy(stop_);
  if (cublas_) cublasDestroy(cublas_);
  if (stream_) cudaStreamDestroy(stream_);
}

Tensor CudaBackend::empty(Shape shape, DType dtype) {
  const std::size_t bytes = static_cast<std::size_t>(shape.numel()) * dtypeSize(dtype);
  void* p = nullptr;
  CUDA_CHECK(cudaMalloc(&p, bytes == 0 ? 1 : bytes));
  return Tensor(p, &freeDevice, std::move(shape), dtype, Device::Cuda);
}

void CudaBackend::copyFromHost(const TensorView& dst, const void* src) {
  if (dst.bytes() == 0) return;
  // Synchronous: the caller may free src as soon as this returns.
  CUDA_CHECK(cudaMemcpyAsync(dst.raw(), src, dst.bytes(), cudaMemcpyHostToDevice, stream_));
  CUDA_CHECK(cudaStreamSynchronize(stream_));
}

void CudaBackend::copyToHost(void* dst, const TensorView& src) {
  if (src.bytes() == 0) return;
  CUDA_CHECK(cudaMemcpyAsync(dst, src.raw(), src.bytes(), cudaMemcpyDeviceToHost, stream_));
  CUDA_CHECK(cudaStreamSynchronize(stream_));
}

void CudaBackend::copy(const TensorView& dst, const TensorView& src) {
  op_checks::sameNumel("copy", dst, src);
  if (src.bytes() == 0) return;
  CUDA_CHECK(cudaMemcpyAsync(dst.raw(), src.raw(), src.bytes(), cudaMemcpyDeviceToDevice, stream_));
}

void CudaBackend::synchronize() { CUDA_CHECK(cudaStreamSynchronize(stream_)); }

double CudaBackend::timeOps(const std::function<void()>& body) {
  CUDA_CHECK(cudaEventRecord(start_, stream_));
  body();
  CUDA_CHECK(cudaEventRecord(stop_, stream_));
  CUDA_CHECK(cudaEventSynchronize(stop_));
  float ms = 0.0f;
  CUDA_CHECK(cudaEventElapsedTime(&ms, start_, stop_));
  return ms * 1e-3;
}

std::optional<std::size_t> CudaBackend::freeMemory() const {
  std::size_t free = 0, total = 0;
  CUDA_CHECK(cudaMemGetInfo(&free, &total));
  return free;
}

void CudaBackend::linear(const TensorView& out, const TensorView& inp, const TensorView& weight) {
  op_checks::linear(out, inp, weight);
  kc::linear(cublas_, out.data<float>(), inp.data<float>(), weight.data<float>(),
             toInt(inp.shape().rows()), toInt(inp.shape().cols()), toInt(out.shape().cols()));
}

void CudaBackend::rmsNorm(const TensorView& out, const TensorView& inp, const TensorView& weight,
                          float eps) {
  op_checks::norm(out, inp, weight);
  kc::rmsNorm(out.data<float>(), inp.data<float>(), weight.data<float>(), toInt(inp.shape().rows()),
              toInt(inp.shape().cols()), eps, stream_);
}

void CudaBackend::layerNorm(const TensorView& out, const TensorView& inp, const TensorView& weight,
                            const TensorView& bias, float eps) {
  op_checks::norm(out, inp, weight);
  op_checks::sameNumel("layer_norm bias", weight, bias);
  kc::layerNorm(out.data<float>(), inp.data<float>(), weight.data<float>(), bias.data<float>(),
                toInt(inp.shape().rows()), toInt(inp.shape().cols()), eps, stream_);
}

void CudaBackend::rotaryEmbedding(const TensorView& x, float theta) {
  op_checks::rotary(x);
  const auto& s = x.shape();
  kc::rotaryEmbedding(x.data<float>(), toInt(s.size(0)), toInt(s.size(1)), toInt(s.size(2)),
                      toInt(s.size(3)), theta, stream_);
}

void CudaBackend::attention(const TensorView& out, const TensorView& q, const TensorView& k,
                            const TensorView& v, const kernels::AttentionHeads& heads,
                            bool causal) {
  op_checks::attention(out, q, k, v, heads);
  const auto& s = q.shape();
  kc::attention(out.data<float>(), q.data<float>(), k.data<float>(), v.data<float>(),
                toInt(s.size(0)), toInt(s.size(1)), toInt(s.size(3)), heads, causal, stream_);
}

void CudaBackend::gelu(const TensorView& out, const TensorView& inp) {
  op_checks::sameNumel("gelu", out, inp);
  kc::gelu(out.data<float>(), inp.data<float>(), inp.numel(), stream_);
}

void CudaBackend::swiglu(const TensorView& out, const TensorView& gate, const TensorView& up) {
  op_checks::sameNumel("swiglu", out, gate);
  op_checks::sameNumel("swiglu", out, up);
  kc::swiglu(out.data<float>(), gate.data<float>(), up.data<float>(), out.numel(), stream_);
}

void CudaBackend::add(const TensorView& out, const TensorView& a, const TensorView& b) {
  op_checks::sameNumel("add", out, a);
  op_checks::sameNumel("add", out, b);
  kc::residualAdd(out.data<float>(), a.data<float>(), b.data<float>(), out.numel(), stream_);
}

void CudaBackend::fillZero(const TensorView& out) {
  if (out.bytes() == 0) return;
  CUDA_CHECK(cudaMemsetAsync(out.raw(), 0, out.bytes(), stream_));
}

void CudaBackend::groupedLinear(const TensorView& out, const TensorView& inp,
                                const std::vector<const Tensor*>& weights,
                                const std::vector<int>& rows) {
  op_checks::groupedLinear(out, inp, weights, rows);
  std::vector<const float*> w;
  for (const Tensor* t : weights) w.push_back(t->data<float>());
  kc::groupedLinear(cublas_, stream_, out.data<float>(), inp.data<float>(), w.data(), rows.data(),
                    static_cast<int>(weights.size()), toInt(inp.shape().cols()),
                    toInt(out.shape().cols()));
}

void CudaBackend::routerTopK(const TensorView& experts, const TensorView& weights,
                             const TensorView& logits, bool sigmoid, bool normalize) {
  op_checks::routerTopK(experts, weights, logits);
  kc::routerTopK(experts.data<std::int32_t>(), weights.data<float>(), logits.data<float>(),
                 toInt(logits.shape().rows()), toInt(logits.shape().cols()),
                 toInt(experts.shape().cols()), sigmoid, normalize, stream_);
}

void CudaBackend::gatherRows(const TensorView& out, const TensorView& inp,
                             const TensorView& index) {
  op_checks::rowIndex("gather_rows", out, inp, index);
  kc::gatherRows(out.data<float>(), inp.data<float>(), index.data<std::int32_t>(), index.numel(),
                 toInt(inp.shape().cols()), stream_);
}

void CudaBackend::scatterAddRows(const TensorView& out, const TensorView& inp,
                                 const TensorView& index, const TensorView& weight) {
  op_checks::rowIndex("scatter_add_rows", inp, out, index);
  op_checks::sameNumel("scatter_add_rows weight", index, weight);
  kc::scatterAddRows(out.data<float>(), out.shape().rows(), inp.data<float>(),
                     index.data<std::int32_t>(), weight.data<float>(), index.numel(),
                     toInt(inp.shape().cols()), stream_);
}

}  // namespace shardrt
