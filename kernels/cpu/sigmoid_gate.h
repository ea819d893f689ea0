// A gate on whole rows: x[r, :] *= sigmoid(g[r]). Qwen2-MoE's shared expert is scaled, per
// token, by the sigmoid of its own one-output linear gate (shared_expert_gate).
#pragma once

namespace shardrt::kernels::cpu {

// x: rows x cols, in place; gate_logits: rows.
void sigmoidGateRows(float* x, const float* gate_logits, long rows, int cols);

}  // namespace shardrt::kernels::cpu
