// The MoE router's rule, which every backend's kernel applies to one token's logits z (one per
// expert) and the config's per-expert choice bias b (zero when the model has none):
//   score    p_e = softmax(z)_e over all experts, or sigmoid(z_e)
//   choice   c_e = p_e + b_e          (DeepSeek-V3's e_score_correction_bias: steers the choice)
//   groups   with groups G > 1, the experts form G equal groups in index order; a group scores
//            the sum of its best two c (or its best one), the top_groups best groups are kept
//            (ties to the lower group), and the experts of the others are not chosen
//   top-k    the top_k largest c among the experts left, largest first, ties to the lower index
//   weights  w_k = p of the k-th chosen (p, not c: the bias chooses, it does not weigh), divided
//            by the chosen p's sum when normalize is set, then times scale
// Sources: Hugging Face transformers' MixtralSparseMoeBlock and Qwen3MoeSparseMoeBlock (softmax,
// G = 1), DeepseekV3TopkRouter and Glm4MoeTopkRouter (sigmoid, bias, best-two group score,
// routed_scaling_factor), DeepseekV2TopkRouter (softmax, best-one group score, no normalize).
// transformers adds 1e-20 to the normalising sum; with every p > 0 that changes no float here.
#pragma once

#include "kernels/host_device.h"

namespace shardrt::kernels {

struct RouterRule {
  bool sigmoid = false;
  bool normalize = true;
  float scale = 1.0f;
  int groups = 1;
  int top_groups = 1;
  bool group_top_two = true;  // a group's score: its best two (true) or its best one

  SHARDRT_HOST_DEVICE bool grouped() const { return groups > 1 && top_groups < groups; }

  // What breaks the rule for this many experts and top_k, or null when nothing does: the
  // groups must divide the experts, hold two each when scored by their best two, and the kept
  // groups must hold top_k experts.
  const char* broken(int experts, int top_k) const {
    if (top_k < 1 || top_k > experts) return "top_k must be 1 to the experts";
    if (!grouped()) return nullptr;
    if (experts % groups != 0) return "the groups must divide the experts";
    if (group_top_two && experts / groups < 2) return "a group scored by its best two needs two";
    if (top_k > top_groups * (experts / groups)) return "the top groups hold fewer than top_k";
    return nullptr;
  }
};

}  // namespace shardrt::kernels
