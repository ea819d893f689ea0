#include "bench/forward_timing.h"

#include <chrono>

#include "runtime/rank_agreement.h"

namespace shardrt::bench {

std::vector<double> timeForwards(TransformerExecutor& executor, const TensorView& input,
                                 const TensorView& output, comm::Communicator& world, int warmup,
                                 int iterations) {
  std::vector<double> seconds;
  for (int i = 0; i < warmup + iterations; ++i) {
    world.barrier();
    const auto t0 = std::chrono::steady_clock::now();
    executor.forward(input, output);
    const std::chrono::duration<double> dt = std::chrono::steady_clock::now() - t0;
    const double slowest = maxOverRanks(world, dt.count());
    if (i >= warmup) seconds.push_back(slowest);
  }
  return seconds;
}

}  // namespace shardrt::bench
