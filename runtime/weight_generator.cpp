#include "runtime/weight_generator.h"

#include <stdexcept>

namespace shardrt {
namespace {

constexpr std::uint64_t kGolden = 0x9E3779B97F4A7C15ull;

std::uint64_t splitMix64(std::uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

std::uint64_t fnv1a(std::string_view s) {
  std::uint64_t h = 0xCBF29CE484222325ull;
  for (unsigned char c : s) h = (h ^ c) * 0x100000001B3ull;
  return h;
}

}  // namespace

WeightGenerator::WeightGenerator(std::uint64_t seed, std::string_view name)
    : key_(splitMix64(seed ^ fnv1a(name))) {}

float WeightGenerator::uniform(std::uint64_t index) const {
  const std::uint64_t u = splitMix64(key_ + (index + 1) * kGolden);
  return static_cast<float>(u >> 40) * (2.0f / 16777216.0f) - 1.0f;  // exact in fp32
}

void WeightGenerator::fillSlice(float* dst, const std::vector<int>& global_shape,
                                const std::vector<config::Range>& slice, float scale,
                                float offset) const {
  if (global_shape.size() != slice.size() || global_shape.empty() || global_shape.size() > 2) {
    throw std::logic_error("WeightGenerator: slices of 1-D and 2-D tensors only");
  }
  const config::Range rows = slice.size() == 2 ? slice[0] : config::Range{0, 1};
  const config::Range cols = slice.back();
  const std::uint64_t row_len = static_cast<std::uint64_t>(global_shape.back());
  for (int r = rows.begin; r < rows.end; ++r) {
    for (int c = cols.begin; c < cols.end; ++c) {
      *dst++ = offset + scale * uniform(static_cast<std::uint64_t>(r) * row_len + c);
    }
  }
}

}  // namespace shardrt
