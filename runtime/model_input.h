// The model input, generated like a weight: tensor name "input", (batch_size, seq_len, hidden),
// uniform in [-1, 1). Every rank generates the rows it needs without communication.
#pragma once

#include "config/deployment.h"
#include "config/plan.h"
#include "runtime/backend.h"

namespace shardrt {

inline constexpr const char* kInputName = "input";

// Batch rows [batch_rows.begin, batch_rows.end) of the input: a data-parallel replica makes
// only its own share, rank 0 the whole batch when it validates or dumps.
Tensor makeModelInput(Backend& backend, const config::Deployment& deployment,
                      config::Range batch_rows);
Tensor makeModelInput(Backend& backend, const config::Deployment& deployment);  // the whole batch

}  // namespace shardrt
