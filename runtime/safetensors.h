// Reads the index of a .safetensors file (the format Hugging Face checkpoints ship in):
//
//   8 bytes   N, little-endian u64
//   N bytes   JSON: { "<name>": {"dtype": "BF16", "shape": [4096, 4096],
//                                "data_offsets": [begin, end]}, ..., "__metadata__": {...} }
//   the data  each tensor's bytes at [begin, end) from the start of the data, C order
//
// (https://huggingface.co/docs/safetensors, "Format"). Only the header is read here; every
// entry is checked against the file before any tensor is: a known dtype, a shape within
// config::kMaxTensorElements, end - begin equal to numel * element size, and end within the
// file. A file that breaks a rule is one ConfigError naming the file, the tensor and the rule.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/stored_tensor.h"

namespace shardrt {

// Safetensors' own bound on the header (its reference reader refuses larger ones).
inline constexpr std::uint64_t kMaxSafetensorsHeaderBytes = 100'000'000;

// The tensors described by `head`, the file's first bytes (at least 8 + N of them where the file
// has them), of a file of `file_size` bytes at `path`.
std::vector<StoredTensor> parseSafetensorsHeader(std::string_view head, std::uint64_t file_size,
                                                 const std::string& path);

// Opens path (a regular file), reads its header and parses it as above.
std::vector<StoredTensor> readSafetensorsIndex(const std::string& path);

}  // namespace shardrt
