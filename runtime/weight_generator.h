// Generated weights, keyed by (seed, weight name, global element index). Any rank can produce
// any element of any weight without the others, so a shard and the unsharded reference hold
// identical values and neither holds the other's memory.
//
// The element at global row-major index i of weight `name` is
//   u = SplitMix64(key + (i + 1) * golden), key = SplitMix64(seed ^ FNV-1a(name))
//   value = scale * (2 * top24bits(u) / 2^24 - 1)  in [-scale, scale)
// SplitMix64 (Steele, Lea, Flood: "Fast splittable pseudorandom number generators", 2014) is
// a counter-based mixer: its output at counter i does not depend on any other counter.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "config/plan.h"

namespace shardrt {

class WeightGenerator {
 public:
  WeightGenerator(std::uint64_t seed, std::string_view name);

  // Value in [-1, 1) at one global row-major index.
  float uniform(std::uint64_t index) const;

  // Fills dst (row-major, the slice's own shape) with the slice of a tensor of global_shape,
  // each element v as offset + scale * uniform(global index).
  void fillSlice(float* dst, const std::vector<int>& global_shape,
                 const std::vector<config::Range>& slice, float scale, float offset) const;

 private:
  std::uint64_t key_;
};

}  // namespace shardrt
