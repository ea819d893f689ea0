// The calibrated hardware profile: its file round-trips, a malformed file is refused naming
// the file and the field, and the planner's look-ups interpolate between measured samples.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "common/errors.h"
#include "planner/hardware_profile.h"

namespace shardrt::planner {
namespace {

using nlohmann::json;

// Random rates and times, so that a field read into the wrong member shows.
HardwareProfile randomProfile(unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(0.5, 2.0);
  HardwareProfile p;
  p.machine = "host-" + std::to_string(seed);
  p.date = "2026-11-24T10:00:00Z";
  p.backend = "cuda";
  p.ranks = 3;
  for (long s : {17L, 100L, 333L}) p.gemm_fp32.push_back({s, s + 5, s * 2 + 1, 1e-4 * u(rng)});
  p.gemm_bf16.push_back({64, 96, 127, 3e-6 * u(rng)});
  for (long seq : {64L, 257L}) p.attention_fp32.push_back({2, seq, 8, 32, 1e-4 * u(rng)});
  p.elementwise_fp32 = {{"rmsnorm", 1e10 * u(rng)}, {"rope", 2e9 * u(rng)}};  // bf16: none
  p.memory_bytes_per_second = 1e10 * u(rng);
  p.op_overhead_seconds = 1e-6 * u(rng);
  for (const char* op : {"all_reduce", "send_recv"}) {
    for (double bytes : {8.0, 4096.0, 1048576.0}) {
      p.collectives.push_back({op, 3, bytes, 1e-5 * u(rng) * (1 + bytes / 1e5)});
    }
  }
  return p;
}

std::string tempPath(const std::string& name) {
  return (std::filesystem::temp_directory_path() /
          ("shardrt_profile_" + std::to_string(::getpid()) + "_" + name))
      .string();
}

TEST(HardwareProfile, RoundTripsThroughItsFile) {
  const HardwareProfile p = randomProfile(11);
  const std::string path = tempPath("roundtrip.json");
  writeHardwareProfile(p, path);
  const HardwareProfile q = loadHardwareProfile(path);
  EXPECT_EQ(q.machine, p.machine);
  EXPECT_EQ(q.date, p.date);
  EXPECT_EQ(q.backend, p.backend);
  EXPECT_EQ(q.ranks, p.ranks);
  ASSERT_EQ(q.gemm_fp32.size(), p.gemm_fp32.size());
  for (std::size_t i = 0; i < p.gemm_fp32.size(); ++i) {
    EXPECT_EQ(q.gemm_fp32[i].m, p.gemm_fp32[i].m);
    EXPECT_EQ(q.gemm_fp32[i].n, p.gemm_fp32[i].n);
    EXPECT_EQ(q.gemm_fp32[i].k, p.gemm_fp32[i].k);
    EXPECT_DOUBLE_EQ(q.gemm_fp32[i].seconds, p.gemm_fp32[i].seconds);
  }
  ASSERT_EQ(q.gemm_bf16.size(), 1u);
  EXPECT_DOUBLE_EQ(q.gemm_bf16[0].seconds, p.gemm_bf16[0].seconds);
  ASSERT_EQ(q.attention_fp32.size(), 2u);
  EXPECT_EQ(q.attention_fp32[1].seq, 257);
  EXPECT_EQ(q.attention_fp32[1].heads, 8);
  EXPECT_DOUBLE_EQ(q.attention_fp32[1].seconds, p.attention_fp32[1].seconds);
  EXPECT_TRUE(q.attention_bf16.empty());
  EXPECT_EQ(q.elementwise_fp32, p.elementwise_fp32);
  EXPECT_TRUE(q.elementwise_bf16.empty());
  EXPECT_DOUBLE_EQ(q.memory_bytes_per_second, p.memory_bytes_per_second);
  EXPECT_DOUBLE_EQ(q.op_overhead_seconds, p.op_overhead_seconds);
  ASSERT_EQ(q.collectives.size(), p.collectives.size());
  for (std::size_t i = 0; i < p.collectives.size(); ++i) {
    EXPECT_EQ(q.collectives[i].op, p.collectives[i].op);
    EXPECT_EQ(q.collectives[i].ranks, p.collectives[i].ranks);
    EXPECT_DOUBLE_EQ(q.collectives[i].bytes, p.collectives[i].bytes);
    EXPECT_DOUBLE_EQ(q.collectives[i].seconds, p.collectives[i].seconds);
  }
  std::filesystem::remove(path);
}

// The error a profile written as `text` raises; fails the test when there is none.
std::string loadError(const std::string& text, const std::string& name) {
  const std::string path = tempPath(name);
  std::ofstream(path) << text;
  std::string what;
  try {
    loadHardwareProfile(path);
    ADD_FAILURE() << "accepted: " << text;
  } catch (const ConfigError& e) {
    what = e.what();
    EXPECT_EQ(what.rfind(path + ": ", 0), 0u) << "does not name the file: " << what;
    EXPECT_EQ(what.find('\n'), std::string::npos) << "not one line: " << what;
  }
  std::filesystem::remove(path);
  return what;
}

json validJson() {
  const std::string path = tempPath("valid.json");
  writeHardwareProfile(randomProfile(5), path);
  std::ifstream in(path);
  json doc = json::parse(in);
  std::filesystem::remove(path);
  return doc;
}

TEST(HardwareProfile, RefusesAWrongType) {
  json doc = validJson();
  doc["gemm_fp32"][1]["m"] = "100";
  EXPECT_NE(loadError(doc.dump(), "type.json").find("gemm_fp32[1].m: must be an integer"),
            std::string::npos);
  doc = validJson();
  doc["collectives"] = 3;
  EXPECT_NE(loadError(doc.dump(), "type2.json").find("collectives: must be a list"),
            std::string::npos);
}

TEST(HardwareProfile, RefusesAMissingField) {
  json doc = validJson();
  doc.erase("memory_bytes_per_second");
  EXPECT_NE(loadError(doc.dump(), "missing.json")
                .find("memory_bytes_per_second: required field is missing"),
            std::string::npos);
  doc = validJson();
  doc["collectives"][2].erase("bytes");
  EXPECT_NE(loadError(doc.dump(), "missing2.json").find("collectives[2].bytes: required"),
            std::string::npos);
}

TEST(HardwareProfile, RefusesNegativeSecondsAndUnknownFields) {
  json doc = validJson();
  doc["gemm_fp32"][0]["seconds"] = -1e-3;
  EXPECT_NE(loadError(doc.dump(), "negative.json").find("gemm_fp32[0].seconds: must be a positive"),
            std::string::npos);
  doc = validJson();
  doc["elementwise_fp32"]["rope"] = -5;
  EXPECT_NE(loadError(doc.dump(), "negative2.json").find("elementwise_fp32.rope: must be a positive"),
            std::string::npos);
  doc = validJson();
  doc["elementwise_fp32"]["softmax"] = 1e9;  // an op the planner does not price
  EXPECT_NE(loadError(doc.dump(), "unknown-op.json").find("elementwise_fp32.softmax: unknown field"),
            std::string::npos);
  doc = validJson();
  doc["attention_fp32"][0]["heads"] = 0;
  EXPECT_NE(loadError(doc.dump(), "heads.json").find("attention_fp32[0].heads: must be positive"),
            std::string::npos);
  doc = validJson();
  doc["collectives"][0]["op"] = "all_reduse";
  EXPECT_NE(loadError(doc.dump(), "op.json").find("collectives[0].op: must be one of"),
            std::string::npos);
  doc = validJson();
  doc["op_overhead_second"] = 1e-6;
  EXPECT_NE(loadError(doc.dump(), "unknown.json").find("op_overhead_second: unknown field"),
            std::string::npos);
}

TEST(HardwareProfile, RefusesTruncatedJsonAndAMissingFile) {
  const std::string text = validJson().dump(2);
  EXPECT_NE(loadError(text.substr(0, text.size() / 2), "truncated.json").find("malformed JSON"),
            std::string::npos);
  EXPECT_THROW(loadHardwareProfile(tempPath("no-such-file.json")), ConfigError);
}

HardwareProfile twoGemms() {
  HardwareProfile p;
  p.gemm_fp32 = {{100, 100, 100, 2e6 / 1e9},      // 2e6 FLOPs at 1 GFLOP/s
                 {1000, 1000, 1000, 2e9 / 8e9}};  // 2e9 FLOPs at 8 GFLOP/s
  return p;
}

TEST(HardwareProfile, GemmBetweenTwoSamplesGetsARateBetweenTheirs) {
  const HardwareProfile p = twoGemms();
  // 2e6 * 1000^(1/2) FLOPs: halfway in log(FLOPs), so halfway in rate: 4.5 GFLOP/s.
  const double m = 100 * std::sqrt(1000.0), flops = 2.0 * m * 100 * 100;
  const double s = profiledGemmSeconds(p, DType::F32, m, 100, 100);
  EXPECT_NEAR(flops / s, 4.5e9, 1e3);
  // A shape that is not a sample, of some FLOPs between them, in any dimension order.
  for (double f : {3e6, 1e7, 2.5e8, 1.9e9}) {
    const double rate = f / profiledGemmSeconds(p, DType::F32, f / 2 / 77 / 91, 77, 91);
    EXPECT_GT(rate, 1e9);
    EXPECT_LT(rate, 8e9);
  }
  // At a sample, its own time.
  EXPECT_NEAR(profiledGemmSeconds(p, DType::F32, 1000, 1000, 1000), 0.25, 1e-12);
}

TEST(HardwareProfile, GemmBeyondTheSamplesIsClampedToTheEndRates) {
  const HardwareProfile p = twoGemms();
  EXPECT_NEAR(2.0 * 10 * 10 * 10 / profiledGemmSeconds(p, DType::F32, 10, 10, 10), 1e9, 1.0);
  EXPECT_NEAR(2.0 * 4e4 * 4e4 * 4e4 / profiledGemmSeconds(p, DType::F32, 4e4, 4e4, 4e4), 8e9, 10.0);
  EXPECT_EQ(profiledGemmSeconds(p, DType::BF16, 100, 100, 100), 0.0);  // no bf16 sample
}

TEST(HardwareProfile, CollectiveIsLinearInBytesBetweenSamples) {
  HardwareProfile p;
  p.collectives = {{"all_reduce", 4, 1000, 10e-6},
                   {"all_reduce", 4, 9000, 50e-6},
                   {"all_reduce", 2, 1000, 1.0},  // another group size: must not be used
                   {"all_gather", 4, 1000, 2.0}};
  for (double b : {1000.0, 3000.0, 5000.0, 8999.0}) {
    EXPECT_NEAR(profiledCollectiveSeconds(p, "all_reduce", 4, b), 10e-6 + (b - 1000) * 5e-9, 1e-15);
  }
  // Beyond the largest: the last segment's line; below the smallest: the smallest's time.
  EXPECT_NEAR(profiledCollectiveSeconds(p, "all_reduce", 4, 17000), 90e-6, 1e-15);
  EXPECT_NEAR(profiledCollectiveSeconds(p, "all_reduce", 4, 10), 10e-6, 1e-15);
  EXPECT_LT(profiledCollectiveSeconds(p, "all_to_all", 4, 1000), 0.0);
  EXPECT_LT(profiledCollectiveSeconds(p, "all_reduce", 8, 1000), 0.0);
}

// Attention rates interpolate in log(FLOPs) between the measured shapes, like GEMMs; an
// elementwise op takes its own rate, and an op not measured gives 0 (the caller's fallback).
TEST(HardwareProfile, AttentionAndElementwiseUseTheirOwnRates) {
  HardwareProfile p;
  p.attention_fp32 = {{1, 63, 1, 16, 0}, {1, 1023, 1, 16, 0}};
  p.attention_fp32[0].seconds = p.attention_fp32[0].flops() / 1e9;  // 1 GFLOP/s
  p.attention_fp32[1].seconds = p.attention_fp32[1].flops() / 4e9;  // 4 GFLOP/s
  const double lo = p.attention_fp32[0].flops(), hi = p.attention_fp32[1].flops();
  const double mid = std::sqrt(lo * hi);  // halfway in log(FLOPs): 2.5 GFLOP/s
  EXPECT_NEAR(mid / profiledAttentionSeconds(p, DType::F32, mid), 2.5e9, 1e3);
  EXPECT_NEAR(hi * 10 / profiledAttentionSeconds(p, DType::F32, hi * 10), 4e9, 1e3);
  EXPECT_EQ(profiledAttentionSeconds(p, DType::BF16, mid), 0.0);
  p.elementwise_fp32 = {{"swiglu", 3e9}};
  EXPECT_DOUBLE_EQ(profiledElementwiseSeconds(p, DType::F32, "swiglu", 6e6), 2e-3);
  EXPECT_EQ(profiledElementwiseSeconds(p, DType::F32, "rope", 6e6), 0.0);
}

}  // namespace
}  // namespace shardrt::planner
