// `shardrt run --weights PATH`: the model's weights read from a checkpoint instead of generated
// from the seed. PATH is
//   - one .safetensors file,
//   - a directory of .safetensors files (a Hugging Face checkpoint in shards: every
//     *.safetensors in it is indexed; model.safetensors.index.json is not needed), or
//   - a directory of .npy files named <global weight name>.npy (what `run --dump` writes).
// Weights are found by their global names (runtime/model_weights.h: Hugging Face Llama and
// Qwen-MoE names) and may be stored as F32, F16 or BF16; other tensors in the files
// (embeddings, lm_head, buffers) are indexed and left unread. Opening reads headers only; each
// rank then reads just the bytes of its own slices.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "config/deployment.h"
#include "runtime/model_weights.h"
#include "runtime/stored_tensor.h"

namespace shardrt {

class WeightFiles final : public WeightSource {
 public:
  // Indexes the file or directory; ConfigError on any file whose header breaks its format's
  // rules (runtime/safetensors.h, runtime/npy.h), or a name found in two files.
  // token_level: the model's embedding and LM head are read too (generate), and checked.
  static WeightFiles open(const std::string& path, bool token_level = false);

  // Every weight of the model must be there, with its global shape and a dtype shardrt reads:
  // ConfigError("--weights", ...) naming the first that is not, e.g.
  //   --weights: model.layers.1.mlp.up_proj.weight: shape [688, 128] in ckpt/model.safetensors;
  //   the model needs [688, 256]
  // It also refuses any tensor under model.layers. that the model does not use (an attention
  // bias, q_norm/k_norm, a router's e_score_correction_bias, a gated shared expert, a layer past
  // model.layers, a quantisation scale), naming it and what it would have done: running
  // without it would compute another model than the checkpoint's (issue 15, item 4). Only
  // rotary_emb.inv_freq buffers pass there, and only when they hold the frequencies rope_theta
  // gives (a RoPE scaling stored there is refused).
  void checkHolds(const config::ModelConfig& model) const;

  std::vector<float> slice(const WeightSpec& spec) const override;

  // Bytes of tensor data slice() has read on this rank (in the files' dtypes), and the time
  // it spent reading and widening them.
  std::uint64_t bytesRead() const { return bytes_read_; }
  double secondsReading() const { return seconds_reading_; }

  // A 64-bit FNV-1a over each of the model's weights: its name, dtype and shape, and 64 bytes
  // of its data at the start, the middle and the end. Ranks compare it before the first
  // forward pass, so that ranks given different checkpoints (two fine-tunes of one model at
  // the same path on different nodes) refuse to start instead of computing a silent mix. It
  // samples the data: hashing all of it would read the whole checkpoint on every rank.
  std::uint64_t fingerprint(const config::ModelConfig& model) const;

  // One line for the run summary (after checkHolds passed): what was indexed, in which dtypes,
  // and what the model leaves unread, named (the first five), e.g. "ckpt/ (2 .safetensors
  // files, 37 tensors: 35 BF16, 2 I64; 2 not used by the model: lm_head.weight,
  // model.embed_tokens.weight)".
  std::string describe(const config::ModelConfig& model) const;

 private:
  void refuseUnusedLayerTensors(const config::ModelConfig& model) const;
  // The stored tensor a model's name reads: the name itself, or for Mixtral's names
  // (block_sparse_moe...) the names transformers v5 gives the same tensors; nullptr if neither.
  const StoredTensor* find(const std::string& name) const;

  // The model's whole set of weights, with the token level when open() was asked for it.
  std::vector<WeightSpec> modelSpecs(const config::ModelConfig& model) const;

  std::string path_;
  bool token_level_ = false;
  int files_ = 0;
  std::string format_;  // ".safetensors" or ".npy"
  std::map<std::string, StoredTensor> tensors_;
  // slice() is const: reading changes no index, only these counts.
  mutable std::uint64_t bytes_read_ = 0;
  mutable double seconds_reading_ = 0.0;
};

}  // namespace shardrt
