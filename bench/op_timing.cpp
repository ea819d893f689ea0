#include "bench/op_timing.h"

#include <algorithm>
#include <cmath>

namespace shardrt::bench {

double median(std::vector<double> v) {
  if (v.empty()) return 0.0;
  std::sort(v.begin(), v.end());
  const std::size_t h = v.size() / 2;
  return v.size() % 2 ? v[h] : 0.5 * (v[h - 1] + v[h]);
}

double percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0.0;
  std::sort(v.begin(), v.end());
  const auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(v.size())));
  return v[std::min(v.size() - 1, rank == 0 ? 0 : rank - 1)];
}

double medianSecondsTogether(Backend& backend, comm::Communicator& world, int iterations,
                             const std::function<void()>& op) {
  std::vector<double> seconds;
  for (int i = 0; i < iterations; ++i) {
    world.barrier();
    seconds.push_back(backend.timeOps(op));
  }
  return median(std::move(seconds));
}

std::vector<double> gatherOverRanks(comm::Communicator& world, double value) {
  const float mine = static_cast<float>(value);
  std::vector<float> all(world.size());
  world.allGather(&mine, all.data(), 1, DType::F32);
  return {all.begin(), all.end()};
}

}  // namespace shardrt::bench
