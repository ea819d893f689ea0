// `--dump DIR`: the model input, the output and every weight in its global (unsharded) form
// as .npy files named by global name, and the resolved deployment as deployment.json, so that
// an independent tool can recompute the model and check shardrt from outside.
#pragma once

#include <string>

#include "planner/deployment.h"

namespace shardrt::launch {

// Called on one rank; regenerates each whole weight from the seed, one at a time.
void writeDump(const std::string& dir, const planner::Deployment& d, const float* input,
               const float* output);

}  // namespace shardrt::launch
