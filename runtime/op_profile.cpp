#include "runtime/op_profile.h"

#include <chrono>

#include "runtime/backend.h"

namespace shardrt {

void OpProfile::record(std::string_view op, double seconds, double flops) {
  for (auto& e : entries_) {
    if (e.op == op) {
      ++e.calls;
      e.seconds += seconds;
      e.flops += flops;
      return;
    }
  }
  entries_.push_back({std::string(op), 1, seconds, flops});
}

double OpProfile::totalSeconds() const {
  double s = 0.0;
  for (const auto& e : entries_) s += e.seconds;
  return s;
}

double OpTimer::now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

void OpTimer::synchronize() { backend_.synchronize(); }

}  // namespace shardrt
