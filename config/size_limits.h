// Bounds on the sizes a deployment may ask for (issue 7, hostile input). Every size comes from
// a file, and the runtime multiplies them (weights, activation buffers, kernel row counts in
// 32-bit ints): these checks run before anything is allocated, in 64-bit checked arithmetic,
// so that an absurd model is one ConfigError naming the fields, never an overflowed product or
// an allocation of petabytes. The bounds are far above any real model (docs/config.md,
// "Size limits"): DeepSeek-V3 and Llama-3-405B pass with room to spare.
#pragma once

#include <cstdint>

#include "config/deployment.h"

namespace shardrt::config {

// Any one dimension (hidden, ffn_hidden, seq_len, experts, ...) and any one row width
// (heads * head_dim): 2^24 = 16,777,216. Real models: hidden 16384, ffn 53248, seq 131072.
inline constexpr std::int64_t kMaxDimension = std::int64_t{1} << 24;
// Tokens of one batch (batch_size * seq_len): the CPU kernels take row counts as int.
inline constexpr std::int64_t kMaxTokens = (std::int64_t{1} << 31) - 1;
// Any one weight matrix, in elements: 2^38 (1 TiB of fp32; a 10^12-element one is refused).
inline constexpr std::int64_t kMaxTensorElements = std::int64_t{1} << 38;
// Any one activation over the whole batch, in elements: 2^44. The batch is split over dp
// replicas and microbatches before a rank holds any of it (the DeepSeek-like plan example
// dispatches 2^38.8 token-slots in all), and what a rank holds is then checked against its
// memory; this bound keeps the memory estimate's sums far from 64-bit overflow.
inline constexpr std::int64_t kMaxActivationElements = std::int64_t{1} << 44;
// All of the model's weights together: 2^44 elements (DeepSeek-V3 has about 2^39.3).
inline constexpr std::int64_t kMaxModelElements = std::int64_t{1} << 44;
// Each parallel degree and their product tp * pp * dp: 2^20 ranks, as the planner's clusters.
inline constexpr std::int64_t kMaxRanks = std::int64_t{1} << 20;

// Throws ConfigError naming the first size over its bound: the field (or the product of
// fields) and the bound, e.g.
//   model.hidden * model.ffn_hidden: the FFN weight has 1000000000000 elements, above 2^38
void checkSizes(const Deployment& deployment);

}  // namespace shardrt::config
