// A tensor stored in a file: where its bytes are, in which element type and shape. The .npy and
// .safetensors readers produce these from a file's header alone, after checking that the bytes
// they describe lie inside the file, so that reading any slice of one afterwards can only fail
// if the file changes underneath.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "config/plan.h"

namespace shardrt {

// The element types shardrt reads from a weight file, each widened to fp32 on reading. A file
// may hold tensors of other types (a checkpoint's int64 buffers, fp8 scales): they are indexed
// as Other and refused only if the model needs one of them.
enum class StoredDType { F32, F16, BF16, Other };

struct StoredTensor {
  std::string name;   // the tensor's name in the file (safetensors), or the file's stem (.npy)
  std::string path;   // the file
  StoredDType dtype = StoredDType::F32;
  std::string dtype_name = "F32";  // as the file spells it (safetensors: "F32", "I64", ...)
  int element_bytes = 4;
  std::vector<std::int64_t> shape;  // C order
  std::uint64_t offset = 0;         // of element 0 from the start of the file
  std::uint64_t bytes = 0;          // numel * element size, checked against the file's size

  std::int64_t numel() const;
};

// The shape's element count, with each dimension and the product checked against
// config::kMaxTensorElements, or ConfigError(field, rule) naming the dimension that breaks it.
std::int64_t checkedElementCount(const std::vector<std::int64_t>& shape, const std::string& field);

// The values of `slice` (one Range per dimension of a 1-D or 2-D tensor) as fp32, row-major in
// the slice's own shape: a rank reads its shard and nothing else (one read per row of a column
// slice). Throws ConfigError naming the file when it cannot be read as its header promised,
// std::logic_error for a slice outside the shape (the caller checked the shape first).
std::vector<float> readStoredSlice(const StoredTensor& tensor,
                                   const std::vector<config::Range>& slice);

// IEEE half to float (exact: every half is a float).
float halfToFloat(std::uint16_t h);

}  // namespace shardrt
