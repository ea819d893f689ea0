// cuDNN fused attention (kernels/cuda/attention_cudnn.cuh). The graph API usage follows the
// cuDNN frontend's documentation and its samples/cpp/sdpa (github.com/NVIDIA/cudnn-frontend):
// an SDPA node on Q, K, V tensors with dims (b, h, s, d) and free strides, statistics off for
// inference, the causal mask as a diagonal band (top-left aligned, right bound 0).
// Compiled in two forms: with SHARDRT_HAVE_CUDNN the real one; without it a stub, so that the
// callers need no #ifdef and an --attention cudnn run can say in one line why it cannot.
#include "kernels/cuda/attention_cudnn.cuh"

#include <stdexcept>

#ifdef SHARDRT_HAVE_CUDNN
#include <cudnn_frontend.h>

#include <cmath>
#include <cstdint>
#include <map>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "common/cuda_check.h"
#include "common/cudnn_check.h"
#endif

namespace shardrt::kernels::cuda {

#ifdef SHARDRT_HAVE_CUDNN

namespace {

namespace fe = cudnn_frontend;

std::string versionText(std::size_t v) {  // cuDNN 9 numbers versions major*10000+minor*100+patch
  return std::to_string(v / 10000) + "." + std::to_string(v % 10000 / 100) + "." +
         std::to_string(v % 100);
}

// The ids that bind the graph's tensors to pointers at execution.
constexpr std::int64_t kQ = 1, kK = 2, kV = 3, kOut = 4;

// cuDNN indexes attention tensors (batch, heads, seq, dim); ours are stored (batch, seq, heads,
// dim). Same memory, described by strides: no transpose is made.
fe::graph::Tensor_attributes bshdTensor(const char* name, std::int64_t uid, std::int64_t batch,
                                        std::int64_t heads, std::int64_t seq, std::int64_t dim) {
  return fe::graph::Tensor_attributes()
      .set_name(name)
      .set_uid(uid)
      .set_dim({batch, heads, seq, dim})
      .set_stride({seq * heads * dim, dim, heads * dim, 1});
}

// batch, seq_len, q_heads, kv_heads, head_dim, causal
// batch, seq_len, q_heads, kv_heads, head_dim, causal, the scores' scale.
using Key = std::tuple<int, int, int, int, int, bool, float>;

struct Plan {
  std::shared_ptr<fe::graph::Graph> graph;  // null: cuDNN refused the shape
  std::string why_not;
  std::int64_t workspace_bytes = 0;
};

// One frontend step; on failure, the refusal names the step and cuDNN's words.
bool step(const fe::error_t& status, const char* what, Plan& plan) {
  if (status.is_good()) return true;
  plan.graph.reset();
  plan.why_not = std::string("cuDNN refused (") + what + "): " + status.err_msg;
  return false;
}

Plan buildPlan(cudnnHandle_t handle, const Key& key) {
  const auto [batch, seq, q_heads, kv_heads, dim, causal, scale] = key;
  Plan plan;
  plan.graph = std::make_shared<fe::graph::Graph>();
  fe::graph::Graph& g = *plan.graph;
  // bf16 in and out; scores, softmax and accumulation in fp32, as our kernels do.
  g.set_io_data_type(fe::DataType_t::BFLOAT16)
      .set_intermediate_data_type(fe::DataType_t::FLOAT)
      .set_compute_data_type(fe::DataType_t::FLOAT);
  auto q = g.tensor(bshdTensor("q", kQ, batch, q_heads, seq, dim));
  auto k = g.tensor(bshdTensor("k", kK, batch, kv_heads, seq, dim));
  auto v = g.tensor(bshdTensor("v", kV, batch, kv_heads, seq, dim));
  auto options = fe::graph::SDPA_attributes()
                     .set_name("attention")
                     .set_generate_stats(false)  // inference: no softmax statistics for a backward
                     .set_attn_scale(scale);
  if (causal) {
    // Query i sees keys 0..i: the band's right edge on the diagonal from the top-left corner
    // (q and kv have the same length here, so top-left and bottom-right agree).
    options.set_diagonal_alignment(fe::DiagonalAlignment_t::TOP_LEFT)
        .set_diagonal_band_right_bound(0);
  }
  auto [out, stats] = g.sdpa(q, k, v, options);
  (void)stats;  // null: statistics are off
  const fe::graph::Tensor_attributes out_layout = bshdTensor("out", kOut, batch, q_heads, seq, dim);
  out->set_output(true)
      .set_dim(out_layout.get_dim())
      .set_stride(out_layout.get_stride())
      .set_uid(kOut);

  if (!step(g.validate(), "validate", plan)) return plan;
  if (!step(g.build_operation_graph(handle), "build_operation_graph", plan)) return plan;
  if (!step(g.create_execution_plans({fe::HeurMode_t::A, fe::HeurMode_t::FALLBACK}),
            "create_execution_plans", plan)) {
    return plan;
  }
  if (!step(g.check_support(), "check_support", plan)) return plan;
  if (!step(g.build_plans(), "build_plans", plan)) return plan;
  if (!step(g.get_workspace_size(plan.workspace_bytes), "get_workspace_size", plan)) return plan;
  return plan;
}

bool aligned16(const void* p) { return reinterpret_cast<std::uintptr_t>(p) % 16 == 0; }

}  // namespace

struct CudnnAttention::State {
  cudaStream_t stream = nullptr;
  cudnnHandle_t handle = nullptr;
  std::map<Key, Plan> plans;
  void* workspace = nullptr;
  std::int64_t workspace_bytes = 0;

  ~State() {  // unchecked: a destructor cannot throw, and this runs at teardown
    if (workspace) cudaFree(workspace);
    if (handle) cudnnDestroy(handle);
  }

  // Grows the workspace, in stream order, to at least `bytes`.
  void reserve(std::int64_t bytes) {
    if (bytes <= workspace_bytes) return;
    if (workspace) CUDA_CHECK(cudaFreeAsync(workspace, stream));
    workspace = nullptr;
    workspace_bytes = 0;
    CUDA_CHECK(cudaMallocAsync(&workspace, static_cast<std::size_t>(bytes), stream));
    workspace_bytes = bytes;
  }
};

bool cudnnAttentionBuilt() { return true; }

CudnnAttention::CudnnAttention(cudaStream_t stream) : state_(std::make_unique<State>()) {
  state_->stream = stream;
  CUDNN_CHECK(cudnnCreate(&state_->handle));
  CUDNN_CHECK(cudnnSetStream(state_->handle, stream));
}

CudnnAttention::~CudnnAttention() = default;

bool CudnnAttention::run(__nv_bfloat16* out, const __nv_bfloat16* q, const __nv_bfloat16* k,
                         const __nv_bfloat16* v, int batch, int seq_len, int head_dim,
                         const AttentionHeads& heads, bool causal, std::string* why_not) {
  auto refuse = [&](std::string why) {
    if (why_not) *why_not = std::move(why);
    return false;
  };
  if (batch < 0 || seq_len < 0 || heads.q_heads < 0 || head_dim < 1) {
    throw std::invalid_argument("cuda::CudnnAttention: negative sizes or head_dim < 1");
  }
  if (batch == 0 || seq_len == 0 || heads.q_heads == 0) return true;  // nothing to write
  if (heads.group_size < 1 || heads.kv_heads < 1) {
    throw std::invalid_argument("cuda::CudnnAttention: group_size or kv_heads < 1");
  }
  // Ours: local query head h reads local kv head (q_head_begin + h) / group_size -
  // kv_head_begin. cuDNN's: h / (q_heads / kv_heads). A shard runs here only where they agree.
  const bool even = heads.q_heads % heads.kv_heads == 0;
  for (int h = 0; h < heads.q_heads; ++h) {
    const int kvh = heads.localKvHead(h);
    if (kvh < 0 || kvh >= heads.kv_heads) {
      throw std::invalid_argument(
          "cuda::CudnnAttention: query head has no local kv head (bad head ranges)");
    }
    if (!even || kvh != h / (heads.q_heads / heads.kv_heads)) {
      return refuse("this shard's query heads do not split evenly over its kv heads (" +
                    std::to_string(heads.q_heads) + " query heads from " +
                    std::to_string(heads.q_head_begin) + ", " + std::to_string(heads.kv_heads) +
                    " kv heads from " + std::to_string(heads.kv_head_begin) +
                    "), which cuDNN's grouping assumes");
    }
  }
  if (heads.window > 0) {  // its band mask is not wired up here: our kernels mask the window
    return refuse("a sliding window is masked by shardrt's own kernels, not cuDNN's graph");
  }
  if (!aligned16(out) || !aligned16(q) || !aligned16(k) || !aligned16(v)) {
    return refuse("a tensor is not 16-byte aligned");
  }

  const Key key{
      batch, seq_len, heads.q_heads, heads.kv_heads, head_dim, causal, heads.scoreScale(head_dim)};
  auto it = state_->plans.find(key);
  if (it == state_->plans.end()) {
    it = state_->plans.emplace(key, buildPlan(state_->handle, key)).first;
  }
  const Plan& plan = it->second;
  if (!plan.graph) return refuse(plan.why_not);

  state_->reserve(plan.workspace_bytes);
  // execute() takes non-const pointers; cuDNN only reads q, k and v.
  std::unordered_map<std::int64_t, void*> pointers{{kQ, const_cast<__nv_bfloat16*>(q)},
                                                   {kK, const_cast<__nv_bfloat16*>(k)},
                                                   {kV, const_cast<__nv_bfloat16*>(v)},
                                                   {kOut, out}};
  const fe::error_t status = plan.graph->execute(state_->handle, pointers, state_->workspace);
  if (status.is_bad()) {
    throwCudnnFrontendError(status.err_msg, "cudnn_frontend::graph::Graph::execute", __FILE__,
                            __LINE__);
  }
  return true;
}

std::string CudnnAttention::loadedVersion() { return versionText(cudnnGetVersion()); }
std::string CudnnAttention::compiledVersion() { return versionText(CUDNN_VERSION); }

#else  // no cuDNN in this build

bool cudnnAttentionBuilt() { return false; }

struct CudnnAttention::State {};

CudnnAttention::CudnnAttention(cudaStream_t) {
  throw std::logic_error(
      "this build has no cuDNN (SHARDRT_CUDNN off, or cuDNN or its frontend "
      "headers not found at configure time)");
}

CudnnAttention::~CudnnAttention() = default;

bool CudnnAttention::run(__nv_bfloat16*, const __nv_bfloat16*, const __nv_bfloat16*,
                         const __nv_bfloat16*, int, int, int, const AttentionHeads&, bool,
                         std::string* why_not) {
  if (why_not) *why_not = "this build has no cuDNN";
  return false;
}

std::string CudnnAttention::loadedVersion() { return "none"; }
std::string CudnnAttention::compiledVersion() { return "none"; }

#endif

}  // namespace shardrt::kernels::cuda
