// Reading a deployment: every field, every default, and every rule's error naming its field.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "common/errors.h"
#include "config/deployment.h"

namespace shardrt::config {
namespace {

using nlohmann::json;

json validDoc() {
  return json::parse(R"({
    "name": "t", "seed": 7,
    "model": {"layers": 2, "hidden": 64, "heads": 8, "kv_heads": 2, "head_dim": 8,
              "ffn_hidden": 96, "norm": "layernorm", "norm_eps": 1e-6, "activation": "gelu",
              "rope": false, "rope_theta": 500000, "causal": false},
    "workload": {"batch_size": 2, "seq_len": 16, "dtype": "fp32"},
    "strategy": {"tp": 4, "pp": 1, "ep": 1, "dp": 1}
  })");
}

// Parses doc and returns the error it raises; fails the test when there is none.
ConfigError errorOf(const json& doc) {
  try {
    parseDeployment(doc, "x");
  } catch (const ConfigError& e) {
    return e;
  }
  ADD_FAILURE() << "accepted: " << doc.dump();
  return ConfigError("", "");
}

void expectError(const json& doc, const std::string& field, const std::string& rule_part) {
  const ConfigError e = errorOf(doc);
  EXPECT_EQ(e.field(), field) << e.what();
  EXPECT_NE(e.rule().find(rule_part), std::string::npos) << e.what();
  EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << "not one line: " << e.what();
}

TEST(Deployment, ReadsEveryField) {
  const Deployment d = parseDeployment(validDoc(), "x");
  EXPECT_EQ(d.name, "t");
  EXPECT_EQ(d.seed, 7u);
  EXPECT_EQ(d.model.layers, 2);
  EXPECT_EQ(d.model.hidden, 64);
  EXPECT_EQ(d.model.heads, 8);
  EXPECT_EQ(d.model.kv_heads, 2);
  EXPECT_EQ(d.model.head_dim, 8);
  EXPECT_EQ(d.model.ffn_hidden, 96);
  EXPECT_EQ(d.model.norm, NormKind::LayerNorm);
  EXPECT_EQ(d.model.norm_eps, 1e-6);
  EXPECT_EQ(d.model.activation, Activation::Gelu);
  EXPECT_FALSE(d.model.rope);
  EXPECT_EQ(d.model.rope_theta, 500000.0);
  EXPECT_FALSE(d.model.causal);
  EXPECT_EQ(d.workload.batch_size, 2);
  EXPECT_EQ(d.workload.seq_len, 16);
  EXPECT_EQ(d.workload.dtype, DType::F32);
  EXPECT_EQ(d.strategy.tp, 4);
  EXPECT_EQ(d.model.groupSize(), 4);
}

TEST(Deployment, FillsDefaults) {
  json doc = validDoc();
  doc.erase("name");
  doc.erase("seed");
  doc.erase("strategy");
  for (const char* k : {"kv_heads", "norm_eps", "rope", "rope_theta", "causal"})
    doc["model"].erase(k);
  doc["workload"].erase("dtype");
  const Deployment d = parseDeployment(doc, "from-file-name");
  EXPECT_EQ(d.name, "from-file-name");
  EXPECT_EQ(d.seed, 0u);
  EXPECT_EQ(d.model.kv_heads, 8);
  EXPECT_EQ(d.model.norm_eps, 1e-5);
  EXPECT_TRUE(d.model.rope);
  EXPECT_EQ(d.model.rope_theta, 10000.0);
  EXPECT_TRUE(d.model.causal);
  EXPECT_EQ(d.strategy.tp, 1);
  EXPECT_EQ(d.strategy.worldSize(), 1);
}

TEST(Deployment, MissingFieldsAreNamed) {
  for (const char* k :
       {"layers", "hidden", "heads", "head_dim", "ffn_hidden", "norm", "activation"}) {
    json doc = validDoc();
    doc["model"].erase(k);
    expectError(doc, std::string("model.") + k, "required field is missing");
  }
  for (const char* k : {"batch_size", "seq_len"}) {
    json doc = validDoc();
    doc["workload"].erase(k);
    expectError(doc, std::string("workload.") + k, "required field is missing");
  }
  json doc = validDoc();
  doc.erase("model");
  expectError(doc, "model", "required field is missing");
}

TEST(Deployment, MistypedFieldsAreNamed) {
  json doc = validDoc();
  doc["model"]["heads"] = "8";
  expectError(doc, "model.heads", "must be an integer");
  doc = validDoc();
  doc["model"]["hidden"] = 64.5;
  expectError(doc, "model.hidden", "must be an integer");
  doc = validDoc();
  doc["model"]["rope"] = "yes";
  expectError(doc, "model.rope", "must be true or false");
  doc = validDoc();
  doc["model"]["norm"] = "batchnorm";
  expectError(doc, "model.norm", "must be one of rmsnorm | layernorm");
  doc = validDoc();
  doc["model"]["activation"] = 3;
  expectError(doc, "model.activation", "must be a string");
  doc = validDoc();
  doc["workload"]["dtype"] = "fp64";
  expectError(doc, "workload.dtype", "must be one of fp32");
  doc = validDoc();
  doc["strategy"] = 4;
  expectError(doc, "strategy", "must be a JSON object");
  doc = validDoc();
  doc["seed"] = -1;
  expectError(doc, "seed", "non-negative integer");
}

TEST(Deployment, UnknownFieldsAreRefusedWithTheKnownOnes) {
  json doc = validDoc();
  doc["model"]["hiden"] = 64;
  expectError(doc, "model.hiden", "unknown field");
  EXPECT_NE(errorOf(doc).rule().find("hidden"), std::string::npos);
  doc = validDoc();
  doc["strategy"]["cp"] = 2;
  expectError(doc, "strategy.cp", "unknown field");
}

TEST(Deployment, NonPositiveSizesAreRefused) {
  for (const char* k : {"layers", "hidden", "heads", "kv_heads", "head_dim", "ffn_hidden"}) {
    for (int v : {0, -3}) {
      json doc = validDoc();
      doc["model"][k] = v;
      expectError(doc, std::string("model.") + k, "must be positive");
    }
  }
  json doc = validDoc();
  doc["workload"]["seq_len"] = 0;
  expectError(doc, "workload.seq_len", "must be positive");
  doc = validDoc();
  doc["strategy"]["tp"] = 0;
  expectError(doc, "strategy.tp", "must be positive");
  doc = validDoc();
  doc["model"]["norm_eps"] = 0;
  expectError(doc, "model.norm_eps", "positive finite number");
}

TEST(Deployment, DivisibilityRules) {
  json doc = validDoc();
  doc["strategy"]["tp"] = 3;
  expectError(doc, "strategy.tp", "must divide model.heads (heads=8, tp=3)");
  doc = validDoc();
  doc["model"]["ffn_hidden"] = 90;
  expectError(doc, "strategy.tp", "must divide model.ffn_hidden (ffn_hidden=90, tp=4)");
  doc = validDoc();
  doc["model"]["kv_heads"] = 3;
  expectError(doc, "model.kv_heads", "must divide model.heads");
  doc = validDoc();
  doc["model"]["rope"] = true;
  doc["model"]["head_dim"] = 7;
  expectError(doc, "model.head_dim", "must be even when rope is on");
}

TEST(Deployment, KvHeadsFewerThanTpAreAllowed) {
  json doc = validDoc();
  doc["strategy"]["tp"] = 8;
  doc["model"]["ffn_hidden"] = 96;
  EXPECT_EQ(parseDeployment(doc, "x").model.kv_heads, 2);
}

TEST(Deployment, PipelineAndDataParallelRules) {
  json doc = validDoc();
  doc["strategy"]["pp"] = 3;
  expectError(doc, "strategy.pp", "must not exceed model.layers (layers=2, pp=3)");
  doc["strategy"]["pp"] = 2;
  EXPECT_EQ(parseDeployment(doc, "x").strategy.pp, 2);
  doc = validDoc();
  doc["strategy"]["dp"] = 3;
  expectError(doc, "workload.batch_size", "must be divisible by microbatches * dp");
  doc["strategy"]["dp"] = 2;
  EXPECT_EQ(parseDeployment(doc, "x").strategy.dp, 2);
  doc = validDoc();
  doc["strategy"]["ep"] = 3;
  expectError(doc, "strategy.ep", "must divide tp*dp");
  doc["strategy"]["ep"] = 2;
  expectError(doc, "strategy.ep", "no MoE layers");
}

TEST(Deployment, WorldSizeMustMatchTheRanksLaunched) {
  const Deployment d = parseDeployment(validDoc(), "x");
  EXPECT_NO_THROW(checkWorldSize(d, 4));
  try {
    checkWorldSize(d, 2);
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.field(), "strategy");
    EXPECT_NE(e.rule().find("= 4 must equal the number of ranks launched (2)"), std::string::npos);
  }
}

class DeploymentFile : public ::testing::Test {
 protected:
  std::string write(const std::string& text) {
    std::ofstream(path_) << text;
    return path_.string();
  }
  void TearDown() override { std::filesystem::remove(path_); }
  std::filesystem::path path_ = std::filesystem::temp_directory_path() / "shardrt_test_dep.json";
};

TEST_F(DeploymentFile, MalformedJsonNamesTheFileAndPlace) {
  const std::string p = write("{\"model\": {\"layers\": 2,}");
  try {
    loadDeployment(p);
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.field(), p);
    EXPECT_NE(e.rule().find("malformed JSON"), std::string::npos) << e.what();
    EXPECT_NE(e.rule().find("line 1"), std::string::npos) << e.what();
  }
}

TEST_F(DeploymentFile, MissingFileIsAConfigError) {
  EXPECT_THROW(loadDeployment("/nonexistent/dir/x.json"), ConfigError);
}

TEST_F(DeploymentFile, OverridesSetNestedFieldsAsJsonOrString) {
  const std::string p = write(validDoc().dump());
  const Deployment d = loadDeployment(p, {"strategy.tp=2", "model.norm=rmsnorm", "seed=99"});
  EXPECT_EQ(d.strategy.tp, 2);
  EXPECT_EQ(d.model.norm, NormKind::RmsNorm);
  EXPECT_EQ(d.seed, 99u);
  EXPECT_EQ(d.name, "t");
  EXPECT_THROW(loadDeployment(p, {"no-equals-sign"}), ConfigError);
  json no_strategy = validDoc();
  no_strategy.erase("strategy");
  const std::string q = write(no_strategy.dump());
  EXPECT_EQ(loadDeployment(q, {"strategy.tp=2"}).strategy.tp, 2);  // creates the object
  EXPECT_THROW(loadDeployment(p, {"seed.x=1"}), ConfigError);      // seed is not an object
}

TEST(Deployment, ToJsonReadsBackTheSame) {
  const Deployment d = parseDeployment(validDoc(), "x");
  const Deployment again = parseDeployment(toJson(d), "y");
  EXPECT_EQ(toJson(again), toJson(d));
}

// ---- Mixture of Experts, microbatches and explicit plans ----

// An MoE deployment with every field of model.moe given and no explicit plan: 8 ranks,
// tp=2 x dp=2 in a stage (ep=2 splits them), two stages of two layers each.
json moeDoc() {
  return json::parse(R"({
    "name": "moe", "seed": 3,
    "model": {"layers": 4, "hidden": 64, "heads": 8, "kv_heads": 2, "head_dim": 8,
              "ffn_hidden": 96, "norm": "rmsnorm", "activation": "swiglu",
              "moe": {"experts": 8, "top_k": 2, "expert_ffn_hidden": 32, "scoring": "sigmoid",
                      "normalize_top_k": false, "shared_experts": 2,
                      "capacity_factor": 1.25, "every": 2}},
    "workload": {"batch_size": 8, "seq_len": 16},
    "strategy": {"tp": 2, "pp": 2, "ep": 2, "dp": 2, "microbatches": 2}
  })");
}

// moeDoc() with an explicit plan that is valid and uneven everywhere.
json moePlanDoc() {
  json doc = moeDoc();
  doc["plan"] = json::parse(R"({
    "stage_layers": [[0], [1, 2, 3]],
    "expert_placement": [[0, 1, 2, 3, 4, 5], [6, 7]],
    "dp_batch": [6, 2]
  })");
  return doc;
}

TEST(Deployment, ReadsEveryMoeField) {
  const Deployment d = parseDeployment(moeDoc(), "x");
  const MoeConfig& moe = d.model.moe;
  EXPECT_TRUE(d.model.hasMoe());
  EXPECT_EQ(moe.experts, 8);
  EXPECT_EQ(moe.top_k, 2);
  EXPECT_EQ(moe.expert_ffn_hidden, 32);
  EXPECT_EQ(moe.scoring, RouterScoring::Sigmoid);
  EXPECT_FALSE(moe.normalize_top_k);
  EXPECT_EQ(moe.shared_experts, 2);
  EXPECT_EQ(moe.capacity_factor, 1.25);
  EXPECT_FALSE(moe.dropless());
  EXPECT_EQ(moe.every, 2);
  // every=2: layers 1 and 3 are MoE, 0 and 2 dense.
  EXPECT_FALSE(d.model.isMoeLayer(0));
  EXPECT_TRUE(d.model.isMoeLayer(1));
  EXPECT_FALSE(d.model.isMoeLayer(2));
  EXPECT_TRUE(d.model.isMoeLayer(3));
  EXPECT_EQ(d.strategy.tp, 2);
  EXPECT_EQ(d.strategy.pp, 2);
  EXPECT_EQ(d.strategy.ep, 2);
  EXPECT_EQ(d.strategy.dp, 2);
  EXPECT_EQ(d.strategy.microbatches, 2);
  EXPECT_EQ(d.strategy.worldSize(), 8);  // ep splits a stage's ranks, it adds none
  EXPECT_NO_THROW(checkWorldSize(d, 8));
  EXPECT_TRUE(d.plan.stage_layers.empty());
  EXPECT_TRUE(d.plan.expert_placement.empty());
  EXPECT_TRUE(d.plan.dp_batch.empty());
}

TEST(Deployment, FillsMoeDefaults) {
  json doc = moeDoc();
  for (const char* k : {"scoring", "normalize_top_k", "shared_experts", "capacity_factor", "every"})
    doc["model"]["moe"].erase(k);
  doc["strategy"].erase("microbatches");
  const Deployment d = parseDeployment(doc, "x");
  const MoeConfig& moe = d.model.moe;
  EXPECT_EQ(moe.experts, 8);
  EXPECT_EQ(moe.scoring, RouterScoring::Softmax);
  EXPECT_TRUE(moe.normalize_top_k);
  EXPECT_EQ(moe.shared_experts, 0);
  EXPECT_EQ(moe.capacity_factor, 0.0);
  EXPECT_TRUE(moe.dropless());
  EXPECT_EQ(moe.every, 1);
  for (int l = 0; l < 4; ++l) EXPECT_TRUE(d.model.isMoeLayer(l)) << l;
  EXPECT_EQ(d.strategy.microbatches, 1);
}

TEST(Deployment, DenseModelHasNoMoeLayers) {
  const Deployment d = parseDeployment(validDoc(), "x");
  EXPECT_FALSE(d.model.hasMoe());
  EXPECT_EQ(d.model.moe.experts, 0);
  EXPECT_FALSE(d.model.isMoeLayer(0));
  EXPECT_FALSE(d.model.isMoeLayer(1));
  EXPECT_EQ(d.strategy.microbatches, 1);
  EXPECT_FALSE(toJson(d)["model"].contains("moe"));
  EXPECT_FALSE(toJson(d).contains("plan"));
}

TEST(Deployment, ReadsAnExplicitPlan) {
  const Deployment d = parseDeployment(moePlanDoc(), "x");
  EXPECT_EQ(d.plan.stage_layers, (std::vector<std::vector<int>>{{0}, {1, 2, 3}}));
  EXPECT_EQ(d.plan.expert_placement, (std::vector<std::vector<int>>{{0, 1, 2, 3, 4, 5}, {6, 7}}));
  EXPECT_EQ(d.plan.dp_batch, (std::vector<int>{6, 2}));
}

TEST(Deployment, MoeAndPlanToJsonReadBackTheSame) {
  const Deployment d = parseDeployment(moePlanDoc(), "x");
  const json j = toJson(d);
  EXPECT_EQ(j["model"]["moe"]["experts"], 8);
  EXPECT_EQ(j["model"]["moe"]["top_k"], 2);
  EXPECT_EQ(j["model"]["moe"]["expert_ffn_hidden"], 32);
  EXPECT_EQ(j["model"]["moe"]["scoring"], "sigmoid");
  EXPECT_EQ(j["model"]["moe"]["normalize_top_k"], false);
  EXPECT_EQ(j["model"]["moe"]["shared_experts"], 2);
  EXPECT_EQ(j["model"]["moe"]["capacity_factor"], 1.25);
  EXPECT_EQ(j["model"]["moe"]["every"], 2);
  EXPECT_EQ(j["strategy"]["microbatches"], 2);
  EXPECT_EQ(j["strategy"]["ep"], 2);
  EXPECT_EQ(j["plan"]["stage_layers"], json::parse("[[0], [1, 2, 3]]"));
  EXPECT_EQ(j["plan"]["expert_placement"], json::parse("[[0, 1, 2, 3, 4, 5], [6, 7]]"));
  EXPECT_EQ(j["plan"]["dp_batch"], json::parse("[6, 2]"));

  const Deployment again = parseDeployment(j, "y");
  EXPECT_EQ(toJson(again), j);
  EXPECT_EQ(again.model.moe.scoring, RouterScoring::Sigmoid);
  EXPECT_EQ(again.model.moe.capacity_factor, 1.25);
  EXPECT_EQ(again.plan.dp_batch, d.plan.dp_batch);
  EXPECT_EQ(again.plan.expert_placement, d.plan.expert_placement);
  EXPECT_EQ(again.plan.stage_layers, d.plan.stage_layers);
}

TEST(Deployment, DroplessMoeToJsonHasNoCapacityFactorAndReadsBack) {
  json doc = moeDoc();
  doc["model"]["moe"].erase("capacity_factor");
  const Deployment d = parseDeployment(doc, "x");
  const json j = toJson(d);
  EXPECT_FALSE(j["model"]["moe"].contains("capacity_factor"));
  EXPECT_EQ(j["model"]["moe"]["scoring"], "sigmoid");
  const Deployment again = parseDeployment(j, "y");
  EXPECT_TRUE(again.model.moe.dropless());
  EXPECT_EQ(toJson(again), j);
}

TEST(Deployment, MoeRequiredFieldsAreNamed) {
  for (const char* k : {"experts", "top_k", "expert_ffn_hidden"}) {
    json doc = moeDoc();
    doc["model"]["moe"].erase(k);
    expectError(doc, std::string("model.moe.") + k, "required field is missing");
    doc["model"]["moe"][k] = 0;
    expectError(doc, std::string("model.moe.") + k, "must be positive");
  }
  json doc = moeDoc();
  doc["model"]["moe"] = json::object();
  expectError(doc, "model.moe.experts", "required field is missing");
  doc = moeDoc();
  doc["model"]["moe"] = 8;
  expectError(doc, "model.moe", "must be a JSON object");
}

TEST(Deployment, MoeFieldTypesAreChecked) {
  json doc = moeDoc();
  doc["model"]["moe"]["scoring"] = "relu";
  expectError(doc, "model.moe.scoring", "must be one of softmax | sigmoid");
  doc = moeDoc();
  doc["model"]["moe"]["normalize_top_k"] = 1;
  expectError(doc, "model.moe.normalize_top_k", "must be true or false");
  doc = moeDoc();
  doc["model"]["moe"]["shared_experts"] = -1;
  expectError(doc, "model.moe.shared_experts", "non-negative integer");
  doc = moeDoc();
  doc["model"]["moe"]["every"] = 0;
  expectError(doc, "model.moe.every", "must be positive");
  doc = moeDoc();
  doc["model"]["moe"]["expert"] = 8;
  expectError(doc, "model.moe.expert", "unknown field");
  EXPECT_NE(errorOf(doc).rule().find("experts"), std::string::npos);
}

TEST(Deployment, MoeTopKMustNotExceedExperts) {
  json doc = moeDoc();
  doc["model"]["moe"]["top_k"] = 9;
  expectError(doc, "model.moe.top_k", "must not exceed model.moe.experts (top_k=9, experts=8)");
  doc["model"]["moe"]["top_k"] = 8;  // every expert: allowed
  EXPECT_EQ(parseDeployment(doc, "x").model.moe.top_k, 8);
}

TEST(Deployment, MoeCapacityFactorMustBePositive) {
  for (double cf : {0.0, -0.5}) {
    json doc = moeDoc();
    doc["model"]["moe"]["capacity_factor"] = cf;
    expectError(doc, "model.moe.capacity_factor", "positive finite number");
  }
  json doc = moeDoc();
  doc["model"]["moe"]["capacity_factor"] = "1.0";
  expectError(doc, "model.moe.capacity_factor", "must be a number");
  doc["model"]["moe"]["capacity_factor"] = 2;  // an integer is a number
  EXPECT_EQ(parseDeployment(doc, "x").model.moe.capacity_factor, 2.0);
}

TEST(Deployment, MoeEveryMustNotExceedLayers) {
  json doc = moeDoc();
  doc["model"]["moe"]["every"] = 5;
  expectError(doc, "model.moe.every",
              "must not exceed model.layers, or no layer is MoE (every=5, layers=4)");
  doc["model"]["moe"]["every"] = 4;  // only the last layer is MoE
  const Deployment d = parseDeployment(doc, "x");
  EXPECT_FALSE(d.model.isMoeLayer(0));
  EXPECT_FALSE(d.model.isMoeLayer(2));
  EXPECT_TRUE(d.model.isMoeLayer(3));
}

TEST(Deployment, EpMustDivideTheExperts) {
  json doc = moeDoc();
  doc["model"]["moe"]["experts"] = 6;
  doc["strategy"]["ep"] = 4;
  expectError(doc, "strategy.ep", "must divide model.moe.experts (experts=6, ep=4)");
  doc["strategy"]["ep"] = 2;
  EXPECT_EQ(parseDeployment(doc, "x").strategy.ep, 2);
}

TEST(Deployment, EpMustDivideTheRanksOfAStage) {
  json doc = moeDoc();  // tp*dp = 4
  doc["strategy"]["ep"] = 3;
  expectError(doc, "strategy.ep",
              "must divide tp*dp, the ranks of one pipeline stage (tp*dp=4, ep=3)");
  // ep=8 divides the world (8 ranks) and the experts, but a stage has only 4 ranks.
  doc["strategy"]["ep"] = 8;
  expectError(doc, "strategy.ep", "(tp*dp=4, ep=8)");
  doc["strategy"]["ep"] = 4;
  EXPECT_EQ(parseDeployment(doc, "x").strategy.ep, 4);
}

TEST(Deployment, EpNeedsAnMoeModel) {
  json doc = validDoc();  // dense, tp=4
  doc["strategy"]["ep"] = 2;
  expectError(doc, "strategy.ep", "must be 1: the model has no MoE layers to split");
  doc["strategy"]["ep"] = 1;
  EXPECT_NO_THROW(parseDeployment(doc, "x"));
}

TEST(Deployment, TpMustDivideTheSharedExpertsWidth) {
  json doc = moeDoc();  // tp=2
  doc["model"]["moe"]["shared_experts"] = 1;
  doc["model"]["moe"]["expert_ffn_hidden"] = 33;
  expectError(doc, "strategy.tp", "must divide the shared experts' width (shared_ffn=33, tp=2)");
  doc["model"]["moe"]["shared_experts"] = 2;  // 66 % 2 == 0
  EXPECT_NO_THROW(parseDeployment(doc, "x"));
  // A width of its own (Qwen2-MoE) is the one tp must divide.
  doc["model"]["moe"]["shared_ffn_hidden"] = 81;
  expectError(doc, "strategy.tp", "must divide the shared experts' width (shared_ffn=81, tp=2)");
  doc["model"]["moe"]["shared_ffn_hidden"] = 80;
  doc["model"]["moe"]["shared_gate"] = true;
  EXPECT_NO_THROW(parseDeployment(doc, "x"));
  doc["model"]["moe"]["shared_experts"] = 0;  // a width or a gate without a shared expert
  expectError(doc, "model.moe.shared_gate", "needs shared_experts of at least 1");
  doc["model"]["moe"].erase("shared_gate");
  expectError(doc, "model.moe.shared_ffn_hidden", "needs shared_experts of at least 1");
  doc["model"]["moe"].erase("shared_ffn_hidden");  // routed experts are not split by tp
  EXPECT_NO_THROW(parseDeployment(doc, "x"));
}

TEST(Deployment, EmptyExplicitListsAreErrorsNotDefaults) {
  for (const char* key : {"stage_layers", "expert_placement", "dp_batch"}) {
    json doc = moeDoc();
    doc["plan"] = json::object();
    doc["plan"][key] = json::array();
    expectError(doc, std::string("plan.") + key, "is empty");
  }
}

TEST(Deployment, CapacityOfAnExactProductIsNotRoundedUp) {
  MoeConfig moe;
  moe.experts = 7;
  moe.top_k = 5;
  moe.capacity_factor = 1.1;  // 1.1 * 14 * 5 / 7 = 11, 11.000000000000002 in doubles
  EXPECT_EQ(moe.capacity(14), 11);
  moe.experts = 9;
  moe.capacity_factor = 1.3;  // 1.3 * 18 * 5 / 9 = 13
  EXPECT_EQ(moe.capacity(18), 13);
  EXPECT_EQ(moe.capacity(19), 14);  // 13.72...: rounded up
}

TEST(Deployment, BatchMustSplitIntoMicrobatchesPerReplica) {
  json doc = moeDoc();  // dp=2, microbatches=2
  doc["workload"]["batch_size"] = 6;
  expectError(doc, "workload.batch_size",
              "must be divisible by microbatches * dp (batch_size=6, microbatches*dp=4)");
  doc["workload"]["batch_size"] = 12;
  EXPECT_NO_THROW(parseDeployment(doc, "x"));
  doc = validDoc();  // dp=1
  doc["strategy"]["microbatches"] = 3;
  expectError(doc, "workload.batch_size", "(batch_size=2, microbatches*dp=3)");
  doc["strategy"]["microbatches"] = 0;
  expectError(doc, "strategy.microbatches", "must be positive");
}

TEST(Deployment, PpMustNotExceedLayers) {
  json doc = moeDoc();
  doc["strategy"]["pp"] = 5;
  expectError(doc, "strategy.pp", "must not exceed model.layers (layers=4, pp=5)");
  doc["strategy"]["pp"] = 4;
  EXPECT_EQ(parseDeployment(doc, "x").strategy.pp, 4);
}

// moeDoc() with one plan field set from JSON text.
json withPlan(const char* key, const char* value) {
  json doc = moeDoc();
  doc["plan"][key] = json::parse(value);
  return doc;
}

TEST(Deployment, StageLayersMustCoverEveryLayerOnce) {  // 4 layers, pp=2
  expectError(withPlan("stage_layers", "[[0], [1, 2]]"), "plan.stage_layers", "layer 3 is missing");
  expectError(withPlan("stage_layers", "[[0, 1], [1, 2, 3]]"), "plan.stage_layers",
              "layer 1 is listed twice");
  expectError(withPlan("stage_layers", "[[0, 1], [2, 3, 4]]"), "plan.stage_layers",
              "layer 4 does not exist (there are 4)");
  expectError(withPlan("stage_layers", "[[0, 1, 2, 3]]"), "plan.stage_layers",
              "must have one list per pipeline stage (2), got 1");
  expectError(withPlan("stage_layers", "[[0], [1], [2, 3]]"), "plan.stage_layers",
              "must have one list per pipeline stage (2), got 3");
  expectError(withPlan("stage_layers", "[[0, -1], [1, 2, 3]]"), "plan.stage_layers[0]",
              "non-negative integers");
  expectError(withPlan("stage_layers", "[0, 1]"), "plan.stage_layers[0]", "must be a list");
}

TEST(Deployment, StageLayersMustBeConsecutiveAndInOrder) {
  expectError(withPlan("stage_layers", "[[0, 2], [1, 3]]"), "plan.stage_layers",
              "stage 0 must continue with layer 1");
  expectError(withPlan("stage_layers", "[[2, 3], [0, 1]]"), "plan.stage_layers",
              "stage 0 must continue with layer 0");
  expectError(withPlan("stage_layers", "[[0, 1], [3, 2]]"), "plan.stage_layers",
              "stage 1 must continue with layer 2");
  expectError(withPlan("stage_layers", "[[0, 1, 2, 3], []]"), "plan.stage_layers",
              "stage 1 holds no layer");
  const Deployment d = parseDeployment(withPlan("stage_layers", "[[0, 1, 2], [3]]"), "x");
  EXPECT_EQ(d.plan.stage_layers, (std::vector<std::vector<int>>{{0, 1, 2}, {3}}));
}

TEST(Deployment, ExpertPlacementMustHoldEveryExpertOncePerRank) {  // 8 experts, ep=2
  expectError(withPlan("expert_placement", "[[0, 1, 2], [3, 4, 5, 6]]"), "plan.expert_placement",
              "expert 7 is missing");
  expectError(withPlan("expert_placement", "[[0, 1, 2, 3], [3, 4, 5, 6, 7, 5]]"),
              "plan.expert_placement", "expert 5 is listed twice on ep rank 1");
  expectError(withPlan("expert_placement", "[[0, 0, 1, 2, 3], [4, 5, 6, 7]]"),
              "plan.expert_placement", "expert 0 is listed twice on ep rank 0");
  // A copy on another rank does not hide a missing expert.
  expectError(withPlan("expert_placement", "[[0, 1, 2, 3, 4, 5, 6], [0, 1, 2, 3, 4, 5, 6]]"),
              "plan.expert_placement", "expert 7 is missing");
  expectError(withPlan("expert_placement", "[[0, 1, 2, 3, 4, 5, 6, 7], [8]]"),
              "plan.expert_placement", "expert 8 does not exist (there are 8)");
  expectError(withPlan("expert_placement", "[[0, 1, 2, 3, 4, 5, 6, 7]]"), "plan.expert_placement",
              "must have one list per ep rank (2), got 1");
  json dense = validDoc();
  dense["plan"]["expert_placement"] = json::parse("[[0]]");
  expectError(dense, "plan.expert_placement", "the model has no experts");
}

TEST(Deployment, RedundantExpertCopiesAreAccepted) {  // 8 experts, ep=2
  Deployment d =
      parseDeployment(withPlan("expert_placement", "[[0, 1, 2, 3, 7], [3, 4, 5, 6, 7]]"), "x");
  EXPECT_EQ(d.plan.expert_placement,
            (std::vector<std::vector<int>>{{0, 1, 2, 3, 7}, {3, 4, 5, 6, 7}}));
  // Every expert on every rank, and a rank holding only copies.
  d = parseDeployment(
      withPlan("expert_placement", "[[0, 1, 2, 3, 4, 5, 6, 7], [7, 6, 5, 4, 3, 2, 1, 0]]"), "x");
  EXPECT_EQ(d.plan.expert_placement[1].size(), 8u);
  json doc = withPlan("expert_placement", "[[0, 1, 2, 3], [4, 5, 6, 7], [0, 7], []]");
  doc["strategy"]["ep"] = 4;
  doc["strategy"]["dp"] = 2;  // ep divides tp * dp = 4
  doc["workload"]["batch_size"] = 8;
  d = parseDeployment(doc, "x");
  EXPECT_EQ(d.plan.expert_placement[2], (std::vector<int>{0, 7}));
  // An expert may sit on every rank but one: ep rank 3 holds no copy of 0.
  doc["plan"]["expert_placement"] = json::parse("[[0, 1, 2, 3], [0, 4, 5, 6, 7], [0, 7], []]");
  EXPECT_NO_THROW(parseDeployment(doc, "x"));
}

TEST(Deployment, UnevenAndEmptyExpertPlacementsAreAccepted) {
  Deployment d = parseDeployment(withPlan("expert_placement", "[[7, 0, 1], [2, 3, 4, 5, 6]]"), "x");
  EXPECT_EQ(d.plan.expert_placement, (std::vector<std::vector<int>>{{7, 0, 1}, {2, 3, 4, 5, 6}}));
  d = parseDeployment(withPlan("expert_placement", "[[], [0, 1, 2, 3, 4, 5, 6, 7]]"), "x");
  EXPECT_TRUE(d.plan.expert_placement[0].empty());
  EXPECT_EQ(d.plan.expert_placement[1].size(), 8u);
  // An explicit placement lifts "ep divides experts": 6 experts over 4 ep ranks.
  json doc = withPlan("expert_placement", "[[0, 1], [2, 3], [4, 5], []]");
  doc["model"]["moe"]["experts"] = 6;
  doc["strategy"]["ep"] = 4;
  d = parseDeployment(doc, "x");
  EXPECT_EQ(d.plan.expert_placement.size(), 4u);
  EXPECT_TRUE(d.plan.expert_placement[3].empty());
}

TEST(Deployment, DpBatchMustGiveEveryReplicaAWholeShare) {  // batch 8, dp=2, microbatches=2
  expectError(withPlan("dp_batch", "[8]"), "plan.dp_batch",
              "must have one share per dp replica (2), got 1");
  expectError(withPlan("dp_batch", "[2, 2, 4]"), "plan.dp_batch",
              "must have one share per dp replica (2), got 3");
  expectError(withPlan("dp_batch", "[4, 2]"), "plan.dp_batch",
              "shares must add up to workload.batch_size (sum=6, batch_size=8)");
  expectError(withPlan("dp_batch", "[5, 3]"), "plan.dp_batch",
              "share 5 must be divisible by strategy.microbatches (2)");
  expectError(withPlan("dp_batch", "[8, 0]"), "plan.dp_batch", "every share must be positive");
  expectError(withPlan("dp_batch", "[10, -2]"), "plan.dp_batch", "non-negative integers");
}

TEST(Deployment, UnevenDpBatchIsAccepted) {
  Deployment d = parseDeployment(withPlan("dp_batch", "[2, 6]"), "x");
  EXPECT_EQ(d.plan.dp_batch, (std::vector<int>{2, 6}));
  // With explicit shares batch_size need not divide by microbatches * dp (6 % 4 != 0).
  json doc = withPlan("dp_batch", "[4, 2]");
  doc["workload"]["batch_size"] = 6;
  d = parseDeployment(doc, "x");
  EXPECT_EQ(d.plan.dp_batch, (std::vector<int>{4, 2}));
}

TEST(Deployment, PlanUnknownFieldsAreRefused) {
  expectError(withPlan("stages", "[[0, 1], [2, 3]]"), "plan.stages", "unknown field");
  json doc = moeDoc();
  doc["plan"] = json::array();
  expectError(doc, "plan", "must be a JSON object");
}

TEST(MoeConfig, CapacityIsCeilOfFactorTimesTokensTimesTopKOverExperts) {
  MoeConfig moe;
  moe.experts = 4;
  moe.top_k = 2;
  moe.capacity_factor = 1.0;
  EXPECT_EQ(moe.capacity(10), 5);  // 1.0 * 10 * 2 / 4 = 5 exactly
  EXPECT_EQ(moe.capacity(11), 6);  // 5.5
  EXPECT_EQ(moe.capacity(1), 1);   // 0.5
  moe.experts = 3;
  moe.top_k = 1;
  moe.capacity_factor = 1.25;
  EXPECT_EQ(moe.capacity(7), 3);   // 2.9167
  EXPECT_EQ(moe.capacity(12), 5);  // 5 exactly
  moe.experts = 8;
  moe.capacity_factor = 2.0;
  EXPECT_EQ(moe.capacity(3), 1);   // 0.75
  EXPECT_EQ(moe.capacity(16), 4);  // 4 exactly
  EXPECT_FALSE(moe.dropless());
  moe.capacity_factor = 0.0;
  EXPECT_TRUE(moe.dropless());
}

}  // namespace
}  // namespace shardrt::config
