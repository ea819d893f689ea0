// Hostile input (issue 7): every malformed-file case gets one ConfigError (or, for DOT, one
// DotParseError) naming the file or field and the rule: never a crash, another exception, or
// an attempt to allocate what the file asks for. docs/reliability.md lists each message.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "common/errors.h"
#include "config/deployment.h"
#include "config/json_limits.h"
#include "config/size_limits.h"
#include "dag/dot_reader.h"
#include "planner/cluster.h"
#include "planner/hardware_profile.h"

namespace shardrt::planner {
// The planner reads the config layer's values: Deployment, Plan, Range, the limits.
using namespace shardrt::config;
namespace {

using nlohmann::json;

const char* kSmall = R"({
  "name": "small", "seed": 1,
  "model": {"layers": 2, "hidden": 96, "heads": 8, "head_dim": 12, "ffn_hidden": 200,
            "norm": "rmsnorm", "activation": "swiglu"},
  "workload": {"batch_size": 2, "seq_len": 19}
})";

// The message of the ConfigError that parsing `text` as a deployment throws ("" if none).
std::string deploymentError(const std::string& text) {
  try {
    parseDeployment(parseJsonLimited(text, "f.json"), "f");
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

std::string sizeError(const std::string& key, const std::string& value) {
  json doc = json::parse(kSmall);
  json* node = &doc;
  std::stringstream parts(key);
  for (std::string k; std::getline(parts, k, '.');) node = &(*node)[k];
  *node = json::parse(value);
  return deploymentError(doc.dump());
}

TEST(HostileJson, TheValidFileParses) { EXPECT_EQ(deploymentError(kSmall), ""); }

TEST(HostileJson, DeepNestingIsRefusedWithoutRecursion) {
  // A million levels: nlohmann's parser keeps its own stack, and the cap stops it at 64.
  const std::string deep = std::string(1000000, '[') + std::string(1000000, ']');
  std::string at;
  for (int i = 0; i < 64; ++i) at += "[0]";
  EXPECT_EQ(deploymentError(deep),
            "f.json: nested deeper than 64 levels (at " + at + "), the limit for a JSON file");
  const std::string in_field = R"({"model": {"moe": )" + std::string(100, '[');
  EXPECT_NE(deploymentError(in_field).find("(at model.moe[0][0]"), std::string::npos);
  // 64 levels is still allowed (the cap is not off by one the other way).
  EXPECT_EQ(deploymentError(std::string(64, '[') + std::string(64, ']')),
            "deployment: must be a JSON object, got array");
}

TEST(HostileJson, HugeTextIsRefusedBeforeParsing) {
  const std::string huge(kMaxJsonBytes + 1, ' ');
  EXPECT_EQ(deploymentError(huge), "f.json: is larger than 64 MiB, the limit for a JSON file");
}

TEST(HostileJson, DuplicateKeysAreRefusedByPath) {
  EXPECT_EQ(deploymentError(R"({"seed": 1, "seed": 2})"),
            "f.json: seed: is given twice in one object (only one would count: give it once)");
  EXPECT_EQ(deploymentError(R"({"model": {"hidden": 96, "heads": 8, "hidden": 97}})"),
            "f.json: model.hidden: is given twice in one object (only one would count: give it "
            "once)");
  EXPECT_EQ(deploymentError(R"({"strategies": [{"name": "a"}, {"name": "b", "name": "c"}]})"),
            "f.json: strategies[1].name: is given twice in one object (only one would count: "
            "give it once)");
  // The same key in two different objects is fine.
  EXPECT_EQ(parseJsonLimited(R"({"a": {"x": 1}, "b": {"x": 2}})", "f")["b"]["x"], 2);
}

TEST(HostileJson, MalformedTextIsOneLine) {
  EXPECT_EQ(deploymentError(""),
            "f.json: malformed JSON: parse error at line 1, column 1: syntax error while parsing "
            "value - unexpected end of input; expected '[', '{', or a literal");
  const std::string truncated = std::string(kSmall).substr(0, 120);
  EXPECT_NE(deploymentError(truncated).find("f.json: malformed JSON: parse error at line "),
            std::string::npos);
  const std::string garbage("\x00\xff\xfe\x01{\x80\n\n", 8);
  const std::string e = deploymentError(garbage);
  EXPECT_NE(e.find("f.json: malformed JSON:"), std::string::npos) << e;
  EXPECT_EQ(e.find('\n'), std::string::npos) << e;
}

TEST(HostileJson, NanInfinityAndHugeNumbersAreRefused) {
  // nlohmann accepts no NaN or Infinity literal, and a number past double's range is
  // out_of_range, which used to escape as exit 3 (found by fuzz_profile).
  EXPECT_NE(deploymentError(R"({"seed": NaN})").find("malformed JSON"), std::string::npos);
  EXPECT_NE(deploymentError(R"({"seed": Infinity})").find("malformed JSON"), std::string::npos);
  EXPECT_EQ(deploymentError(R"({"seed": 1e999})"),
            "f.json: malformed JSON: number overflow parsing '1e999'");
}

TEST(HostileJson, WrongTypesNameTheFieldAndQuoteBriefly) {
  EXPECT_EQ(sizeError("model.hidden", R"("96")"), "model.hidden: must be an integer, got string \"96\"");
  EXPECT_EQ(sizeError("model.hidden", "96.5"), "model.hidden: must be an integer, got number 96.5");
  EXPECT_EQ(sizeError("model.rope", "[1]"), "model.rope: must be true or false, got array [1]");
  // A megabyte string is quoted in 80 characters, not a megabyte.
  const std::string e = sizeError("model.norm", json(std::string(1 << 20, 'x')).dump());
  EXPECT_LT(e.size(), 200u) << e.substr(0, 300);
}

TEST(HostileSizes, RealModelsPass) {
  // DeepSeek-V3-sized MoE and Llama-3-405B-sized dense model at 131072 tokens of context.
  EXPECT_EQ(sizeError("model", R"({"layers": 61, "hidden": 7168, "heads": 128, "head_dim": 192,
      "ffn_hidden": 18432, "norm": "rmsnorm", "activation": "swiglu",
      "moe": {"experts": 256, "top_k": 8, "expert_ffn_hidden": 2048, "shared_experts": 1}})"),
            "");
  EXPECT_EQ(sizeError("model", R"({"layers": 128, "hidden": 16384, "heads": 128, "kv_heads": 8,
      "head_dim": 128, "ffn_hidden": 53248, "norm": "rmsnorm", "activation": "swiglu"})"),
            "");
  EXPECT_EQ(sizeError("workload", R"({"batch_size": 16, "seq_len": 131072})"), "");
}

TEST(HostileSizes, AbsurdDimensionsAndProductsAreRefused) {
  EXPECT_EQ(sizeError("model.hidden", "20000000"),
            "model.hidden: is 20000000, above the limit of 2^24");
  // A 10^12-element FFN weight from two dimensions each within bounds.
  EXPECT_EQ(sizeError("model", R"({"layers": 2, "hidden": 1000000, "heads": 8, "head_dim": 12,
      "ffn_hidden": 1000000, "norm": "rmsnorm", "activation": "swiglu"})"),
            "model.hidden * model.ffn_hidden: the FFN weight has 1000000000000 elements, above "
            "the limit of 2^38");
  EXPECT_EQ(sizeError("model.heads", "4194304"),
            "model.heads * model.head_dim: the attention width is 50331648 elements, above the "
            "limit of 2^24");
  // batch * seq near 2^31: the CPU kernels' row count is an int.
  EXPECT_EQ(sizeError("workload", R"({"batch_size": 65536, "seq_len": 65536})"),
            "workload.batch_size * workload.seq_len: the batch has 4294967296 tokens, above the "
            "limit of 2^31-1");
  EXPECT_EQ(sizeError("model.moe", R"({"experts": 16000000, "top_k": 1,
      "expert_ffn_hidden": 16000000})"),
            "model.moe.experts * expert_ffn_hidden * model.hidden: one MoE layer's routed experts "
            "have 24576000000000000 elements, above the limit of 2^38");
  EXPECT_EQ(sizeError("model", R"({"layers": 16000000, "hidden": 4096, "heads": 32,
      "head_dim": 128, "ffn_hidden": 14336, "norm": "rmsnorm", "activation": "swiglu"})"),
            "model.layers * (weights of one layer): the model's weights have 3892314112000000 "
            "elements, above the limit of 2^44");
  // tp * pp * dp would overflow int: refused in 64 bits.
  EXPECT_EQ(sizeError("strategy", R"({"tp": 1048576, "pp": 1048576})"),
            "strategy.tp * pp * dp: asks for 1099511627776 ranks, above the limit of 2^20");
  EXPECT_EQ(sizeError("strategy.dp", "2147483647"),
            "strategy.dp: is 2147483647, above the limit of 2^20");
}

TEST(HostileSizes, ProductThatOverflows64BitsIsSaidSo) {
  Deployment d = parseDeployment(json::parse(kSmall), "f");
  d.model.moe = MoeConfig{};
  d.model.moe.experts = 1 << 24;
  d.model.moe.top_k = 1;
  d.model.moe.expert_ffn_hidden = 1 << 24;
  d.workload.batch_size = 1 << 15;
  d.workload.seq_len = 1 << 15;
  d.model.hidden = 1 << 24;
  d.model.ffn_hidden = 1;
  d.model.heads = d.model.kv_heads = 1;
  d.model.head_dim = 1;
  try {
    checkSizes(d);
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()),
              "workload.batch_size * seq_len * model.hidden: the residual stream has "
              "18014398509481984 elements, above the limit of 2^44");
  }
  d.workload.batch_size = d.workload.seq_len = 1;
  try {
    checkSizes(d);
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()),
              "model.moe.experts * expert_ffn_hidden * model.hidden: one MoE layer's routed "
              "experts have more than 2^63 elements, above the limit of 2^38");
  }
}

TEST(HostileSizes, CapacityOfAHugeFactorDoesNotOverflowInt) {
  MoeConfig moe;
  moe.experts = 1;
  moe.top_k = 1;
  moe.capacity_factor = 1e300;
  EXPECT_EQ(moe.capacity(1 << 24), std::numeric_limits<int>::max());
}

TEST(HostileCluster, NodesTimesGpusThatOverflowIntAreRefused) {
  json doc = json::parse(kSmall);
  doc["cluster"] = json::parse(R"({"groups": [{"nodes": 2147483647, "gpus_per_node": 2147483647,
      "gpu": {"memory_gib": 80, "bf16_tflops": 1, "fp32_tflops": 1, "memory_bandwidth_gbps": 1},
      "intra_node": {"bandwidth_gbps": 1, "latency_us": 1}}]})");
  const Deployment d = parseDeployment(doc, "f");
  try {
    planningInputOf(doc, ".", d);
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()),
              "cluster.groups[0].nodes: nodes * gpus_per_node is more than 2^20 GPUs: not a "
              "cluster this planner plans for");
  }
}

TEST(HostileFiles, ProfileAndFileLimits) {
  try {
    parseHardwareProfile(R"({"machine": "m", "machine": "n"})", "p.json");
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()),
              "p.json: machine: is given twice in one object (only one would count: give it once)");
  }
  // Not a regular file: a FIFO would block the reader, /dev/zero would never end.
  try {
    readJsonFile("/dev/zero", "deployment file");
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()), "/dev/zero: the deployment file is not a regular file");
  }
  // A file over the cap is refused having read only the cap and a little more.
  const auto path = std::filesystem::temp_directory_path() / "shardrt_hostile_huge.json";
  {
    std::ofstream out(path);
    out << '[';
    out << std::string(kMaxJsonBytes, ' ');
    out << ']';
  }
  try {
    readJsonFile(path.string(), "deployment file");
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()),
              path.string() + ": is larger than 64 MiB, the limit for a JSON file");
  }
  std::filesystem::remove(path);
}

std::string dotError(const std::string& text) {
  std::istringstream in(text);
  try {
    dag::readDot(in);
  } catch (const dag::DotParseError& e) {
    return e.what();
  } catch (const std::runtime_error& e) {
    return std::string("runtime_error: ") + e.what();
  }
  return "";
}

TEST(HostileDot, LimitsGiveOneLineWithTheLineNumber) {
  EXPECT_EQ(dotError("digraph g {\n" + std::string(100000, '{') + "\n"),
            "line 2: blocks nested deeper than 64 levels, the limit for a DOT file");
  EXPECT_EQ(dotError("digraph g {\n\"" + std::string(2 << 20, 'x') + "\"\n}\n"),
            "line 2: line longer than 1 MiB, the limit for a DOT file");
  // Appended piece by piece: GCC 12 warns falsely (-Wrestrict) on "k" + to_string(i) + "=1,".
  std::string attrs = "digraph g {\n a [";
  for (int i = 0; i < 300; ++i) attrs.append("k").append(std::to_string(i)).append("=1,");
  attrs += "]\n}\n";
  EXPECT_EQ(dotError(attrs),
            "line 2: more than 256 attributes on one statement, the limit for a DOT file");
  // A 512 KB default label copied onto every node: the held bytes are capped at 1 GiB.
  std::string big = "digraph g {\n node [label=\"" + std::string(512 << 10, 'x') + "\"]\n";
  for (int i = 0; i < 2100; ++i) big.append("n").append(std::to_string(i)).append("\n");
  EXPECT_EQ(dotError(big + "}\n"),
            "line 2050: attributes over all nodes and edges (defaults counted on each) exceed 1 "
            "GiB, the limit for a DOT file");
  EXPECT_EQ(dotError(""), "line 1: expected 'digraph', found the end of the file");
  EXPECT_EQ(dotError("digraph g {\n a -> b\n"),
            "line 2: missing '}' to close the block opened on line 1");
}

}  // namespace
}  // namespace shardrt::planner
