#include "kernels/cpu/linear.h"

#include <cblas.h>

namespace shardrt::kernels::cpu {

void linear(float* out, const float* inp, const float* weight, int rows, int in_features,
            int out_features) {
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, out_features, in_features, 1.0f, inp,
              in_features, weight, in_features, 0.0f, out, out_features);
}

void linearReference(float* out, const float* inp, const float* weight, int rows, int in_features,
                     int out_features) {
  for (int r = 0; r < rows; ++r) {
    for (int o = 0; o < out_features; ++o) {
      double acc = 0.0;  // double so the reference is more exact than the code under test
      for (int i = 0; i < in_features; ++i) {
        acc += static_cast<double>(inp[r * in_features + i]) * weight[o * in_features + i];
      }
      out[r * out_features + o] = static_cast<float>(acc);
    }
  }
}

}  // namespace shardrt::kernels::cpu
