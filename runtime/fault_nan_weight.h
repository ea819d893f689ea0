// Test-only fault (`shardrt run --test-fault-nan-weight NAME`): a WeightSource whose slices of
// the weight NAME have element 0 set to NaN (a rank that holds none of it sees no change).
// Exists to prove that --check-numerics and validation catch a poisoned weight; only the
// run's executor is given it, so the reference and --dump keep the clean values.
#pragma once

#include <string>
#include <vector>

#include "runtime/model_weights.h"

namespace shardrt {

class FaultNanWeight final : public WeightSource {
 public:
  // `inner` is not owned; `name` is a global weight name (isWeightName).
  FaultNanWeight(const WeightSource& inner, std::string name)
      : inner_(inner), name_(std::move(name)) {}

  std::vector<float> slice(const WeightSpec& spec) const override;

 private:
  const WeightSource& inner_;
  std::string name_;
};

}  // namespace shardrt
