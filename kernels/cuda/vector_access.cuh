// 16-byte loads and stores for the elementwise kernels: 8 bf16 or 4 fp32 elements per access,
// widened to float in registers.
//
// Why: one 2-byte element per thread leaves too few bytes in flight to fill HBM. On an H200 the
// bf16 rmsnorm moved 1.58 TB/s against a 3.9 TB/s device copy (docs/benchmarks.md, 2026-12-04,
// run 1): each warp asked for 64 bytes at a time. A 16-byte access per thread asks for 512.
// A kernel takes the packed path only where every pointer it touches is 16-byte aligned and its
// row length a multiple of the pack (packFits); otherwise it keeps the element-wise loop, so
// any shape and any view still work.
#pragma once

#include <cuda_bf16.h>

#include <cstdint>
#include <type_traits>

namespace shardrt::kernels::cuda {

template <typename T>
inline constexpr int kPack = 16 / static_cast<int>(sizeof(T));

// True when `count` elements from each pointer can be read as whole 16-byte packs.
template <typename T, typename... Ptr>
bool packFits(long count, const Ptr*... pointers) {
  return count % kPack<T> == 0 &&
         ((reinterpret_cast<std::uintptr_t>(pointers) % 16 == 0) && ...);
}

template <typename T>
__device__ inline void loadPack(const T* p, float (&v)[kPack<T>]) {
  const uint4 raw = *reinterpret_cast<const uint4*>(p);
  if constexpr (std::is_same_v<T, float>) {
    v[0] = __uint_as_float(raw.x);
    v[1] = __uint_as_float(raw.y);
    v[2] = __uint_as_float(raw.z);
    v[3] = __uint_as_float(raw.w);
  } else {
    const unsigned words[4] = {raw.x, raw.y, raw.z, raw.w};
    for (int i = 0; i < 4; ++i) {  // a bf16 is the high half of a float: shift, no rounding
      v[2 * i] = __uint_as_float(words[i] << 16);
      v[2 * i + 1] = __uint_as_float(words[i] & 0xffff0000u);
    }
  }
}

template <typename T>
__device__ inline void storePack(T* p, const float (&v)[kPack<T>]) {
  uint4 raw;
  if constexpr (std::is_same_v<T, float>) {
    raw = make_uint4(__float_as_uint(v[0]), __float_as_uint(v[1]), __float_as_uint(v[2]),
                     __float_as_uint(v[3]));
  } else {
    unsigned words[4];
    for (int i = 0; i < 4; ++i) {  // round to nearest even, as fromFloat does one at a time
      const unsigned lo = __bfloat16_as_ushort(__float2bfloat16_rn(v[2 * i]));
      const unsigned hi = __bfloat16_as_ushort(__float2bfloat16_rn(v[2 * i + 1]));
      words[i] = lo | (hi << 16);
    }
    raw = make_uint4(words[0], words[1], words[2], words[3]);
  }
  *reinterpret_cast<uint4*>(p) = raw;
}

}  // namespace shardrt::kernels::cuda
