// `--dump DIR`: the model input, the output and every weight in its global (unsharded) form
// as .npy files named by global name, and the resolved deployment as deployment.json, so that
// an independent tool can recompute the model and check shardrt from outside.
#pragma once

#include <string>

#include "config/deployment.h"
#include "runtime/model_weights.h"

namespace shardrt::launch {

// Called on one rank; reads each whole weight from `weights` (the run's source: generated
// from the seed, or the --weights files), one at a time.
void writeDump(const std::string& dir, const config::Deployment& deployment,
               const WeightSource& weights, const float* input, const float* output);

}  // namespace shardrt::launch
