#include "runtime/token_sampler.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace shardrt {
namespace {

std::uint64_t splitMix64(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

std::int32_t firstLargest(const float* logits, int vocab) {
  int best = 0;
  for (int i = 1; i < vocab; ++i) {
    if (logits[i] > logits[best] || (std::isnan(logits[best]) && !std::isnan(logits[i]))) best = i;
  }
  return best;
}

}  // namespace

double samplingUniform(std::uint64_t seed, std::int64_t request, std::int64_t step) {
  std::uint64_t h = splitMix64(seed);
  h = splitMix64(h ^ static_cast<std::uint64_t>(request));
  h = splitMix64(h ^ static_cast<std::uint64_t>(step));
  return static_cast<double>(h >> 11) * 0x1.0p-53;  // 53 random bits
}

std::int32_t sampleToken(const float* logits, int vocab, const Sampling& sampling,
                         std::int64_t request, std::int64_t step) {
  if (sampling.greedy()) return firstLargest(logits, vocab);
  // Tokens by logit, largest first, the smaller id first on ties: one order for every rank.
  std::vector<int> order(static_cast<std::size_t>(vocab));
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return logits[a] > logits[b]; });
  std::size_t keep = order.size();
  if (sampling.top_k > 0) keep = std::min(keep, static_cast<std::size_t>(sampling.top_k));
  // Softmax of logit / temperature over the kept tokens, in double.
  const double top = logits[order[0]] / sampling.temperature;
  std::vector<double> p(keep);
  double sum = 0.0;
  for (std::size_t i = 0; i < keep; ++i) {
    p[i] = std::exp(logits[order[i]] / sampling.temperature - top);
    sum += p[i];
  }
  // top-p: the fewest tokens whose probability reaches top_p (transformers' TopPLogitsWarper
  // keeps the token that crosses the threshold).
  if (sampling.top_p < 1.0) {
    double cumulative = 0.0;
    std::size_t n = 0;
    while (n < keep) {
      cumulative += p[n++] / sum;
      if (cumulative >= sampling.top_p) break;
    }
    keep = n;
    sum = std::accumulate(p.begin(), p.begin() + static_cast<long>(keep), 0.0);
  }
  const double u = samplingUniform(sampling.seed, request, step) * sum;
  double cumulative = 0.0;
  for (std::size_t i = 0; i < keep; ++i) {
    cumulative += p[i];
    if (u < cumulative) return order[i];
  }
  return order[keep - 1];  // u within rounding of the sum
}

}  // namespace shardrt
