#include "runtime/host_values.h"

#include <stdexcept>

#include "common/bfloat16.h"

namespace shardrt {

void uploadFloats(Backend& backend, const TensorView& dst, const std::vector<float>& values) {
  if (static_cast<std::int64_t>(values.size()) != dst.numel()) {
    throw std::logic_error("uploadFloats: " + std::to_string(values.size()) + " values for " +
                           dst.shape().str());
  }
  switch (dst.dtype()) {
    case DType::F32:
      backend.copyFromHost(dst, values.data());
      return;
    case DType::BF16:
      backend.copyFromHost(dst, toBfloat16(values).data());
      return;
    case DType::I32:
      break;
  }
  throw std::logic_error("uploadFloats: not a floating dtype: " +
                         std::string(dtypeName(dst.dtype())));
}

std::vector<float> downloadFloats(Backend& backend, const TensorView& src) {
  std::vector<float> out(static_cast<std::size_t>(src.numel()));
  switch (src.dtype()) {
    case DType::F32:
      backend.copyToHost(out.data(), src);
      return out;
    case DType::BF16: {
      std::vector<bfloat16> raw(out.size());
      backend.copyToHost(raw.data(), src);
      for (std::size_t i = 0; i < out.size(); ++i) out[i] = toFloat(raw[i]);
      return out;
    }
    case DType::I32:
      break;
  }
  throw std::logic_error("downloadFloats: not a floating dtype: " +
                         std::string(dtypeName(src.dtype())));
}

}  // namespace shardrt
