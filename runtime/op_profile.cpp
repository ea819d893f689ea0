#include "runtime/op_profile.h"

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

double OpTimer::time(const std::function<void()>& body) { return backend_.timeOps(body); }

}  // namespace shardrt
