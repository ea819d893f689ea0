// The rotary frequencies f_i (i < d / 2) every backend's rope kernel rotates by, in double on
// the host and on the GPU alike, d the dimensions rotated (head_dim, or fewer: partial rotary):
//   f_i = theta^(-2i/d)                                  (Su et al., RoFormer; Llama)
// and with Llama 3.1's scaling (Hugging Face rope_type "llama3", from Meta's reference
// `apply_scaling`), by the wavelength w_i = 2 pi / f_i against the original context C:
//   w_i < C / high_freq_factor:  f_i                     (high frequencies kept)
//   w_i > C / low_freq_factor:   f_i / factor            (low frequencies slowed)
//   otherwise, with s = (C / w_i - low_freq_factor) / (high_freq_factor - low_freq_factor):
//                                (1 - s) f_i / factor + s f_i
// and with YaRN (Peng et al. 2023, "YaRN", eq. 19-20; transformers' _compute_yarn_parameters),
// for d rotated dims, base theta and the original context C, the correction dims
//   cd(r) = d ln(C / (2 pi r)) / (2 ln theta),  low = floor(cd(beta_fast)), high =
//   ceil(cd(beta_slow))
// clamped to [0, d - 1] (high + 0.001 when equal), the ramp t_i = clamp((i - low) / (high - low))
//                                (1 - t_i) f_i + t_i f_i / factor
// cos and sin are then multiplied by `magnitude` (YaRN's attention_factor; 1 otherwise).
#pragma once

#include <math.h>

#include "kernels/host_device.h"

namespace shardrt::kernels {

struct RopeFrequencies {
  double theta = 10000.0;
  double factor = 0.0;  // 0: no scaling
  double low_freq_factor = 1.0;
  double high_freq_factor = 4.0;
  double original_context = 8192.0;
  bool yarn = false;  // with factor > 0: YaRN's frequencies, not Llama 3.1's
  double beta_fast = 32.0;
  double beta_slow = 1.0;
  double magnitude = 1.0;  // cos and sin times this
  // Partial rotary (GLM-4.5's partial_rotary_factor): only the first rotary_dim dimensions of
  // each head are rotated, in rotate-half pairs (i, i + rotary_dim / 2); the rest pass through.
  // 0: all of head_dim.
  int rotary_dim = 0;
  // DeepSeek's multi-head latent attention: the rotated dims start rotary_offset into each head
  // (after its qk_nope_head_dim position-free dims) ...
  int rotary_offset = 0;
  // ... and pair (2i, 2i + 1) instead of rotate-half's (i, i + d/2): DeepSeek's checkpoints lay
  // the rope dims out interleaved (transformers' rope_interleave, apply_rotary_pos_emb_interleave;
  // its de-interleaved output differs from this in-place one by a permutation that q and k share,
  // which leaves every q.k, and so the attention, unchanged).
  bool interleaved = false;

  // From theta alone (no scaling), so that a plain theta still passes where these are taken.
  RopeFrequencies(double base_theta = 10000.0) : theta(base_theta) {}  // NOLINT(runtime/explicit)
  bool scaled() const { return factor > 0.0; }
  SHARDRT_HOST_DEVICE int rotatedDims(int head_dim) const {
    return rotary_dim > 0 ? rotary_dim : head_dim;
  }
};

SHARDRT_HOST_DEVICE inline double ropeFrequency(const RopeFrequencies& r, int i, int rotated_dims) {
  const double f = pow(r.theta, -2.0 * i / rotated_dims);
  if (!(r.factor > 0.0)) return f;
  if (r.yarn) {
    const double d = rotated_dims, pi = 3.14159265358979323846;
    double low =
        floor(d * log(r.original_context / (r.beta_fast * 2.0 * pi)) / (2.0 * log(r.theta)));
    double high =
        ceil(d * log(r.original_context / (r.beta_slow * 2.0 * pi)) / (2.0 * log(r.theta)));
    low = fmax(low, 0.0);
    high = fmin(high, d - 1.0);
    if (low == high) high += 0.001;
    const double t = fmin(fmax((i - low) / (high - low), 0.0), 1.0);
    return (1.0 - t) * f + t * f / r.factor;
  }
  const double wavelength = 2.0 * 3.14159265358979323846 / f;
  if (wavelength < r.original_context / r.high_freq_factor) return f;
  if (wavelength > r.original_context / r.low_freq_factor) return f / r.factor;
  const double s = (r.original_context / wavelength - r.low_freq_factor) /
                   (r.high_freq_factor - r.low_freq_factor);
  return (1.0 - s) * f / r.factor + s * f;
}

}  // namespace shardrt::kernels
