// The router rule a model's config asks for, as the router kernels take it
// (kernels/router_rule.h): one conversion for the executor and the reference.
#pragma once

#include "config/deployment.h"
#include "kernels/router_rule.h"

namespace shardrt {

inline kernels::RouterRule routerRuleOf(const config::MoeConfig& moe) {
  kernels::RouterRule rule;
  rule.sigmoid = moe.scoring == config::RouterScoring::Sigmoid;
  rule.normalize = moe.normalize_top_k;
  rule.scale = static_cast<float>(moe.routed_scale);
  rule.groups = moe.groups;
  rule.top_groups = moe.top_groups;
  rule.group_top_two = moe.group_score == config::GroupScore::TopTwoSum;
  return rule;
}

}  // namespace shardrt
