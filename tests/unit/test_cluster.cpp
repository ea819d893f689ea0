// The condition file's planner sections (planner/cluster): units, defaults, rank-to-node
// arithmetic, and one-line errors naming the field.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "common/errors.h"
#include "planner/cluster.h"

namespace shardrt::planner {
namespace {

using nlohmann::json;

json twoKinds() {
  return json::parse(R"({
    "cluster": {
      "groups": [
        {"name": "fast", "nodes": 2, "gpus_per_node": 4,
         "gpu": {"memory_gib": 80, "bf16_tflops": 989, "fp32_tflops": 67,
                 "memory_bandwidth_gbps": 3350},
         "intra_node": {"bandwidth_gbps": 450, "latency_us": 3}},
        {"name": "slow", "nodes": 1, "gpus_per_node": 8,
         "gpu": {"memory_gib": 40, "bf16_tflops": 312, "fp32_tflops": 19.5,
                 "memory_bandwidth_gbps": 1555, "gemm_efficiency": 0.6},
         "intra_node": {"bandwidth_gbps": 300, "latency_us": 4}}
      ],
      "inter_node": {"bandwidth_gbps": 50, "latency_us": 8},
      "memory_reserve": 0.2
    },
    "objective": {"optimize": "throughput", "max_latency_ms": 250},
    "planner": {"redundant_experts": 4, "expert_loads": [3, 1, 0, 4]}
  })");
}

void expectError(const json& doc, const std::string& field, const std::string& words) {
  try {
    parsePlanningInput(doc, ".", 2, 4);
    FAIL() << "accepted; expected an error on " << field;
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.field(), field) << e.what();
    EXPECT_NE(std::string(e.what()).find(words), std::string::npos) << e.what();
  }
}

TEST(Cluster, ReadsGroupsInSiUnits) {
  const PlanningInput in = parsePlanningInput(twoKinds(), ".", 2, 4);
  const auto& c = in.cluster;
  ASSERT_EQ(c.groups.size(), 2u);
  EXPECT_EQ(c.gpus(), 16);
  EXPECT_DOUBLE_EQ(c.groups[0].gpu.memory_bytes, 80.0 * 1024 * 1024 * 1024);
  EXPECT_DOUBLE_EQ(c.groups[0].gpu.flops_bf16, 989e12);
  EXPECT_DOUBLE_EQ(c.groups[1].gpu.memory_bytes_per_second, 1555e9);
  EXPECT_DOUBLE_EQ(c.groups[1].gpu.gemm_efficiency, 0.6);
  EXPECT_DOUBLE_EQ(c.groups[0].intra_node.latency_seconds, 3e-6);
  EXPECT_DOUBLE_EQ(c.inter_node.bytes_per_second, 50e9);
  EXPECT_DOUBLE_EQ(c.memory_reserve, 0.2);
  EXPECT_FALSE(c.tp_across_nodes);
  EXPECT_EQ(in.objective.kind, ObjectiveKind::Throughput);
  EXPECT_DOUBLE_EQ(in.objective.max_latency_seconds, 0.25);
  EXPECT_EQ(in.options.redundant_experts, 4);
  // Token counts become shares.
  ASSERT_EQ(in.options.expert_loads.size(), 1u);
  EXPECT_DOUBLE_EQ(in.options.expert_loads[0][3], 0.5);
}

TEST(Cluster, RanksNumberThroughGroupsAndNodes) {
  const auto c = parsePlanningInput(twoKinds(), ".", 2, 4).cluster;
  EXPECT_EQ(c.nodeOf(0), 0);
  EXPECT_EQ(c.nodeOf(3), 0);
  EXPECT_EQ(c.nodeOf(4), 1);
  EXPECT_EQ(c.nodeOf(8), 2);   // the slow group's one node
  EXPECT_EQ(c.nodeOf(15), 2);
  EXPECT_EQ(c.groupOf(7).name, "fast");
  EXPECT_EQ(c.groupOf(8).name, "slow");
  EXPECT_EQ(c.slowestIn(0, 7, DType::BF16).name, "fast");
  EXPECT_EQ(c.slowestIn(6, 9, DType::BF16).name, "slow");
  EXPECT_THROW(c.groupOf(16), std::out_of_range);
}

TEST(Cluster, PerLayerLoadsNeedOneListPerMoeLayer) {
  json doc = twoKinds();
  doc["planner"]["expert_loads"] = json::parse("[[1, 1, 1, 1], [4, 0, 0, 0]]");
  const auto in = parsePlanningInput(doc, ".", 2, 4);
  ASSERT_EQ(in.options.expert_loads.size(), 2u);
  EXPECT_DOUBLE_EQ(in.options.expert_loads[1][0], 1.0);
  doc["planner"]["expert_loads"] = json::parse("[[1, 1, 1, 1]]");
  expectError(doc, "planner.expert_loads", "one per MoE layer (2)");
}

TEST(Cluster, BadFieldsAreNamed) {
  json doc = twoKinds();
  doc["cluster"]["groups"][0]["gpu"].erase("bf16_tflops");
  expectError(doc, "cluster.groups[0].gpu.bf16_tflops", "required");

  doc = twoKinds();
  doc["cluster"]["groups"][1]["gpus_per_node"] = 0;
  expectError(doc, "cluster.groups[1].gpus_per_node", "positive");

  doc = twoKinds();
  doc["cluster"].erase("inter_node");
  expectError(doc, "cluster.inter_node", "required");

  doc = twoKinds();
  doc["cluster"]["memory_reserve"] = 1.5;
  expectError(doc, "cluster.memory_reserve", "below 1");

  doc = twoKinds();
  doc["cluster"]["groups"][0]["gpu"]["gemm_efficiency"] = 1.2;
  expectError(doc, "cluster.groups[0].gpu.gemm_efficiency", "(0, 1]");

  doc = twoKinds();
  doc["objective"]["optimize"] = "latency";
  expectError(doc, "objective.max_latency_ms", "throughput");

  doc = twoKinds();
  doc["planner"]["expert_loads"] = json::parse("[1, 2, 3]");
  expectError(doc, "planner.expert_loads", "one load per expert (4)");

  doc = twoKinds();
  doc["planner"]["expert_loads"] = json::parse("[1, -2, 3, 4]");
  expectError(doc, "planner.expert_loads", "non-negative");

  doc = twoKinds();
  doc["cluster"]["groups"][0]["gpu"]["memroy_gib"] = 1;
  expectError(doc, "cluster.groups[0].gpu.memroy_gib", "unknown field");

  doc = twoKinds();
  doc["cluster"]["groups"][0]["nodes"] = 1 << 21;
  expectError(doc, "cluster.groups", "2^20");
}

TEST(Cluster, OneNodeNeedsNoInterNodeLink) {
  json doc = twoKinds();
  doc["cluster"]["groups"].erase(1);
  doc["cluster"]["groups"][0]["nodes"] = 1;
  doc["cluster"].erase("inter_node");
  EXPECT_EQ(parsePlanningInput(doc, ".", 2, 4).cluster.gpus(), 4);
}

}  // namespace
}  // namespace shardrt::planner
