// Choosing the next token from a whole row of logits on the host: greedy, or sampled with a
// temperature, top-k and top-p (nucleus; Holtzman et al. 2019) as transformers' generate
// applies them (temperature, then top-k, then top-p). The random number of each choice is
// a pure function of (seed, request, step), not of the order in which ranks or microbatches
// ran, so every strategy draws the same number for the same choice and, given the same
// logits, picks the same token.
#pragma once

#include <cstdint>
#include <vector>

namespace shardrt {

struct Sampling {
  double temperature = 0.0;  // 0: greedy (the first of the largest logits)
  int top_k = 0;             // 0: every token
  double top_p = 1.0;        // 1: every token
  std::uint64_t seed = 0;
  bool greedy() const { return temperature <= 0.0; }
};

// The uniform [0, 1) number of choice (request, step) under `seed` (SplitMix64 of the three).
double samplingUniform(std::uint64_t seed, std::int64_t request, std::int64_t step);

// The token chosen from logits (vocab) for the step-th new token of `request`.
std::int32_t sampleToken(const float* logits, int vocab, const Sampling& sampling,
                         std::int64_t request, std::int64_t step);

}  // namespace shardrt
