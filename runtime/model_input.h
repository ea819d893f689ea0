// The model input, generated like a weight: tensor name "input", (batch_size, seq_len, hidden),
// uniform in [-1, 1). Every rank generates the rows it needs without communication.
#pragma once

#include "planner/deployment.h"
#include "runtime/backend.h"

namespace shardrt {

inline constexpr const char* kInputName = "input";

Tensor makeModelInput(Backend& backend, const planner::Deployment& d);

}  // namespace shardrt
