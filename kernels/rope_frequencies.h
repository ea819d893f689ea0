// The rotary frequencies f_i (i < head_dim / 2) every backend's rope kernel rotates by, in
// double on the host and on the GPU alike:
//   f_i = theta^(-2i/d)                                  (Su et al., RoFormer; Llama)
// and with Llama 3.1's scaling (Hugging Face rope_type "llama3", from Meta's reference
// `apply_scaling`), by the wavelength w_i = 2 pi / f_i against the original context C:
//   w_i < C / high_freq_factor:  f_i                     (high frequencies kept)
//   w_i > C / low_freq_factor:   f_i / factor            (low frequencies slowed)
//   otherwise, with s = (C / w_i - low_freq_factor) / (high_freq_factor - low_freq_factor):
//                                (1 - s) f_i / factor + s f_i
#pragma once

#include <math.h>

#ifdef __CUDACC__
#define SHARDRT_HOST_DEVICE __host__ __device__
#else
#define SHARDRT_HOST_DEVICE
#endif

namespace shardrt::kernels {

struct RopeFrequencies {
  double theta = 10000.0;
  double factor = 0.0;  // 0: no scaling
  double low_freq_factor = 1.0;
  double high_freq_factor = 4.0;
  double original_context = 8192.0;

  // From theta alone (no scaling), so that a plain theta still passes where these are taken.
  RopeFrequencies(double base_theta = 10000.0) : theta(base_theta) {}  // NOLINT(runtime/explicit)
  bool scaled() const { return factor > 0.0; }
};

SHARDRT_HOST_DEVICE inline double ropeFrequency(const RopeFrequencies& r, int i, int head_dim) {
  const double f = pow(r.theta, -2.0 * i / head_dim);
  if (!(r.factor > 0.0)) return f;
  const double wavelength = 2.0 * 3.14159265358979323846 / f;
  if (wavelength < r.original_context / r.high_freq_factor) return f;
  if (wavelength > r.original_context / r.low_freq_factor) return f / r.factor;
  const double s = (r.original_context / wavelength - r.low_freq_factor) /
                   (r.high_freq_factor - r.low_freq_factor);
  return (1.0 - s) * f / r.factor + s * f;
}

}  // namespace shardrt::kernels
