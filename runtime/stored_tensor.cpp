#include "runtime/stored_tensor.h"

#include <algorithm>
#include <cstring>
#include <fstream>
#include <stdexcept>

#include "common/bfloat16.h"
#include "common/errors.h"
#include "config/size_limits.h"

namespace shardrt {

std::int64_t StoredTensor::numel() const {
  std::int64_t n = 1;
  for (std::int64_t d : shape) n *= d;
  return n;
}

std::int64_t checkedElementCount(const std::vector<std::int64_t>& shape, const std::string& field) {
  constexpr std::int64_t cap = config::kMaxTensorElements;
  std::int64_t n = 1;
  for (std::size_t i = 0; i < shape.size(); ++i) {
    const std::int64_t d = shape[i];
    if (d < 0) {
      throw ConfigError(field, "dimension " + std::to_string(i) + " is negative (" +
                                   std::to_string(d) + ")");
    }
    // n <= cap and d <= cap, so n * d cannot overflow 64 bits before the comparison.
    if (d > cap || (d > 0 && n > cap / d)) {
      throw ConfigError(field, "the shape has more than 2^38 elements (dimension " +
                                   std::to_string(i) + " is " + std::to_string(d) + ")");
    }
    n *= d;
  }
  return n;
}

float halfToFloat(std::uint16_t h) {
  const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
  const std::uint32_t exponent = (h >> 10) & 0x1Fu;
  std::uint32_t mantissa = h & 0x3FFu;
  std::uint32_t bits;
  if (exponent == 0x1F) {
    bits = sign | 0x7F800000u | (mantissa << 13);  // Inf, NaN (payload kept)
  } else if (exponent != 0) {
    bits = sign | ((exponent + 112) << 23) | (mantissa << 13);  // rebias 15 -> 127
  } else if (mantissa == 0) {
    bits = sign;  // +-0
  } else {
    // Subnormal half: shift the mantissa up until its leading 1 is the implicit bit.
    int e = -1;
    do {
      ++e;
      mantissa <<= 1;
    } while ((mantissa & 0x400u) == 0);
    bits = sign | (static_cast<std::uint32_t>(112 - e) << 23) | ((mantissa & 0x3FFu) << 13);
  }
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

namespace {

void widen(StoredDType t, const char* bytes, std::size_t n, float* out) {
  switch (t) {
    case StoredDType::F32:
      std::memcpy(out, bytes, n * sizeof(float));  // little-endian on every host we build for
      return;
    case StoredDType::F16:
      for (std::size_t i = 0; i < n; ++i) {
        std::uint16_t h;
        std::memcpy(&h, bytes + 2 * i, 2);
        out[i] = halfToFloat(h);
      }
      return;
    case StoredDType::BF16:
      for (std::size_t i = 0; i < n; ++i) {
        bfloat16 b;
        std::memcpy(&b.bits, bytes + 2 * i, 2);
        out[i] = toFloat(b);
      }
      return;
    case StoredDType::Other:
      break;
  }
}

}  // namespace

std::vector<float> readStoredSlice(const StoredTensor& tensor,
                                   const std::vector<config::Range>& slice) {
  // The callers checked the stored shape against the model's first (WeightFiles::checkHolds):
  // a slice that does not fit is a bug here, not a bad file, so it is not a ConfigError.
  if (slice.size() != tensor.shape.size() || slice.empty() || slice.size() > 2) {
    throw std::logic_error(tensor.path + ": " + tensor.name + ": a slice of " +
                           std::to_string(slice.size()) + " dimensions does not fit its shape");
  }
  for (std::size_t i = 0; i < slice.size(); ++i) {
    if (slice[i].begin < 0 || slice[i].end < slice[i].begin || slice[i].end > tensor.shape[i]) {
      throw std::logic_error(tensor.path + ": " + tensor.name +
                             ": slice out of the tensor's shape");
    }
  }
  if (tensor.dtype == StoredDType::Other) {
    throw ConfigError(tensor.path, tensor.name + ": dtype " + tensor.dtype_name +
                                       " cannot be read as weights (F32, F16 and BF16 can)");
  }
  const std::int64_t cols = tensor.shape.size() == 2 ? tensor.shape[1] : tensor.shape[0];
  const config::Range rows = tensor.shape.size() == 2 ? slice[0] : config::Range{0, 1};
  const config::Range span = slice.back();
  const std::size_t esize = static_cast<std::size_t>(tensor.element_bytes);
  const std::size_t width = static_cast<std::size_t>(span.size());

  std::vector<float> out(static_cast<std::size_t>(rows.size()) * width);
  if (out.empty()) return out;  // nothing to read (and no null pointers for memcpy)
  std::ifstream in(tensor.path, std::ios::binary);
  if (!in) throw ConfigError(tensor.path, "cannot open for reading");
  // Runs of elements that are contiguous in the file: the whole slice when it spans whole rows,
  // else one run per row. Each is read through a buffer of at most kChunkBytes, so reading a
  // multi-GiB weight holds the fp32 result and one chunk, not a second copy of the weight.
  constexpr std::size_t kChunkBytes = std::size_t{8} << 20;
  const bool contiguous = span.begin == 0 && span.end == cols;
  const std::size_t run = contiguous ? out.size() : width;
  std::vector<char> buffer(std::min(run * esize, kChunkBytes - kChunkBytes % esize));
  float* dst = out.data();
  for (int r = rows.begin; r < (contiguous ? rows.begin + 1 : rows.end); ++r) {
    const std::uint64_t element = static_cast<std::uint64_t>(r) * static_cast<std::uint64_t>(cols) +
                                  static_cast<std::uint64_t>(span.begin);
    in.seekg(static_cast<std::streamoff>(tensor.offset + element * esize));
    for (std::size_t left = run; left > 0;) {
      const std::size_t n = std::min(left, buffer.size() / esize);
      if (!in.read(buffer.data(), static_cast<std::streamsize>(n * esize))) {
        throw ConfigError(tensor.path, tensor.name +
                                           ": the file ends inside the tensor's data "
                                           "(truncated or changed since it was opened)");
      }
      widen(tensor.dtype, buffer.data(), n, dst);
      dst += n;
      left -= n;
    }
  }
  return out;
}

}  // namespace shardrt
