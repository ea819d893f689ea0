#include "kernels/cpu/cached_attention.h"

#include <cblas.h>

#include <algorithm>
#include <stdexcept>
#include <vector>

#include "kernels/cpu/attention.h"

namespace shardrt::kernels::cpu {
namespace {

constexpr long kBlock = 128;  // query rows of one sgemm: a prefill's tokens in blocks

}  // namespace

// Tokens are taken in runs: consecutive tokens of one sequence at consecutive positions (a
// prompt in a prefill) go through two sgemm calls per head over the keys the run sees, as the
// full attention kernel does. A token alone (a decode step) goes through two sgemm calls per kv
// head, its query heads as the rows, so that its cost is linear in its context and each key is
// read once, not once per query head.
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
    for (int h = 0; h < heads.q_heads;) {
      // The query heads h .. h + group - 1 read one kv head (GQA): its keys and values are
      // read once for all of them.
      const int kvh = kvIndexOf(heads, h);
      int group = 1;
      while (h + group < heads.q_heads && heads.localKvHead(h + group) == kvh) ++group;
      const float* kh = k_cache + base + static_cast<long>(kvh) * head_dim;
      const float* vh = v_cache + base + static_cast<long>(kvh) * head_dim;
      if (run == 1) {
        // A lone token: scores (group, keys) = scale * Q (group, head_dim) K (keys, head_dim)^T,
        // then out (group, head_dim) = P V; the group's query heads lie side by side.
        scores.resize(static_cast<std::size_t>(group) * keys);
        const float* qg = q + t * q_stride + h * head_dim;
        float* og = out + t * q_stride + h * head_dim;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, group, keys, head_dim, scale, qg,
                    head_dim, kh, kv_stride, 0.0f, scores.data(), keys);
        for (int g = 0; g < group; ++g)
          softmaxRow(scores.data() + static_cast<long>(g) * keys, keys);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, group, head_dim, keys, 1.0f,
                    scores.data(), keys, vh, kv_stride, 0.0f, og, head_dim);
        h += group;
        continue;
      }
      for (int end = h + group; h < end; ++h) {
        const float* qh = q + t * q_stride + h * head_dim;
        float* oh = out + t * q_stride + h * head_dim;
        // scores (run, keys) = scale * Q (run, head_dim) K (keys, head_dim)^T
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(run), keys, head_dim,
                    scale, qh, q_stride, kh, kv_stride, 0.0f, scores.data(), keys);
        for (long i = 0; i < run; ++i) {
          float* row = scores.data() + i * keys;
          const int p = pos[t + i], from = heads.firstVisibleKey(p) - first, to = p + 1 - first;
          softmaxRow(row + from, to - from);
          std::fill(row, row + from, 0.0f);
          std::fill(row + to, row + keys, 0.0f);
        }
        // out (run, head_dim) = P (run, keys) V (keys, head_dim)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(run), head_dim,
                    keys, 1.0f, scores.data(), keys, vh, kv_stride, 0.0f, oh, q_stride);
      }
    }
    t += run;
  }
}

}  // namespace shardrt::kernels::cpu
