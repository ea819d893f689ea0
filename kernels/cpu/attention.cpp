#include "kernels/cpu/attention.h"

#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <vector>

#include "kernels/cpu/fast_exp.h"

namespace shardrt::kernels::cpu {

int kvIndexOf(const AttentionHeads& heads, int local_q_head) {
  const int kv = heads.localKvHead(local_q_head);
  if (kv < 0 || kv >= heads.kv_heads) {
    throw std::logic_error("attention: query head has no local kv head (bad head ranges)");
  }
  return kv;
}

void softmaxRow(float* row, int n) {
  float max_v = -std::numeric_limits<float>::infinity();
  for (int j = 0; j < n; ++j) max_v = std::max(max_v, row[j]);
  for (int j = 0; j < n; ++j) row[j] = fastExp(row[j] - max_v);  // vectorises: no libm call
  float sum = 0.0f;
  for (int j = 0; j < n; ++j) sum += row[j];
  const float inv = 1.0f / sum;
  for (int j = 0; j < n; ++j) row[j] *= inv;
}

// Query rows go in blocks so that the score buffer is (block, seq_len), not (seq_len, seq_len),
// and a causal block only multiplies against the keys it can see (half the FLOPs overall).
// Both products are sgemm calls on strided views of q, k, v: no head is copied out.
void attention(float* out, const float* q, const float* k, const float* v, int batch, int seq_len,
               int head_dim, const AttentionHeads& heads, bool causal) {
  constexpr int kBlock = 128;
  const float scale = heads.scoreScale(head_dim);
  const int q_stride = heads.q_heads * head_dim;  // distance between positions in q and out
  const int kv_stride = heads.kv_heads * head_dim;
  std::vector<float> scores(static_cast<size_t>(std::min(kBlock, seq_len)) * seq_len);

  for (int b = 0; b < batch; ++b) {
    for (int h = 0; h < heads.q_heads; ++h) {
      const int kvh = kvIndexOf(heads, h);
      const float* qh = q + static_cast<long>(b) * seq_len * q_stride + h * head_dim;
      const float* kh = k + static_cast<long>(b) * seq_len * kv_stride + kvh * head_dim;
      const float* vh = v + static_cast<long>(b) * seq_len * kv_stride + kvh * head_dim;
      float* oh = out + static_cast<long>(b) * seq_len * q_stride + h * head_dim;
      for (int r0 = 0; r0 < seq_len; r0 += kBlock) {
        const int rows = std::min(kBlock, seq_len - r0);
        const int keys = causal ? r0 + rows : seq_len;
        // scores (rows, keys) = scale * q[r0:r0+rows] @ k[0:keys]^T
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, keys, head_dim, scale,
                    qh + static_cast<long>(r0) * q_stride, q_stride, kh, kv_stride, 0.0f,
                    scores.data(), keys);
        for (int i = 0; i < rows; ++i) {
          float* row = scores.data() + static_cast<long>(i) * keys;
          const int visible = causal ? r0 + i + 1 : keys;
          const int first = causal ? heads.firstVisibleKey(r0 + i) : 0;
          softmaxRow(row + first, visible - first);
          std::fill(row, row + first, 0.0f);
          std::fill(row + visible, row + keys, 0.0f);
        }
        // out[r0:r0+rows] (rows, head_dim) = probs (rows, keys) @ v[0:keys]
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, head_dim, keys, 1.0f,
                    scores.data(), keys, vh, kv_stride, 0.0f, oh + static_cast<long>(r0) * q_stride,
                    q_stride);
      }
    }
  }
}

void attentionReference(float* out, const float* q, const float* k, const float* v, int batch,
                        int seq_len, int head_dim, const AttentionHeads& heads, bool causal) {
  const double scale = heads.score_scale > 0.0f ? static_cast<double>(heads.score_scale)
                                                : 1.0 / std::sqrt(static_cast<double>(head_dim));
  std::vector<double> p(seq_len);
  auto offset = [&](int nh, int b, int s, int h) {
    return ((static_cast<long>(b) * seq_len + s) * nh + h) * head_dim;
  };
  auto at = [&](const float* base, int nh, int b, int s, int h) {
    return base + offset(nh, b, s, h);
  };
  for (int b = 0; b < batch; ++b) {
    for (int h = 0; h < heads.q_heads; ++h) {
      const int kvh = kvIndexOf(heads, h);
      for (int i = 0; i < seq_len; ++i) {
        const int visible = causal ? i + 1 : seq_len;
        const int first = causal ? heads.firstVisibleKey(i) : 0;
        double max_v = -std::numeric_limits<double>::infinity();
        for (int j = first; j < visible; ++j) {
          double dot = 0.0;
          for (int d = 0; d < head_dim; ++d) {
            dot += static_cast<double>(at(q, heads.q_heads, b, i, h)[d]) *
                   at(k, heads.kv_heads, b, j, kvh)[d];
          }
          p[j] = dot * scale;
          max_v = std::max(max_v, p[j]);
        }
        double sum = 0.0;
        for (int j = first; j < visible; ++j) sum += (p[j] = std::exp(p[j] - max_v));
        float* o = out + offset(heads.q_heads, b, i, h);
        for (int d = 0; d < head_dim; ++d) {
          double acc = 0.0;
          for (int j = first; j < visible; ++j) acc += p[j] * at(v, heads.kv_heads, b, j, kvh)[d];
          o[d] = static_cast<float>(acc / sum);
        }
      }
    }
  }
}

}  // namespace shardrt::kernels::cpu
