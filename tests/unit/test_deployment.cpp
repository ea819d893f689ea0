// Reading a deployment: every field, every default, and every rule's error naming its field.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "common/errors.h"
#include "planner/deployment.h"

namespace shardrt::planner {
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

TEST(Deployment, OtherDegreesAreCheckedThenRefusedUntilBuilt) {
  json doc = validDoc();
  doc["strategy"]["pp"] = 3;
  expectError(doc, "strategy.pp", "must not exceed model.layers");
  doc["strategy"]["pp"] = 2;
  expectError(doc, "strategy.pp", "not implemented yet");
  doc = validDoc();
  doc["strategy"]["dp"] = 3;
  expectError(doc, "strategy.dp", "must divide workload.batch_size");
  doc["strategy"]["dp"] = 2;
  expectError(doc, "strategy.dp", "not implemented yet");
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
  EXPECT_THROW(loadDeployment(p, {"seed.x=1"}), ConfigError);  // seed is not an object
}

TEST(Deployment, ToJsonReadsBackTheSame) {
  const Deployment d = parseDeployment(validDoc(), "x");
  const Deployment again = parseDeployment(toJson(d), "y");
  EXPECT_EQ(toJson(again), toJson(d));
}

}  // namespace
}  // namespace shardrt::planner
