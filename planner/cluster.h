// The deployment condition file's planner part: the cluster the model must run on (groups of
// identical GPUs, the links between them), the objective, and what the planner may do (expert
// loads to balance, redundant expert copies). The runtime reads none of it; `shardrt plan`
// reads all of it. docs/config.md documents every field.
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/dtype.h"
#include "planner/cost_model.h"
#include "planner/hardware_profile.h"

namespace shardrt::config {
struct Deployment;
}  // namespace shardrt::config

namespace shardrt::planner {

// One GPU as its datasheet (or a calibrated profile) describes it.
struct GpuSpec {
  double memory_bytes = 0.0;
  double flops_fp32 = 0.0;  // peak dense FLOP/s
  double flops_bf16 = 0.0;
  double memory_bytes_per_second = 0.0;
  // Shares of the peaks a real kernel reaches; datasheet numbers are never reached.
  double gemm_efficiency = 0.7;
  double memory_efficiency = 0.8;
  std::optional<HardwareProfile> profile;  // measured rates replace the four above

  double peakFlops(DType dtype) const { return dtype == DType::BF16 ? flops_bf16 : flops_fp32; }
  // The GEMM rate to compare GPUs by: the best measured, else peak x efficiency.
  double gemmRate(DType dtype) const;
};

// Nodes of identical GPUs joined inside each node by one link class.
struct GpuGroup {
  std::string name;
  int nodes = 1;
  int gpus_per_node = 1;
  GpuSpec gpu;
  LinkRates intra_node;
  int gpus() const { return nodes * gpus_per_node; }
};

struct ClusterConfig {
  std::vector<GpuGroup> groups;  // world ranks are numbered through the groups in order
  LinkRates inter_node;
  bool tp_across_nodes = false;  // may a tensor-parallel group span nodes?
  double memory_reserve = 0.1;   // share of each GPU's memory the plan must leave free

  int gpus() const;
  int gpusPerNode(int world_rank) const;
  const GpuGroup& groupOf(int world_rank) const;
  int nodeOf(int world_rank) const;  // a node index unique over all groups
  // The group of world ranks [first, last] whose GPUs reach the fewest GEMM FLOP/s.
  const GpuGroup& slowestIn(int first, int last, DType dtype) const;
};

// latency, throughput: one forward of the batch (`shardrt run`). The others price generation
// (`shardrt generate`) of prompts of prompt_tokens, then new_tokens decode steps:
// time_to_first_token (the prefill), time_per_output_token (a decode step at the mean
// context), decode_throughput (new tokens per second, under a time-per-token bound if given).
enum class ObjectiveKind {
  Latency,
  Throughput,
  TimeToFirstToken,
  TimePerOutputToken,
  DecodeThroughput
};

struct Objective {
  ObjectiveKind kind = ObjectiveKind::Latency;
  double max_latency_seconds = 0.0;  // throughput under this latency bound (0: no bound)
  // decode_throughput under this bound on the time per output token (0: no bound)
  double max_time_per_output_token_seconds = 0.0;
  int prompt_tokens = 0, new_tokens = 0;  // the generation objectives' requests
  bool generation() const {
    return kind != ObjectiveKind::Latency && kind != ObjectiveKind::Throughput;
  }
};

// Search knobs and measured inputs the planner uses.
struct PlannerOptions {
  int max_microbatches = 16;
  int redundant_experts = 0;  // expert copies the planner may add over all ep ranks
  // Measured per-expert token shares, one list per MoE layer or one list for all; empty:
  // uniform routing is assumed.
  std::vector<std::vector<double>> expert_loads;
};

struct PlanningInput {
  ClusterConfig cluster;
  Objective objective;
  PlannerOptions options;
};

// Reads the "cluster", "objective" and "planner" sections of a condition file (the model and
// workload sections are read by parseDeployment). Profile paths are resolved against
// `base_dir`. ConfigError naming the field on anything wrong.
PlanningInput parsePlanningInput(const nlohmann::json& doc, const std::string& base_dir,
                                 int moe_layers, int experts);

// The planner sections of a condition file's JSON `doc` (`deployment`: the one read from the
// same JSON; base_dir: the file's directory), or nothing when it has no "cluster".
std::optional<PlanningInput> planningInputOf(const nlohmann::json& doc, const std::string& base_dir,
                                             const config::Deployment& deployment);

}  // namespace shardrt::planner
