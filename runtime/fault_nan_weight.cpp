#include "runtime/fault_nan_weight.h"

#include <limits>

namespace shardrt {

std::vector<float> FaultNanWeight::slice(const WeightSpec& spec) const {
  std::vector<float> values = inner_.slice(spec);
  if (spec.name == name_ && !values.empty()) values[0] = std::numeric_limits<float>::quiet_NaN();
  return values;
}

}  // namespace shardrt
