// Element types shared by kernels, communicators and the runtime.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace shardrt {

// fp32 and bf16 (the cuda backend only; fp32 arithmetic inside every op) for tensors; i32
// for counts and verdicts that ranks agree on. Switches over DType have no default case, so
// that adding a type makes the compiler list every place to extend.
enum class DType : std::uint8_t { F32, BF16, I32 };

constexpr std::size_t dtypeSize(DType dtype) {
  switch (dtype) {
    case DType::F32:
      return 4;
    case DType::BF16:
      return 2;
    case DType::I32:
      return 4;
  }
  return 0;
}

constexpr std::string_view dtypeName(DType dtype) {
  switch (dtype) {
    case DType::F32:
      return "fp32";
    case DType::BF16:
      return "bf16";
    case DType::I32:
      return "i32";
  }
  return "?";
}

template <typename T>
constexpr DType dtypeOf();
template <>
constexpr DType dtypeOf<float>() {
  return DType::F32;
}
template <>
constexpr DType dtypeOf<std::int32_t>() {
  return DType::I32;
}
struct bfloat16;  // common/bfloat16.h
template <>
constexpr DType dtypeOf<bfloat16>() {
  return DType::BF16;
}

}  // namespace shardrt
