// A deployment: the model, the workload and the parallel strategy, as read from the user's
// JSON file (docs/config.md documents every field). Reading it checks every field and rule
// before anything is allocated; a broken rule throws ConfigError naming the field.
#pragma once

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "common/dtype.h"

namespace shardrt::planner {

enum class NormKind { LayerNorm, RmsNorm };
enum class Activation { Gelu, SwiGlu };

const char* toString(NormKind n);
const char* toString(Activation a);

struct ModelConfig {
  int layers = 0;
  int hidden = 0;
  int heads = 0;
  int kv_heads = 0;  // == heads: multi-head attention; fewer: grouped-query attention
  int head_dim = 0;
  int ffn_hidden = 0;
  NormKind norm = NormKind::RmsNorm;
  double norm_eps = 1e-5;
  Activation activation = Activation::SwiGlu;
  bool rope = true;
  double rope_theta = 10000.0;
  bool causal = true;

  int groupSize() const { return heads / kv_heads; }  // query heads per kv head
};

struct WorkloadConfig {
  int batch_size = 0;
  int seq_len = 0;
  DType dtype = DType::F32;
};

struct StrategyConfig {
  int tp = 1;
  int pp = 1;
  int ep = 1;
  int dp = 1;
  int worldSize() const { return tp * pp * dp; }
};

struct Deployment {
  std::string name;
  std::uint64_t seed = 0;
  ModelConfig model;
  WorkloadConfig workload;
  StrategyConfig strategy;
};

// Reads and checks a deployment. `overrides` are "dotted.path=value" strings applied to the
// JSON before it is read (value parsed as JSON, else taken as a string), as `--set` passes them.
Deployment loadDeployment(const std::string& path, const std::vector<std::string>& overrides = {});
Deployment parseDeployment(const nlohmann::json& doc, const std::string& default_name);

// The deployment as read, every default filled in: what result.json and --dump record.
nlohmann::json toJson(const Deployment& d);

// The strategy must use exactly the ranks that were launched.
void checkWorldSize(const Deployment& d, int world_size);

}  // namespace shardrt::planner
