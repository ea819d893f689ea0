// `run --weights`: a checkpoint (a directory of .npy files, or .safetensors files in shards)
// gives every rank exactly its part of each stored tensor, widened to fp32, and a checkpoint
// that does not fit the model is refused by name before anything is read.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "common/bfloat16.h"
#include "common/errors.h"
#include "config/plan.h"
#include "runtime/model_weights.h"
#include "runtime/npy.h"
#include "runtime/weight_files.h"
#include "tests/test_util.h"

namespace shardrt {
namespace {

namespace fs = std::filesystem;

// Two layers, the second MoE (4 experts, 2 shared); sizes that tile nothing evenly.
config::Deployment moeDeployment(int tp, int ep) {
  config::Deployment d;
  d.model.layers = 2;
  d.model.hidden = 24;
  d.model.heads = 6;
  d.model.kv_heads = 2;
  d.model.head_dim = 5;
  d.model.ffn_hidden = 38;
  d.model.norm = config::NormKind::LayerNorm;
  d.model.moe = {4, 2, 14, config::RouterScoring::Softmax, true, 2, 0.0, 2};
  d.workload.batch_size = 1;
  d.workload.seq_len = 3;
  d.strategy.tp = tp;
  d.strategy.ep = ep;
  return d;
}

// Every weight of the model, whole, with random values of its own.
std::map<std::string, std::vector<float>> randomCheckpoint(const config::ModelConfig& m) {
  std::map<std::string, std::vector<float>> out;
  unsigned seed = 100;
  for (const WeightSpec& w : shardWeightSpecs(m, ShardHoldings::whole(m))) {
    out[w.name] = testing::randomVector(static_cast<std::size_t>(w.localNumel()), seed++);
  }
  return out;
}

struct Tensor2 {
  std::string dtype;
  std::vector<std::int64_t> shape;
  std::string bytes;
};

void writeSafetensors(const fs::path& path, const std::map<std::string, Tensor2>& tensors) {
  nlohmann::json header = {{"__metadata__", {{"format", "pt"}}}};
  std::string data;
  for (const auto& [name, t] : tensors) {
    header[name] = {{"dtype", t.dtype},
                    {"shape", t.shape},
                    {"data_offsets", {data.size(), data.size() + t.bytes.size()}}};
    data += t.bytes;
  }
  const std::string text = header.dump();
  std::string prefix(8, '\0');
  for (int i = 0; i < 8; ++i) prefix[i] = static_cast<char>((text.size() >> (8 * i)) & 0xff);
  std::ofstream(path, std::ios::binary) << prefix << text << data;
}

std::string bf16Bytes(const std::vector<float>& v) {
  std::string s(v.size() * 2, '\0');
  for (std::size_t i = 0; i < v.size(); ++i) {
    const bfloat16 b = toBfloat16(v[i]);
    std::memcpy(s.data() + 2 * i, &b.bits, 2);
  }
  return s;
}

std::vector<std::int64_t> shapeOf(const WeightSpec& w) {
  return {w.global_shape.begin(), w.global_shape.end()};
}

// The part of `whole` (row-major, the spec's global shape) that the spec's slice covers.
std::vector<float> cut(const std::vector<float>& whole, const WeightSpec& s) {
  const int cols = s.global_shape.back();
  const config::Range rows = s.slice.size() == 2 ? s.slice[0] : config::Range{0, 1};
  std::vector<float> out;
  for (int r = rows.begin; r < rows.end; ++r)
    for (int c = s.slice.back().begin; c < s.slice.back().end; ++c)
      out.push_back(whole[r * cols + c]);
  return out;
}

// Every rank's slice of every weight, tp 2 x ep 2 and tp 3 (kv heads straddle ranks), equals
// its part of what was stored, with `stored` mapping a value to what the file holds.
void expectEveryShardReads(const WeightSource& files,
                           const std::map<std::string, std::vector<float>>& ckpt,
                           float (*stored)(float)) {
  int checked = 0;
  for (auto [tp, ep] : {std::pair{2, 2}, std::pair{3, 1}}) {
    const config::Deployment d = moeDeployment(tp, ep);
    const config::Plan plan = config::makePlan(d);
    for (int t = 0; t < tp; ++t) {
      for (int e = 0; e < ep; ++e) {
        for (const WeightSpec& s : shardWeightSpecs(d.model, ShardHoldings::of(plan, t, 0, e))) {
          std::vector<float> want = cut(ckpt.at(s.name), s);
          for (float& v : want) v = stored(v);
          ASSERT_EQ(files.slice(s), want) << s.name << " on tp rank " << t << ", ep rank " << e;
          ++checked;
        }
      }
    }
  }
  EXPECT_GT(checked, 100);
}

class WeightFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("shardrt_test_weights_" +
            std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  void writeNpyDirectory(const std::map<std::string, std::vector<float>>& ckpt,
                         const config::ModelConfig& m) {
    for (const WeightSpec& w : shardWeightSpecs(m, ShardHoldings::whole(m))) {
      writeNpy((dir_ / (w.name + ".npy")).string(), ckpt.at(w.name).data(),
               std::vector<long>(w.global_shape.begin(), w.global_shape.end()));
    }
  }

  // The checkpoint as BF16 in two .safetensors shards (layer 0 and the rest), plus tensors the
  // model does not use: an embedding and an int64 buffer.
  void writeSafetensorsShards(const std::map<std::string, std::vector<float>>& ckpt,
                              const config::ModelConfig& m) {
    std::map<std::string, Tensor2> first, second;
    for (const WeightSpec& w : shardWeightSpecs(m, ShardHoldings::whole(m))) {
      auto& shard = w.name.rfind("model.layers.0.", 0) == 0 ? first : second;
      shard[w.name] = {"BF16", shapeOf(w), bf16Bytes(ckpt.at(w.name))};
    }
    first["model.embed_tokens.weight"] = {"BF16", {3, 24}, bf16Bytes(testing::randomVector(72, 1))};
    second["model.position_ids"] = {"I64", {1, 2}, std::string(16, '\0')};
    writeSafetensors(dir_ / "model-00001-of-00002.safetensors", first);
    writeSafetensors(dir_ / "model-00002-of-00002.safetensors", second);
  }

  std::string errorOf(const std::string& path, const config::ModelConfig& m) {
    try {
      WeightFiles::open(path).checkHolds(m);
    } catch (const ConfigError& e) {
      return e.what();
    }
    return "";
  }

  fs::path dir_;
};

TEST_F(WeightFilesTest, NpyDirectoryGivesEachShardItsPart) {
  const config::ModelConfig m = moeDeployment(1, 1).model;
  const auto ckpt = randomCheckpoint(m);
  writeNpyDirectory(ckpt, m);
  const WeightFiles files = WeightFiles::open(dir_.string());
  files.checkHolds(m);
  expectEveryShardReads(files, ckpt, [](float v) { return v; });
}

TEST_F(WeightFilesTest, SafetensorsShardsInBf16AreWidened) {
  const config::ModelConfig m = moeDeployment(1, 1).model;
  const auto ckpt = randomCheckpoint(m);
  writeSafetensorsShards(ckpt, m);
  const WeightFiles files = WeightFiles::open(dir_.string());
  files.checkHolds(m);  // the I64 buffer is not needed, so it is no error
  expectEveryShardReads(files, ckpt, [](float v) { return toFloat(toBfloat16(v)); });
  const std::string line = files.describe(m);
  EXPECT_NE(line.find("2 .safetensors files"), std::string::npos) << line;
  EXPECT_NE(line.find("1 I64"), std::string::npos) << line;
  EXPECT_NE(line.find("; 2 not used by the model"), std::string::npos) << line;
}

std::string f32Bytes(const std::vector<float>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float));
}

// transformers v5's fused experts: mlp.experts.gate_up_proj (experts, 2 ffn, hidden), gate rows
// first, and mlp.experts.down_proj (experts, hidden, ffn). Every shard reads its experts' parts
// as from the per-expert tensors; with Mixtral's names (block_sparse_moe.experts.E.w1 ...) the
// same file is read through v5's names (mlp.gate, mlp.experts.E.gate_proj).
TEST_F(WeightFilesTest, FusedExpertsOfTransformersV5ReadAsPerExpertTensors) {
  config::ModelConfig m = moeDeployment(1, 1).model;
  const auto ckpt = randomCheckpoint(m);
  std::map<std::string, Tensor2> file;
  for (const WeightSpec& w : shardWeightSpecs(m, ShardHoldings::whole(m))) {
    if (w.name.find(".mlp.experts.") == std::string::npos) {
      file[w.name] = {"F32", shapeOf(w), f32Bytes(ckpt.at(w.name))};
    }
  }
  const int experts = m.moe.experts, f = m.moe.expert_ffn_hidden, h = m.hidden;
  for (int l = 0; l < m.layers; ++l) {
    if (!m.isMoeLayer(l)) continue;
    const std::string p = "model.layers." + std::to_string(l) + ".mlp.experts.";
    std::vector<float> gate_up, down;
    for (int e = 0; e < experts; ++e) {
      const std::string pe = p + std::to_string(e) + ".";
      for (const char* w : {"gate_proj.weight", "up_proj.weight"}) {
        const auto& v = ckpt.at(pe + w);
        gate_up.insert(gate_up.end(), v.begin(), v.end());
      }
      const auto& v = ckpt.at(pe + "down_proj.weight");
      down.insert(down.end(), v.begin(), v.end());
    }
    file[p + "gate_up_proj"] = {"F32", {experts, 2 * f, h}, f32Bytes(gate_up)};
    file[p + "down_proj"] = {"F32", {experts, h, f}, f32Bytes(down)};
  }
  writeSafetensors(dir_ / "model.safetensors", file);
  const WeightFiles files = WeightFiles::open(dir_.string());
  files.checkHolds(m);  // no per-expert name missing, the fused ones not "unused"
  expectEveryShardReads(files, ckpt, [](float v) { return v; });
  // Mixtral's names find the same tensors.
  m.weight_naming = config::WeightNaming::Mixtral;
  files.checkHolds(m);
  for (const WeightSpec& s : shardWeightSpecs(m, ShardHoldings::whole(m))) {
    if (s.name.find("block_sparse_moe.experts.1.w3") == std::string::npos) continue;
    const std::string v5 = "model.layers." + s.name.substr(13, s.name.find('.', 13) - 13) +
                           ".mlp.experts.1.up_proj.weight";
    EXPECT_EQ(files.slice(s), ckpt.at(v5)) << s.name;
  }
  // A fused tensor of another rank is refused, naming it and the layout.
  file["model.layers.1.mlp.experts.down_proj"] = {
      "F32", {experts * h * f}, f32Bytes(std::vector<float>(experts * h * f))};
  writeSafetensors(dir_ / "model.safetensors", file);
  EXPECT_NE(
      errorOf(dir_.string(), m)
          .find("model.layers.1.mlp.experts.down_proj: shape [" + std::to_string(experts * h * f) +
                "] in " + (dir_ / "model.safetensors").string() +
                "; fused experts are (experts, hidden, ffn)"),
      std::string::npos)
      << errorOf(dir_.string(), m);
}

// The Hugging Face cache keeps a snapshot as symlinks to content-addressed blobs
// (snapshots/<rev>/model-00001-of-00002.safetensors -> ../../blobs/<sha>): those are followed.
TEST_F(WeightFilesTest, ShardsBehindSymlinksAreRead) {
  const config::ModelConfig m = moeDeployment(1, 1).model;
  const auto ckpt = randomCheckpoint(m);
  writeSafetensorsShards(ckpt, m);
  const fs::path snapshot = dir_ / "snapshots" / "rev";
  fs::create_directories(snapshot);
  fs::create_directories(dir_ / "blobs");
  for (const char* shard :
       {"model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"}) {
    const fs::path blob = dir_ / "blobs" / (std::string("sha-") + shard);
    fs::rename(dir_ / shard, blob);
    fs::create_symlink(fs::path("../../blobs") / blob.filename(), snapshot / shard);
  }
  const WeightFiles files = WeightFiles::open(snapshot.string());
  files.checkHolds(m);
  expectEveryShardReads(files, ckpt, [](float v) { return toFloat(toBfloat16(v)); });
}

TEST_F(WeightFilesTest, ACheckpointThatDoesNotFitIsRefusedByName) {
  const config::ModelConfig m = moeDeployment(1, 1).model;
  const auto ckpt = randomCheckpoint(m);
  writeNpyDirectory(ckpt, m);
  const std::string up = "model.layers.0.mlp.up_proj.weight";
  fs::remove(dir_ / (up + ".npy"));
  EXPECT_NE(errorOf(dir_.string(), m).find("--weights: " + up + " is not in "), std::string::npos);

  const std::vector<float> wrong(38 * 25, 0.5f);
  writeNpy((dir_ / (up + ".npy")).string(), wrong.data(), {38, 25});
  EXPECT_NE(errorOf(dir_.string(), m).find(up + ": shape [38, 25] in "), std::string::npos);
  EXPECT_NE(errorOf(dir_.string(), m).find("the model needs [38, 24]"), std::string::npos);

  // A weight the model needs, stored as int64.
  fs::remove_all(dir_);
  fs::create_directories(dir_);
  std::map<std::string, Tensor2> tensors;
  for (const WeightSpec& w : shardWeightSpecs(m, ShardHoldings::whole(m))) {
    tensors[w.name] = {"F32", shapeOf(w), std::string(w.localNumel() * 4, '\0')};
  }
  tensors["model.norm.weight"] = {"I64", {24}, std::string(24 * 8, '\0')};
  writeSafetensors(dir_ / "a.safetensors", tensors);
  EXPECT_NE(errorOf(dir_.string(), m).find("model.norm.weight: dtype I64 in "), std::string::npos);

  // The same name in two shards.
  writeSafetensors(dir_ / "b.safetensors",
                   {{"model.norm.weight", {"F32", {24}, std::string(96, '\0')}}});
  EXPECT_NE(errorOf(dir_.string(), m).find("model.norm.weight is in both "), std::string::npos);
}

TEST_F(WeightFilesTest, FingerprintFollowsTheValuesNotThePath) {
  const config::ModelConfig m = moeDeployment(1, 1).model;
  auto ckpt = randomCheckpoint(m);
  writeNpyDirectory(ckpt, m);
  const std::uint64_t original = WeightFiles::open(dir_.string()).fingerprint(m);

  // A copy elsewhere (a node-local copy) agrees: the fingerprint follows the values, not the
  // path.
  const fs::path copy = dir_.string() + "_copy";
  fs::remove_all(copy);
  fs::copy(dir_, copy);
  EXPECT_EQ(WeightFiles::open(copy.string()).fingerprint(m), original);
  fs::remove_all(copy);

  // One value changed in each sampled place of one weight: the first, the middle, the last.
  const std::string name = "model.layers.1.mlp.experts.2.down_proj.weight";
  std::vector<float>& w = ckpt.at(name);
  for (std::size_t at : {std::size_t{0}, w.size() / 2, w.size() - 1}) {
    const float kept = w[at];
    w[at] += 0.25f;
    writeNpy((dir_ / (name + ".npy")).string(), w.data(), {24, 14});
    EXPECT_NE(WeightFiles::open(dir_.string()).fingerprint(m), original) << "element " << at;
    w[at] = kept;
  }
  writeNpy((dir_ / (name + ".npy")).string(), w.data(), {24, 14});
  EXPECT_EQ(WeightFiles::open(dir_.string()).fingerprint(m), original);
}

TEST_F(WeightFilesTest, APathThatIsNoCheckpointIsRefused) {
  const config::ModelConfig m = moeDeployment(1, 1).model;
  EXPECT_NE(errorOf(dir_.string(), m).find("holds no .safetensors or .npy files"),
            std::string::npos);
  std::ofstream(dir_ / "model.bin") << "pickle";
  EXPECT_NE(errorOf((dir_ / "model.bin").string(), m).find("a file must be .safetensors"),
            std::string::npos);
  EXPECT_NE(errorOf((dir_ / "nothing").string(), m).find("is not a file or directory"),
            std::string::npos);
  std::ofstream(dir_ / "broken.safetensors") << "\x05";
  EXPECT_NE(errorOf(dir_.string(), m).find("too short to be a .safetensors file"),
            std::string::npos);
}

}  // namespace
}  // namespace shardrt
