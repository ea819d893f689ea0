#include "kernels/cpu/cached_attention.h"

#include <cblas.h>

#include <algorithm>
#include <limits>
#include <stdexcept>
#include <vector>

#include "kernels/cpu/fast_exp.h"

namespace shardrt::kernels::cpu {

// Per token and head, two sgemv calls over the visible keys: a decode step's cost is linear in
// its context, which is what a cached decode should cost.
void cachedAttention(float* out, const float* q, const float* k_cache, const float* v_cache,
                     const std::int32_t* seq, const std::int32_t* pos, long tokens, int context,
                     int head_dim, const AttentionHeads& heads) {
  const float scale = heads.scoreScale(head_dim);
  const int q_stride = heads.q_heads * head_dim;
  const int kv_stride = heads.kv_heads * head_dim;  // between positions in the cache
  std::vector<float> scores(static_cast<std::size_t>(context));
  for (long t = 0; t < tokens; ++t) {
    if (pos[t] < 0 || pos[t] >= context) {
      throw std::logic_error("cached_attention: a position outside the cache");
    }
    const int first = heads.firstVisibleKey(pos[t]), n = pos[t] + 1 - first;
    const long seq_base = (static_cast<long>(seq[t]) * context + first) * kv_stride;
    for (int h = 0; h < heads.q_heads; ++h) {
      const int kvh = (heads.q_head_begin + h) / heads.group_size - heads.kv_head_begin;
      if (kvh < 0 || kvh >= heads.kv_heads) {
        throw std::logic_error("cached_attention: query head has no local kv head");
      }
      const float* kh = k_cache + seq_base + static_cast<long>(kvh) * head_dim;
      const float* vh = v_cache + seq_base + static_cast<long>(kvh) * head_dim;
      // scores (n) = scale * K (n, head_dim) q
      cblas_sgemv(CblasRowMajor, CblasNoTrans, n, head_dim, scale, kh, kv_stride,
                  q + t * q_stride + h * head_dim, 1, 0.0f, scores.data(), 1);
      float max_v = -std::numeric_limits<float>::infinity();
      for (int j = 0; j < n; ++j) max_v = std::max(max_v, scores[j]);
      float sum = 0.0f;
      for (int j = 0; j < n; ++j) sum += scores[j] = fastExp(scores[j] - max_v);
      // out (head_dim) = V (n, head_dim)^T p / sum
      cblas_sgemv(CblasRowMajor, CblasTrans, n, head_dim, 1.0f / sum, vh, kv_stride, scores.data(),
                  1, 0.0f, out + t * q_stride + h * head_dim, 1);
    }
  }
}

}  // namespace shardrt::kernels::cpu
