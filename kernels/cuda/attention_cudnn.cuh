// Attention through cuDNN's fused scaled-dot-product attention (the flash-attention kernels
// cuDNN 9 ships for sm_80 and newer), built with the cuDNN frontend's graph API. The same
// definition and layout as kernels/cuda/attention.cuh: q, out (batch, seq_len, q_heads,
// head_dim), k, v (batch, seq_len, kv_heads, head_dim), scale 1/sqrt(head_dim), causal (key j
// <= query i) or bidirectional. bf16 only: fp32 always runs our kernel (the project has no
// fp16). Why: cuDNN's kernels use the tensor cores with tuned tiling per GPU generation, which
// our one tensor-core kernel does not (docs/architecture.md, "Attention through cuDNN").
//
// cuDNN supports a subset of what our kernel does, and says so only once a graph is built:
// run() then returns false with cuDNN's reason and writes nothing, and the caller runs our
// kernel instead. Cases refused before asking cuDNN:
// - head ranges where cuDNN's grouping (query head h reads kv head h / (q_heads / kv_heads))
//   is not ours (AttentionHeads: a tensor-parallel slice whose query heads straddle kv heads
//   unevenly);
// - pointers not 16-byte aligned (cuDNN's kernels load 16 bytes at a time).
// Any other cuDNN failure (a handle, an execution) throws CudaError.
//
// Building a graph takes milliseconds to seconds (heuristics, plan compilation), so each one
// is kept, keyed by (batch, seq_len, heads, head_dim, causal), as is the refusal of a shape;
// the workspace grows to the largest plan's need and stays. One object per stream: its cuDNN
// handle is bound to that stream and runs in its order.
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <memory>
#include <string>

#include "kernels/attention_heads.h"

namespace shardrt::kernels::cuda {

// Whether this build has the cuDNN path (CMake: SHARDRT_CUDNN, with cuDNN and its frontend
// headers found). Without it, CudnnAttention's constructor throws std::logic_error.
bool cudnnAttentionBuilt();

class CudnnAttention {
 public:
  // Creates the cuDNN handle on the current device, bound to `stream`.
  explicit CudnnAttention(cudaStream_t stream);
  ~CudnnAttention();
  CudnnAttention(const CudnnAttention&) = delete;
  CudnnAttention& operator=(const CudnnAttention&) = delete;

  // Enqueues attention on the stream and returns true; or returns false, having enqueued
  // nothing, when cuDNN does not support the case, with the reason in *why_not (when given).
  // Throws std::invalid_argument for arguments our kernel refuses too (head ranges without a
  // local kv head, negative sizes).
  bool run(__nv_bfloat16* out, const __nv_bfloat16* q, const __nv_bfloat16* k,
           const __nv_bfloat16* v, int batch, int seq_len, int head_dim,
           const AttentionHeads& heads, bool causal, std::string* why_not = nullptr);

  // The cuDNN library loaded at run time, e.g. "9.19.0" (cudnnGetVersion), and the one compiled
  // against: the GPU machine's may differ from the build machine's.
  static std::string loadedVersion();
  static std::string compiledVersion();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace shardrt::kernels::cuda
