// Moving values between the host (always fp32 there) and a tensor of any floating dtype:
// weights and inputs are generated in fp32 and stored as the workload's dtype; outputs are
// read back as fp32 for validation and --dump.
#pragma once

#include <vector>

#include "runtime/backend.h"

namespace shardrt {

// dst (fp32 or bf16; bf16 rounds to nearest even) = values.
void uploadFloats(Backend& backend, const TensorView& dst, const std::vector<float>& values);

// The tensor's values as fp32.
std::vector<float> downloadFloats(Backend& backend, const TensorView& src);

}  // namespace shardrt
