#include "kernels/cpu/cached_attention.h"

#include <cblas.h>

#include <algorithm>
#include <limits>
#include <stdexcept>
#include <vector>

#include "kernels/cpu/fast_exp.h"

namespace shardrt::kernels::cpu {
namespace {

constexpr long kBlock = 128;  // query rows of one sgemm: a prefill's tokens in blocks

int kvIndexOf(const AttentionHeads& heads, int h) {
  const int kvh = heads.localKvHead(h);
  if (kvh < 0 || kvh >= heads.kv_heads) {
    throw std::logic_error("cached_attention: query head has no local kv head");
  }
  return kvh;
}

// In place: row (n) becomes softmax(row).
void softmax(float* row, int n) {
  float max_v = -std::numeric_limits<float>::infinity();
  for (int j = 0; j < n; ++j) max_v = std::max(max_v, row[j]);
  float sum = 0.0f;
  for (int j = 0; j < n; ++j) sum += row[j] = fastExp(row[j] - max_v);
  const float inv = 1.0f / sum;
  for (int j = 0; j < n; ++j) row[j] *= inv;
}

}  // namespace

// Tokens are taken in runs: consecutive tokens of one sequence at consecutive positions (a
// prompt in a prefill) go through two sgemm calls per head over the keys the run sees, as the
// full attention kernel does; a token alone (a decode step) through two sgemv calls, so that
// its cost is linear in its context.
void cachedAttention(float* out, const float* q, const float* k_cache, const float* v_cache,
                     const std::int32_t* seq, const std::int32_t* pos, long tokens, int context,
                     int head_dim, const AttentionHeads& heads) {
  const float scale = heads.scoreScale(head_dim);
  const int q_stride = heads.q_heads * head_dim;
  const int kv_stride = heads.kv_heads * head_dim;  // between positions in the cache
  std::vector<float> scores;
  for (long t = 0; t < tokens;) {
    long run = 1;
    while (t + run < tokens && run < kBlock && seq[t + run] == seq[t] &&
           pos[t + run] == pos[t] + run) {
      ++run;
    }
    if (pos[t] < 0 || pos[t + run - 1] >= context) {
      throw std::logic_error("cached_attention: a position outside the cache");
    }
    // The run sees the keys first .. last; row i the keys firstVisibleKey(pos) .. pos of them.
    const int first = heads.firstVisibleKey(pos[t]), last = pos[t + run - 1];
    const int keys = last + 1 - first;
    scores.resize(static_cast<std::size_t>(run) * keys);
    const long base = (static_cast<long>(seq[t]) * context + first) * kv_stride;
    for (int h = 0; h < heads.q_heads; ++h) {
      const long head = static_cast<long>(kvIndexOf(heads, h)) * head_dim;
      const float* kh = k_cache + base + head;
      const float* vh = v_cache + base + head;
      const float* qh = q + t * q_stride + h * head_dim;
      float* oh = out + t * q_stride + h * head_dim;
      if (run == 1) {
        // scores (keys) = scale * K (keys, head_dim) q; out = V^T p
        cblas_sgemv(CblasRowMajor, CblasNoTrans, keys, head_dim, scale, kh, kv_stride, qh, 1, 0.0f,
                    scores.data(), 1);
        softmax(scores.data(), keys);
        cblas_sgemv(CblasRowMajor, CblasTrans, keys, head_dim, 1.0f, vh, kv_stride, scores.data(),
                    1, 0.0f, oh, 1);
        continue;
      }
      // scores (run, keys) = scale * Q (run, head_dim) K (keys, head_dim)^T
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(run), keys, head_dim,
                  scale, qh, q_stride, kh, kv_stride, 0.0f, scores.data(), keys);
      for (long i = 0; i < run; ++i) {
        float* row = scores.data() + i * keys;
        const int p = pos[t + i], from = heads.firstVisibleKey(p) - first, to = p + 1 - first;
        softmax(row + from, to - from);
        std::fill(row, row + from, 0.0f);
        std::fill(row + to, row + keys, 0.0f);
      }
      // out (run, head_dim) = P (run, keys) V (keys, head_dim)
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(run), head_dim, keys,
                  1.0f, scores.data(), keys, vh, kv_stride, 0.0f, oh, q_stride);
    }
    t += run;
  }
}

}  // namespace shardrt::kernels::cpu
