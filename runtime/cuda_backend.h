// The cuda Backend: kernels/cuda on device memory, GEMMs through cuBLAS, every op on one
// stream of one GPU. Built only when CUDA is found (SHARDRT_CUDA).
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <memory>
#include <string>

#include "runtime/attention_impl.h"
#include "runtime/backend.h"

namespace shardrt::kernels::cuda {
class CudnnAttention;
}

namespace shardrt {

class CudaBackend final : public Backend {
 public:
  // attention: which kernel bf16 attention runs (runtime/attention_impl.h); Cudnn throws
  // std::logic_error in a build without cuDNN (makeExecutionContext checks first).
  explicit CudaBackend(int device, AttentionImpl attention = AttentionImpl::Own);
  ~CudaBackend() override;
  CudaBackend(const CudaBackend&) = delete;
  CudaBackend& operator=(const CudaBackend&) = delete;

  std::string_view name() const override { return "cuda"; }
  Device device() const override { return Device::Cuda; }
  int deviceIndex() const { return device_; }
  cudaStream_t stream() const { return stream_; }

  Tensor empty(Shape shape, DType dtype) override;
  void copyFromHost(const TensorView& dst, const void* src) override;
  void copyToHost(void* dst, const TensorView& src) override;
  void copy(const TensorView& dst, const TensorView& src) override;
  void synchronize() override;
  double timeOps(const std::function<void()>& body) override;
  std::optional<std::size_t> freeMemory() const override;
  std::string attentionSummary() const override;
  bool canCapture() const override { return true; }
  void beginCapture() override;
  int endCapture() override;
  void replay(int graph) override;
  std::size_t mark() override;
  double markMicroseconds(std::size_t mark) override;
  void clearMarks() override;

  void linear(const TensorView& out, const TensorView& inp, const TensorView& weight) override;
  void rmsNorm(const TensorView& out, const TensorView& inp, const TensorView& weight,
               float eps) override;
  void layerNorm(const TensorView& out, const TensorView& inp, const TensorView& weight,
                 const TensorView& bias, float eps) override;
  void rotaryEmbedding(const TensorView& x, const kernels::RopeFrequencies& rope) override;
  void attention(const TensorView& out, const TensorView& q, const TensorView& k,
                 const TensorView& v, const kernels::AttentionHeads& heads, bool causal) override;
  void gelu(const TensorView& out, const TensorView& inp) override;
  void swiglu(const TensorView& out, const TensorView& gate, const TensorView& up) override;
  void add(const TensorView& out, const TensorView& a, const TensorView& b) override;
  void addBias(const TensorView& x, const TensorView& bias) override;
  void copyColumns(const TensorView& out, int out_col, const TensorView& inp, int inp_col,
                   int width) override;
  void sigmoidGateRows(const TensorView& x, const TensorView& gate_logits) override;
  void fillZero(const TensorView& out) override;
  void groupedLinear(const TensorView& out, const TensorView& inp,
                     const std::vector<const Tensor*>& weights,
                     const std::vector<int>& rows) override;
  void routerTopK(const TensorView& experts, const TensorView& weights, const TensorView& logits,
                  const TensorView* choice_bias, const kernels::RouterRule& rule) override;
  void routerWeightsOf(const TensorView& weights, const TensorView& experts,
                       const TensorView& logits, const kernels::RouterRule& rule) override;
  void gatherRows(const TensorView& out, const TensorView& inp, const TensorView& index) override;
  void scatterAddRows(const TensorView& out, const TensorView& inp, const TensorView& index,
                      const TensorView& weight) override;
  void embedRows(const TensorView& out, const TensorView& ids, const TensorView& table,
                 int first_id) override;
  void rotaryEmbeddingAt(const TensorView& x, const TensorView& positions,
                         const kernels::RopeFrequencies& rope) override;
  void scatterRows(const TensorView& out, const TensorView& inp, const TensorView& index) override;
  void cachedAttention(const TensorView& out, const TensorView& q, const TensorView& k_cache,
                       const TensorView& v_cache, const TensorView& seq, const TensorView& pos,
                       const kernels::AttentionHeads& heads) override;
  void argmaxRows(const TensorView& best_value, const TensorView& best_index, const TensorView& x,
                  int first_index) override;

 private:
  int device_;
  cudaStream_t stream_ = nullptr;
  cublasHandle_t cublas_ = nullptr;
  cudaEvent_t start_ = nullptr, stop_ = nullptr;  // for timeOps
  std::vector<cudaEvent_t> marks_;                // recorded on stream_, reused across passes
  std::size_t marks_used_ = 0;
  // --attention cudnn: cuDNN's fused attention, and what ran (for attentionSummary).
  std::unique_ptr<kernels::cuda::CudnnAttention> cudnn_;
  long cudnn_calls_ = 0, own_bf16_calls_ = 0, fp32_calls_ = 0;
  std::string first_refusal_;            // why cuDNN first refused a shape
  std::vector<cudaGraphExec_t> graphs_;  // endCapture's, by handle
};

// CUDA devices visible to this process (0 when there is no usable driver or device).
int cudaDeviceCount();

}  // namespace shardrt
