// .npy files (NumPy format 1.0 to 3.0: magic, version, header length, a Python dict literal,
// then the raw data): writeNpy for --dump, the reader for --weights and the tests.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/stored_tensor.h"

namespace shardrt {

void writeNpy(const std::string& path, const float* data, const std::vector<long>& shape);

// NumPy writes headers of a few hundred bytes; anything longer than this is not one of ours.
inline constexpr std::uint64_t kMaxNpyHeaderBytes = 65536;

// The tensor described by `head`, the file's first bytes (the whole header where the file has
// it), of a file of `file_size` bytes at `path`, named `name`. Reads C-order, little-endian
// float32 ('<f4') and float16 ('<f2'); the header must be the dict NumPy writes, with exactly
// descr, fortran_order and shape. Anything else (another dtype, Fortran order, a header or
// data that the file does not hold, a shape over config::kMaxTensorElements) is a
// ConfigError naming the file and the rule.
StoredTensor parseNpyHeader(std::string_view head, std::uint64_t file_size,
                            const std::string& path, const std::string& name);

// Opens path (a regular file) and parses its header as above.
StoredTensor readNpyIndex(const std::string& path, const std::string& name);

// The whole array as fp32, and its shape.
std::vector<float> readNpy(const std::string& path, std::vector<long>* shape);

}  // namespace shardrt
