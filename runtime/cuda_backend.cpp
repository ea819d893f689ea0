#include "runtime/cuda_backend.h"

#include <cuda_bf16.h>

#include <cstdint>
#include <mutex>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/cuda_check.h"
#include "kernels/cpu/router.h"
#include "kernels/cuda/activations.cuh"
#include "kernels/cuda/argmax.cuh"
#include "kernels/cuda/attention.cuh"
#include "kernels/cuda/attention_cudnn.cuh"
#include "kernels/cuda/bias.cuh"
#include "kernels/cuda/cached_attention.cuh"
#include "kernels/cuda/column_copy.cuh"
#include "kernels/cuda/embedding.cuh"
#include "kernels/cuda/grouped_linear.cuh"
#include "kernels/cuda/layernorm.cuh"
#include "kernels/cuda/linear.cuh"
#include "kernels/cuda/permute.cuh"
#include "kernels/cuda/residual.cuh"
#include "kernels/cuda/rmsnorm.cuh"
#include "kernels/cuda/rope.cuh"
#include "kernels/cuda/router.cuh"
#include "kernels/cuda/sigmoid_gate.cuh"
#include "runtime/op_checks.h"

namespace shardrt {
namespace kc = kernels::cuda;
namespace {

int toInt(std::int64_t v) { return static_cast<int>(v); }  // sizes were checked at load time

// Calls f with a value of the element type of t's dtype: every kernel has an fp32 and a bf16
// launcher of the same shape, and this picks one.
template <typename F>
void byDtype(const TensorView& t, F&& f) {
  switch (t.dtype()) {
    case DType::F32:
      f(float{});
      return;
    case DType::BF16:
      f(__nv_bfloat16{});
      return;
    case DType::I32:
      break;
  }
  throw std::logic_error("cuda backend: a floating-point tensor was expected, got " +
                         std::string(dtypeName(t.dtype())));
}

template <typename T>
T* as(const TensorView& t) {
  return static_cast<T*>(t.raw());
}

cudaDataType_t cudaType(DType dtype) { return dtype == DType::BF16 ? CUDA_R_16BF : CUDA_R_32F; }

// Tensors are allocated and freed in stream order (cudaMallocAsync / cudaFreeAsync on the
// allocating backend's stream, from the device's pool, which keeps what it was given): cudaFree
// synchronises the whole device, and an MoE layer frees a dozen per-call buffers. A Tensor's
// deleter is a plain function pointer, so the stream of each live allocation is looked up
// here; allocations that outlive their backend (its stream gone) fall back to cudaFree.
std::mutex g_streams_mutex;
std::unordered_map<void*, cudaStream_t> g_stream_of;

void freeDevice(void* p) {  // a deleter cannot throw: errors here are ignored
  cudaStream_t stream = nullptr;
  bool ordered = false;
  {
    std::lock_guard lock(g_streams_mutex);
    if (auto it = g_stream_of.find(p); it != g_stream_of.end()) {
      stream = it->second;
      ordered = true;
      g_stream_of.erase(it);
    }
  }
  if (ordered) {
    cudaFreeAsync(p, stream);
  } else {
    cudaFree(p);
  }
}

}  // namespace

int cudaDeviceCount() {
  int n = 0;
  return cudaGetDeviceCount(&n) == cudaSuccess ? n : 0;
}

CudaBackend::CudaBackend(int device, AttentionImpl attention) : device_(device) {
  CUDA_CHECK(cudaSetDevice(device));
  CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
  CUBLAS_CHECK(cublasCreate(&cublas_));
  CUBLAS_CHECK(cublasSetStream(cublas_, stream_));
  // Plain fp32: no TF32 tensor-core rounding, which would miss the 1e-5 validation tolerance.
  CUBLAS_CHECK(cublasSetMathMode(cublas_, CUBLAS_DEFAULT_MATH));
  CUDA_CHECK(cudaEventCreate(&start_));
  CUDA_CHECK(cudaEventCreate(&stop_));
  // The pool keeps freed memory for the next allocation instead of returning it at each
  // synchronisation (its default): a forward pass allocates the same sizes every step.
  cudaMemPool_t pool = nullptr;
  CUDA_CHECK(cudaDeviceGetDefaultMemPool(&pool, device));
  std::uint64_t keep = UINT64_MAX;
  CUDA_CHECK(cudaMemPoolSetAttribute(pool, cudaMemPoolAttrReleaseThreshold, &keep));
  if (attention == AttentionImpl::Cudnn) cudnn_ = std::make_unique<kc::CudnnAttention>(stream_);
}

CudaBackend::~CudaBackend() {
  if (stream_) cudaStreamSynchronize(stream_);
  cudnn_.reset();  // its handle and workspace belong to stream_: gone before it
  {
    std::lock_guard lock(g_streams_mutex);
    std::erase_if(g_stream_of, [&](const auto& entry) { return entry.second == stream_; });
  }
  for (cudaGraphExec_t g : graphs_) cudaGraphExecDestroy(g);
  for (cudaEvent_t e : marks_) cudaEventDestroy(e);
  if (start_) cudaEventDestroy(start_);
  if (stop_) cudaEventDestroy(stop_);
  if (cublas_) cublasDestroy(cublas_);
  if (stream_) cudaStreamDestroy(stream_);
}

Tensor CudaBackend::empty(Shape shape, DType dtype) {
  const std::size_t bytes = static_cast<std::size_t>(shape.numel()) * dtypeSize(dtype);
  void* p = nullptr;
  CUDA_CHECK(cudaMallocAsync(&p, bytes == 0 ? 1 : bytes, stream_));
  {
    std::lock_guard lock(g_streams_mutex);
    g_stream_of[p] = stream_;
  }
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

// Thread-local capture: another thread's CUDA calls (a watchdog's, say) neither join nor
// break it. A collective whose stream waits on an event of stream_ joins the capture, and
// stream_ waiting on its event joins it back (comm/nccl_communicator.h's ordering), so an
// unwatched NCCL communicator's collectives are recorded with the kernels.
void CudaBackend::beginCapture() {
  CUDA_CHECK(cudaStreamBeginCapture(stream_, cudaStreamCaptureModeThreadLocal));
}

int CudaBackend::endCapture() {
  cudaGraph_t graph = nullptr;
  CUDA_CHECK(cudaStreamEndCapture(stream_, &graph));
  cudaGraphExec_t exec = nullptr;
  const cudaError_t made = cudaGraphInstantiate(&exec, graph, 0);
  cudaGraphDestroy(graph);
  CUDA_CHECK(made);
  graphs_.push_back(exec);
  return static_cast<int>(graphs_.size()) - 1;
}

void CudaBackend::replay(int graph) {
  if (graph < 0 || graph >= static_cast<int>(graphs_.size())) {
    throw std::logic_error("cuda backend: no graph " + std::to_string(graph));
  }
  CUDA_CHECK(cudaGraphLaunch(graphs_[static_cast<std::size_t>(graph)], stream_));
}

std::size_t CudaBackend::mark() {
  if (marks_used_ == marks_.size()) {
    cudaEvent_t e = nullptr;
    CUDA_CHECK(cudaEventCreate(&e));
    marks_.push_back(e);
  }
  CUDA_CHECK(cudaEventRecord(marks_[marks_used_], stream_));
  return marks_used_++;
}

double CudaBackend::markMicroseconds(std::size_t mark) {
  if (mark >= marks_used_) throw std::out_of_range("CudaBackend: no such mark");
  float ms = 0.0f;
  CUDA_CHECK(cudaEventElapsedTime(&ms, marks_[0], marks_[mark]));
  return 1e3 * ms;
}

void CudaBackend::clearMarks() { marks_used_ = 0; }

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
  op_checks::sameDtype("linear", inp, weight);
  // bf16 inputs may write fp32 (the router's logits); otherwise out matches the inputs.
  if (out.dtype() != DType::F32) op_checks::sameDtype("linear", out, inp);
  kc::linear(cublas_, out.raw(), cudaType(out.dtype()), inp.raw(), weight.raw(),
             cudaType(inp.dtype()), toInt(inp.shape().rows()), toInt(inp.shape().cols()),
             toInt(out.shape().cols()));
}

void CudaBackend::rmsNorm(const TensorView& out, const TensorView& inp, const TensorView& weight,
                          float eps) {
  op_checks::norm(out, inp, weight);
  op_checks::sameDtype("rmsnorm", out, inp);
  op_checks::sameDtype("rmsnorm", out, weight);
  byDtype(out, [&](auto tag) {
    using T = decltype(tag);
    kc::rmsNorm(as<T>(out), as<const T>(inp), as<const T>(weight), toInt(inp.shape().rows()),
                toInt(inp.shape().cols()), eps, stream_);
  });
}

void CudaBackend::layerNorm(const TensorView& out, const TensorView& inp, const TensorView& weight,
                            const TensorView& bias, float eps) {
  op_checks::norm(out, inp, weight);
  op_checks::sameNumel("layer_norm bias", weight, bias);
  for (const TensorView* t : {&inp, &weight, &bias}) op_checks::sameDtype("layernorm", out, *t);
  byDtype(out, [&](auto tag) {
    using T = decltype(tag);
    kc::layerNorm(as<T>(out), as<const T>(inp), as<const T>(weight), as<const T>(bias),
                  toInt(inp.shape().rows()), toInt(inp.shape().cols()), eps, stream_);
  });
}

void CudaBackend::rotaryEmbedding(const TensorView& x, const kernels::RopeFrequencies& rope) {
  op_checks::rotary(x);
  const auto& s = x.shape();
  byDtype(x, [&](auto tag) {
    kc::rotaryEmbedding(as<decltype(tag)>(x), toInt(s.size(0)), toInt(s.size(1)), toInt(s.size(2)),
                        toInt(s.size(3)), rope, stream_);
  });
}

void CudaBackend::attention(const TensorView& out, const TensorView& q, const TensorView& k,
                            const TensorView& v, const kernels::AttentionHeads& heads,
                            bool causal) {
  op_checks::attention(out, q, k, v, heads);
  for (const TensorView* t : {&q, &k, &v}) op_checks::sameDtype("attention", out, *t);
  const auto& s = q.shape();
  const int batch = toInt(s.size(0)), seq_len = toInt(s.size(1)), head_dim = toInt(s.size(3));
  if (cudnn_ && out.dtype() == DType::BF16) {
    using T = __nv_bfloat16;
    std::string why_not;
    if (cudnn_->run(as<T>(out), as<const T>(q), as<const T>(k), as<const T>(v), batch, seq_len,
                    head_dim, heads, causal, &why_not)) {
      ++cudnn_calls_;
      return;
    }
    ++own_bf16_calls_;
    if (first_refusal_.empty()) {
      first_refusal_ = "batch " + std::to_string(batch) + ", seq_len " + std::to_string(seq_len) +
                       ", head_dim " + std::to_string(head_dim) + ": " + why_not;
    }
  } else if (cudnn_) {
    ++fp32_calls_;
  }
  byDtype(out, [&](auto tag) {
    using T = decltype(tag);
    kc::attention(as<T>(out), as<const T>(q), as<const T>(k), as<const T>(v), batch, seq_len,
                  head_dim, heads, causal, stream_);
  });
}

std::string CudaBackend::attentionSummary() const {
  if (!cudnn_) return {};
  std::string s = "--attention cudnn (cuDNN " + kc::CudnnAttention::loadedVersion() +
                  " loaded, built against " + kc::CudnnAttention::compiledVersion() +
                  "): " + std::to_string(cudnn_calls_) + " calls ran cuDNN";
  if (own_bf16_calls_ > 0) {
    s += ", " + std::to_string(own_bf16_calls_) +
         " bf16 calls fell back to our kernel (first: " + first_refusal_ + ")";
  }
  if (fp32_calls_ > 0) s += ", " + std::to_string(fp32_calls_) + " fp32 calls ran our kernel";
  return s;
}

void CudaBackend::gelu(const TensorView& out, const TensorView& inp) {
  op_checks::sameNumel("gelu", out, inp);
  op_checks::sameDtype("gelu", out, inp);
  byDtype(out, [&](auto tag) {
    using T = decltype(tag);
    kc::gelu(as<T>(out), as<const T>(inp), inp.numel(), stream_);
  });
}

void CudaBackend::swiglu(const TensorView& out, const TensorView& gate, const TensorView& up) {
  op_checks::sameNumel("swiglu", out, gate);
  op_checks::sameNumel("swiglu", out, up);
  op_checks::sameDtype("swiglu", out, gate);
  op_checks::sameDtype("swiglu", out, up);
  byDtype(out, [&](auto tag) {
    using T = decltype(tag);
    kc::swiglu(as<T>(out), as<const T>(gate), as<const T>(up), out.numel(), stream_);
  });
}

void CudaBackend::copyColumns(const TensorView& out, int out_col, const TensorView& inp,
                              int inp_col, int width) {
  const int repeat = op_checks::columnBlock(out, out_col, inp, inp_col, width);
  byDtype(out, [&](auto tag) {
    using T = decltype(tag);
    kc::copyColumns(as<T>(out), toInt(out.shape().cols()), out_col, as<const T>(inp),
                    toInt(inp.shape().cols()), inp_col, out.shape().rows(), width, repeat, stream_);
  });
}

void CudaBackend::addBias(const TensorView& x, const TensorView& bias) {
  op_checks::bias(x, bias);
  const long cols = x.shape().cols();
  byDtype(x, [&](auto tag) {
    using T = decltype(tag);
    kc::addBias(as<T>(x), as<const T>(bias), x.numel() / cols, static_cast<int>(cols), stream_);
  });
}

void CudaBackend::sigmoidGateRows(const TensorView& x, const TensorView& gate_logits) {
  op_checks::rowGate(x, gate_logits);
  const long cols = x.shape().cols();
  byDtype(x, [&](auto tag) {
    using T = decltype(tag);
    kc::sigmoidGateRows(as<T>(x), as<const T>(gate_logits), x.numel() / cols,
                        static_cast<int>(cols), stream_);
  });
}

void CudaBackend::add(const TensorView& out, const TensorView& a, const TensorView& b) {
  op_checks::sameNumel("add", out, a);
  op_checks::sameNumel("add", out, b);
  op_checks::sameDtype("add", out, a);
  op_checks::sameDtype("add", out, b);
  byDtype(out, [&](auto tag) {
    using T = decltype(tag);
    kc::residualAdd(as<T>(out), as<const T>(a), as<const T>(b), out.numel(), stream_);
  });
}

void CudaBackend::fillZero(const TensorView& out) {
  if (out.bytes() == 0) return;
  CUDA_CHECK(cudaMemsetAsync(out.raw(), 0, out.bytes(), stream_));  // +0.0 in fp32 and bf16
}

void CudaBackend::groupedLinear(const TensorView& out, const TensorView& inp,
                                const std::vector<const Tensor*>& weights,
                                const std::vector<int>& rows) {
  op_checks::groupedLinear(out, inp, weights, rows);
  op_checks::sameDtype("grouped_linear", out, inp);
  std::vector<const void*> w;
  for (const Tensor* t : weights) {
    op_checks::sameDtype("grouped_linear", inp, *t);
    w.push_back(t->view().raw());
  }
  kc::groupedLinear(cublas_, stream_, out.raw(), inp.raw(), w.data(), cudaType(inp.dtype()),
                    rows.data(), static_cast<int>(weights.size()), toInt(inp.shape().cols()),
                    toInt(out.shape().cols()));
}

void CudaBackend::routerTopK(const TensorView& experts, const TensorView& weights,
                             const TensorView& logits, const TensorView* choice_bias,
                             const kernels::RouterRule& rule) {
  op_checks::routerTopK(experts, weights, logits, choice_bias);
  kc::routerTopK(experts.data<std::int32_t>(), weights.data<float>(), logits.data<float>(),
                 choice_bias ? choice_bias->data<float>() : nullptr, toInt(logits.shape().rows()),
                 toInt(logits.shape().cols()), toInt(experts.shape().cols()), rule, stream_);
}

void CudaBackend::routerWeightsOf(const TensorView& weights, const TensorView& experts,
                                  const TensorView& logits, const kernels::RouterRule& rule) {
  op_checks::routerWeightsOf(weights, experts, logits);
  // No CUDA kernel: only a reference that follows a run's routing (bf16 validation) calls
  // this, once per MoE layer and microbatch, so the host's kernel on copies of the logits and
  // experts costs little, and it gives the weights the reference has always had.
  std::vector<float> logits_h(static_cast<std::size_t>(logits.numel()));
  std::vector<std::int32_t> experts_h(static_cast<std::size_t>(experts.numel()));
  std::vector<float> weights_h(experts_h.size());
  copyToHost(logits_h.data(), logits);
  copyToHost(experts_h.data(), experts);
  kernels::cpu::routerWeightsOf(weights_h.data(), experts_h.data(), logits_h.data(),
                                toInt(logits.shape().rows()), toInt(logits.shape().cols()),
                                toInt(experts.shape().cols()), rule);
  copyFromHost(weights, weights_h.data());
}

void CudaBackend::gatherRows(const TensorView& out, const TensorView& inp,
                             const TensorView& index) {
  op_checks::rowIndex("gather_rows", out, inp, index);
  op_checks::sameDtype("gather_rows", out, inp);
  byDtype(out, [&](auto tag) {
    using T = decltype(tag);
    kc::gatherRows(as<T>(out), as<const T>(inp), index.data<std::int32_t>(), index.numel(),
                   toInt(inp.shape().cols()), stream_);
  });
}

void CudaBackend::scatterAddRows(const TensorView& out, const TensorView& inp,
                                 const TensorView& index, const TensorView& weight) {
  op_checks::rowIndex("scatter_add_rows", inp, out, index);
  op_checks::sameNumel("scatter_add_rows weight", index, weight);
  op_checks::sameDtype("scatter_add_rows", out, inp);
  byDtype(out, [&](auto tag) {
    using T = decltype(tag);
    kc::scatterAddRows(as<T>(out), out.shape().rows(), as<const T>(inp), index.data<std::int32_t>(),
                       weight.data<float>(), index.numel(), toInt(inp.shape().cols()), stream_);
  });
}

void CudaBackend::embedRows(const TensorView& out, const TensorView& ids, const TensorView& table,
                            int first_id) {
  op_checks::embedding(out, ids, table);
  byDtype(out, [&](auto tag) {
    using T = decltype(tag);
    kc::embedRows(as<T>(out), ids.data<std::int32_t>(), as<const T>(table), out.shape().rows(),
                  toInt(out.shape().cols()), table.shape().rows(), first_id, stream_);
  });
}

void CudaBackend::rotaryEmbeddingAt(const TensorView& x, const TensorView& positions,
                                    const kernels::RopeFrequencies& rope) {
  op_checks::rotaryAt(x, positions);
  const Shape& s = x.shape();
  byDtype(x, [&](auto tag) {
    kc::rotaryEmbeddingAt(as<decltype(tag)>(x), positions.data<std::int32_t>(), positions.numel(),
                          toInt(s.size(s.rank() - 2)), toInt(s.cols()), rope, stream_);
  });
}

void CudaBackend::scatterRows(const TensorView& out, const TensorView& inp,
                              const TensorView& index) {
  op_checks::rowIndex("scatter_rows", inp, out, index);
  op_checks::sameDtype("scatter_rows", out, inp);
  byDtype(out, [&](auto tag) {
    using T = decltype(tag);
    kc::scatterRows(as<T>(out), out.shape().rows(), as<const T>(inp), index.data<std::int32_t>(),
                    index.numel(), toInt(inp.shape().cols()), stream_);
  });
}

void CudaBackend::cachedAttention(const TensorView& out, const TensorView& q,
                                  const TensorView& k_cache, const TensorView& v_cache,
                                  const TensorView& seq, const TensorView& pos,
                                  const kernels::AttentionHeads& heads) {
  op_checks::cachedAttention(out, q, k_cache, v_cache, seq, pos, heads);
  op_checks::sameDtype("cached_attention", out, q);
  const Shape& ks = k_cache.shape();
  byDtype(out, [&](auto tag) {
    using T = decltype(tag);
    kc::cachedAttention(as<T>(out), as<const T>(q), as<const T>(k_cache), as<const T>(v_cache),
                        seq.data<std::int32_t>(), pos.data<std::int32_t>(), seq.numel(), ks.size(0),
                        toInt(ks.size(1)), toInt(q.shape().cols()), heads, stream_);
  });
}

void CudaBackend::argmaxRows(const TensorView& best_value, const TensorView& best_index,
                             const TensorView& x, int first_index) {
  op_checks::argmax(best_value, best_index, x);
  byDtype(x, [&](auto tag) {
    kc::argmaxRows(best_value.data<float>(), best_index.data<std::int32_t>(),
                   as<const decltype(tag)>(x), x.shape().rows(), toInt(x.shape().cols()),
                   first_index, stream_);
  });
}

}  // namespace shardrt
