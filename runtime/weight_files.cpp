#include "runtime/weight_files.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <string_view>

#include "comm/progress_board.h"
#include "common/atomic_directory.h"
#include "common/errors.h"
#include "runtime/model_rope.h"
#include "runtime/npy.h"
#include "runtime/safetensors.h"

namespace shardrt {
namespace {

namespace fs = std::filesystem;

// A directory with more files than this is not a checkpoint (DeepSeek-V3 ships in 163).
constexpr std::size_t kMaxWeightFiles = 100000;

std::string shapeText(const std::vector<std::int64_t>& shape) {
  std::string s = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

const char* fileTypeName(fs::file_type type) {
  switch (type) {
    case fs::file_type::directory:
      return "a directory";
    case fs::file_type::fifo:
      return "a FIFO";
    case fs::file_type::socket:
      return "a socket";
    case fs::file_type::block:
      return "a block device";
    case fs::file_type::character:
      return "a character device";
    case fs::file_type::not_found:
      return "a broken link";
    default:
      return "not a plain file";
  }
}

// The directory's regular files with this extension, sorted so that every rank indexes (and
// reports) them in the same order.
std::vector<std::string> filesWithExtension(const std::string& dir, const std::string& ext) {
  std::vector<std::string> out;
  std::error_code ec;
  std::size_t seen = 0;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (++seen > kMaxWeightFiles) {
      throw ConfigError("--weights",
                        dir + " holds more than " + std::to_string(kMaxWeightFiles) + " entries");
    }
    if (it->path().extension() != ext) continue;
    // A FIFO would block the reader and a directory was skipped, then reported as a missing
    // weight ("is not in DIR"): a file with the extension that is no regular file is refused.
    std::error_code kind;
    const fs::file_type type = it->status(kind).type();
    if (type != fs::file_type::regular) {
      throw ConfigError(
          "--weights", it->path().string() + " is not a regular file (" + fileTypeName(type) + ")");
    }
    out.push_back(it->path().string());
  }
  if (ec) throw ConfigError("--weights", dir + ": cannot list: " + ec.message());
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

namespace {

bool endsWith(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

// transformers v5 keeps an MoE layer's experts fused in memory, and a checkpoint saved from
// that state has them so: mlp.experts.gate_up_proj (experts, 2 * ffn, hidden), each expert's
// gate rows then its up rows (MixtralExperts: linear(x, gate_up_proj[e]).chunk(2)), and
// mlp.experts.down_proj (experts, hidden, ffn). Each expert's block is contiguous in the file,
// so it is indexed as the per-expert tensors the model names (mlp.experts.E.gate_proj.weight,
// ...) at their offsets, and read as those are: a rank still reads only its experts.
void splitFusedExperts(std::map<std::string, StoredTensor>& tensors) {
  std::vector<std::string> fused;
  for (const auto& [name, t] : tensors) {
    for (const char* kind : {"gate_up_proj", "down_proj"}) {
      const std::string tail = std::string(".mlp.experts.") + kind;
      if (endsWith(name, tail) || endsWith(name, tail + ".weight")) fused.push_back(name);
    }
  }
  for (const std::string& name : fused) {
    const StoredTensor t = tensors.at(name);
    const bool gate_up = name.find(".gate_up_proj") != std::string::npos;
    if (t.shape.size() != 3 || (gate_up && t.shape[1] % 2 != 0)) {
      throw ConfigError("--weights", name + ": shape " + shapeText(t.shape) + " in " + t.path +
                                         "; fused experts are (experts, " +
                                         (gate_up ? "2 * ffn, hidden)" : "hidden, ffn)"));
    }
    const std::string prefix = name.substr(0, name.find(".mlp.experts.") + 13);  // ...experts.
    const std::int64_t rows = gate_up ? t.shape[1] / 2 : t.shape[1], cols = t.shape[2];
    const std::uint64_t block = static_cast<std::uint64_t>(rows * cols) * t.element_bytes;
    for (std::int64_t e = 0; e < t.shape[0]; ++e) {
      const std::uint64_t expert_at =
          t.offset + static_cast<std::uint64_t>(e) * block * (gate_up ? 2 : 1);
      const std::vector<std::pair<const char*, std::uint64_t>> parts =
          gate_up
              ? std::vector<std::pair<const char*, std::uint64_t>>{{"gate_proj", expert_at},
                                                                   {"up_proj", expert_at + block}}
              : std::vector<std::pair<const char*, std::uint64_t>>{{"down_proj", expert_at}};
      for (const auto& [part, offset] : parts) {
        StoredTensor one = t;
        one.name = prefix + std::to_string(e) + "." + part + ".weight";
        one.shape = {rows, cols};
        one.offset = offset;
        one.bytes = block;
        const auto [it, inserted] = tensors.emplace(one.name, one);
        if (!inserted) {
          throw ConfigError("--weights", one.name + " is both in " + it->second.path +
                                             " and in the fused " + name);
        }
      }
    }
    tensors.erase(name);
  }
}

// Mixtral's names for an MoE layer, as transformers v5 names them (mlp.gate, mlp.experts.E.
// gate_proj ...): a v5-native Mixtral checkpoint says these.
std::string llamaNameOfMixtral(const std::string& name) {
  const std::string block = ".block_sparse_moe.";
  const std::size_t at = name.find(block);
  if (at == std::string::npos) return "";
  std::string out = name.substr(0, at) + ".mlp." + name.substr(at + block.size());
  for (const auto& [w, proj] :
       {std::pair<const char*, const char*>{".w1.weight", ".gate_proj.weight"},
        {".w3.weight", ".up_proj.weight"},
        {".w2.weight", ".down_proj.weight"}}) {
    if (endsWith(out, w)) out = out.substr(0, out.size() - std::string(w).size()) + proj;
  }
  return out;
}

}  // namespace

const StoredTensor* WeightFiles::find(const std::string& name) const {
  auto it = tensors_.find(name);
  if (it == tensors_.end()) {
    const std::string other = llamaNameOfMixtral(name);
    if (!other.empty()) it = tensors_.find(other);
  }
  return it == tensors_.end() ? nullptr : &it->second;
}

std::vector<WeightSpec> WeightFiles::modelSpecs(const config::ModelConfig& model) const {
  return shardWeightSpecs(model, ShardHoldings::whole(model, token_level_));
}

WeightFiles WeightFiles::open(const std::string& path, bool token_level) {
  WeightFiles w;
  w.path_ = path;
  w.token_level_ = token_level;
  std::error_code ec;
  std::vector<std::string> files;
  if (fs::is_directory(path, ec)) {
    // A directory shardrt wrote (a --dump) must hold exactly that run's files: a file from
    // another run, or one changed since, would make a checkpoint of two models.
    const std::string mixed = directoryManifestProblem(path);
    if (!mixed.empty()) throw ConfigError("--weights", mixed);
    files = filesWithExtension(path, ".safetensors");
    w.format_ = ".safetensors";
    if (files.empty()) {
      files = filesWithExtension(path, ".npy");
      w.format_ = ".npy";
    }
    if (files.empty()) {
      throw ConfigError("--weights", path + " holds no .safetensors or .npy files");
    }
  } else if (fs::is_regular_file(path, ec)) {
    if (fs::path(path).extension() != ".safetensors") {
      throw ConfigError("--weights", path +
                                         ": a file must be .safetensors (or give a "
                                         "directory of .npy files)");
    }
    files = {path};
    w.format_ = ".safetensors";
  } else {
    throw ConfigError("--weights", path + " is not a file or directory");
  }

  w.files_ = static_cast<int>(files.size());
  for (const std::string& file : files) {
    std::vector<StoredTensor> found;
    if (w.format_ == ".npy") {
      found.push_back(readNpyIndex(file, fs::path(file).stem().string()));
    } else {
      found = readSafetensorsIndex(file);
    }
    for (StoredTensor& t : found) {
      const auto [it, inserted] = w.tensors_.emplace(t.name, t);
      if (!inserted) {
        throw ConfigError("--weights",
                          t.name + " is in both " + it->second.path + " and " + t.path);
      }
    }
  }
  splitFusedExperts(w.tensors_);
  return w;
}

void WeightFiles::checkHolds(const config::ModelConfig& model) const {
  for (const WeightSpec& spec : modelSpecs(model)) {
    const StoredTensor* found = find(spec.name);
    if (!found) {
      throw ConfigError("--weights", spec.name + " is not in " + path_ +
                                         " (docs/config.md, Weights and their names)");
    }
    const StoredTensor& t = *found;
    const std::vector<std::int64_t> want(spec.global_shape.begin(), spec.global_shape.end());
    if (t.shape != want) {
      throw ConfigError("--weights", spec.name + ": shape " + shapeText(t.shape) + " in " + t.path +
                                         "; the model needs " + shapeText(want));
    }
    if (t.dtype == StoredDType::Other) {
      throw ConfigError("--weights", spec.name + ": dtype " + t.dtype_name + " in " + t.path +
                                         "; weights are read from F32, F16 or BF16");
    }
  }
  refuseUnusedLayerTensors(model);
}

namespace {

// What a tensor under model.layers would do in the model its checkpoint came from: the part of
// the refusal that tells the user which family feature shardrt does not compute.
std::string whatItWouldDo(const std::string& name) {
  const auto has = [&](const char* part) { return name.find(part) != std::string::npos; };
  if (has("_proj.bias")) return "a bias added to that projection's output";
  if (has("q_norm.") || has("k_norm.")) return "a per-head norm of the queries or keys";
  if (has("e_score_correction_bias")) return "a bias on the router's scores when choosing experts";
  if (has("shared_expert_gate")) return "a gate that scales the shared expert's output";
  if (has("shared_expert"))
    return "a shared expert (Qwen-MoE's form, which this model's config lacks)";
  if (has("scale")) return "a quantisation scale the stored values must be multiplied by";
  return "a weight this model's config does not compute with";
}

}  // namespace

namespace {

// The buffer must hold the model's frequencies, i < d/2, as the rope kernels compute them (in
// double; theta^(-2i/d), or Llama 3.1's scaled ones when the config scales); within what its
// dtype can store.
void refuseOtherRotaryFrequencies(const StoredTensor& t, const config::ModelConfig& model) {
  const auto refuse = [&](const std::string& why) {
    throw ConfigError("--weights", t.name + " in " + t.path + ": " + why);
  };
  if (!model.rope) refuse("rotary frequencies, but this model's config has rope off");
  const kernels::RopeFrequencies rope = ropeFrequenciesOf(model);
  const int rotated = rope.rotatedDims(model.head_dim);
  const int half = rotated / 2;
  if (t.shape != std::vector<std::int64_t>{half} || t.dtype == StoredDType::Other) {
    refuse("shape " + shapeText(t.shape) + " " + t.dtype_name + "; rotary frequencies for " +
           std::to_string(rotated) + " rotated dimensions are [" + std::to_string(half) +
           "] of F32, F16 or BF16");
  }
  const std::vector<float> stored = readStoredSlice(t, {config::Range{0, half}});
  const double tolerance = t.dtype == StoredDType::F32 ? 1e-6 : 1e-2;  // 16-bit: ~3 digits
  for (int i = 0; i < half; ++i) {
    const double want = kernels::ropeFrequency(rope, i, rotated);
    if (std::abs(stored[i] - want) > tolerance * want) {
      refuse("holds rotary frequencies other than rope_theta " + std::to_string(model.rope_theta) +
             (model.rope_scaling.yarn() ? " with its yarn scaling"
              : model.rope_scaling.on() ? " with its llama3 scaling"
                                        : "") +
             " gives (element " + std::to_string(i) + ": " + std::to_string(stored[i]) +
             ", expected " + std::to_string(want) +
             "): a RoPE scaling this model's config does not have");
    }
  }
}

}  // namespace

void WeightFiles::refuseUnusedLayerTensors(const config::ModelConfig& model) const {
  std::set<std::string> used;
  for (const WeightSpec& spec : modelSpecs(model)) {
    if (const StoredTensor* t = find(spec.name)) used.insert(t->name);
  }
  const auto& source = model.source;
  for (const auto& [name, t] : tensors_) {
    if (name.rfind("model.layers.", 0) != 0 || used.count(name)) continue;
    // The checkpoint's multi-token-prediction layers (config/deployment.h, ModelSource): the
    // forward never runs them, and transformers does not load them either.
    const long layer = std::strtol(name.c_str() + std::strlen("model.layers."), nullptr, 10);
    if (source.mtp_layers > 0 && layer >= source.config_layers &&
        layer < source.config_layers + source.mtp_layers) {
      continue;
    }
    // Llama's rotary_emb.inv_freq buffer: what rope_theta gives, or a RoPE scaling (Llama 3.1
    // stores its scaled frequencies here) that this model would not apply: checked, not skipped.
    if (endsWith(name, ".rotary_emb.inv_freq")) {
      refuseOtherRotaryFrequencies(t, model);
      continue;
    }
    throw ConfigError(
        "--weights", name + " in " + t.path + " is not used by this model: " + whatItWouldDo(name) +
                         "; running without it would compute another model than "
                         "the checkpoint's (docs/config.md, Weights and their names)");
  }
}

namespace {

// NaN or Inf in a weight makes every output NaN; without this the run exited 0 with an all-NaN
// result unless --check-numerics was given (issue 15, item 5). One pass over what was read.
void refuseNonFinite(const StoredTensor& t, const std::vector<config::Range>& slice,
                     const std::vector<float>& values) {
  const auto bad =
      std::find_if(values.begin(), values.end(), [](float v) { return !std::isfinite(v); });
  if (bad == values.end()) return;
  const long k = bad - values.begin();
  const long width = slice.back().size();
  std::string at = std::to_string(slice.back().begin + k % width);
  if (slice.size() == 2) at = std::to_string(slice[0].begin + k / width) + ", " + at;
  throw BadWeightValuesError(t.path, t.name + ": holds " +
                                         (std::isnan(*bad) ? "NaN"
                                          : *bad < 0       ? "-Inf"
                                                           : "Inf") +
                                         " at [" + at +
                                         "] (the first in this rank's slice; weights must be "
                                         "finite)");
}

}  // namespace

std::vector<float> WeightFiles::slice(const WeightSpec& spec) const {
  const StoredTensor* t = find(spec.name);
  if (!t) throw ConfigError("--weights", spec.name + " is not in " + path_);
  comm::ProgressBoard::tick();  // a rank reading more than the others is working, not stuck
  const auto start = std::chrono::steady_clock::now();
  std::vector<float> values = readStoredSlice(*t, spec.slice);
  seconds_reading_ +=
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  bytes_read_ += values.size() * static_cast<std::uint64_t>(t->element_bytes);
  refuseNonFinite(*t, spec.slice, values);
  return values;
}

std::uint64_t WeightFiles::fingerprint(const config::ModelConfig& model) const {
  std::uint64_t h = 1469598103934665603ull;
  auto mix = [&h](const void* data, std::size_t n) {
    const auto* p = static_cast<const unsigned char*>(data);
    for (std::size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 1099511628211ull;
  };
  constexpr std::uint64_t kSample = 64;
  for (const WeightSpec& spec : modelSpecs(model)) {
    const StoredTensor& t = *find(spec.name);  // checkHolds found every one
    mix(t.name.data(), t.name.size() + 1);
    mix(t.dtype_name.data(), t.dtype_name.size() + 1);
    mix(t.shape.data(), t.shape.size() * sizeof(std::int64_t));
    std::ifstream in(t.path, std::ios::binary);
    for (std::uint64_t at : {std::uint64_t{0}, t.bytes / 2, t.bytes}) {
      const std::uint64_t begin = std::min(at, t.bytes - std::min(t.bytes, kSample));
      const std::uint64_t n = std::min(kSample, t.bytes);
      char sample[kSample];
      in.seekg(static_cast<std::streamoff>(t.offset + begin));
      if (!in.read(sample, static_cast<std::streamsize>(n))) {
        throw ConfigError(t.path, t.name +
                                      ": the file ends inside the tensor's data "
                                      "(truncated or changed since it was opened)");
      }
      mix(sample, n);
    }
  }
  return h;
}

std::string WeightFiles::describe(const config::ModelConfig& model) const {
  std::map<std::string, int> by_dtype;
  for (const auto& [name, t] : tensors_) ++by_dtype[t.dtype_name];
  std::string dtypes;
  for (const auto& [name, count] : by_dtype) {
    dtypes += (dtypes.empty() ? "" : ", ") + std::to_string(count) + " " + name;
  }
  std::set<std::string> used;
  for (const WeightSpec& spec : modelSpecs(model)) {
    if (const StoredTensor* t = find(spec.name)) used.insert(t->name);
  }
  // The ones skipped are named (the first five): outside the layers (embeddings, lm_head) or
  // rotary buffers, none of which changes what the layers compute.
  std::string skipped;
  int listed = 0;
  for (const auto& [name, t] : tensors_) {
    if (used.count(name) || ++listed > 5) continue;
    skipped += (skipped.empty() ? ": " : ", ") + name;
  }
  if (listed > 5) skipped += ", ...";
  return path_ + " (" + std::to_string(files_) + " " + format_ + " file" +
         (files_ == 1 ? "" : "s") + ", " + std::to_string(tensors_.size()) + " tensors: " + dtypes +
         "; " + std::to_string(tensors_.size() - used.size()) + " not used by the model" + skipped +
         ")";
}

}  // namespace shardrt
