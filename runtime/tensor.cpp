#include "runtime/tensor.h"

namespace shardrt {

TensorView TensorView::reshaped(Shape shape) const {
  if (shape.numel() != numel()) {
    throw std::logic_error("reshape of " + shape_.str() + " to " + shape.str() +
                           " changes the element count");
  }
  return TensorView(data_, std::move(shape), dtype_, device_);
}

TensorView TensorView::rows(std::int64_t begin, std::int64_t count) const {
  if (shape_.rank() == 0 || begin < 0 || count < 0 || begin + count > shape_.size(0)) {
    throw std::logic_error("rows [" + std::to_string(begin) + ", " + std::to_string(begin + count) +
                           ") outside " + shape_.str());
  }
  std::vector<Dim> dims = shape_.dims();
  const std::size_t row_bytes = dims[0].size == 0 ? 0 : bytes() / dims[0].size;
  dims[0].size = count;
  return TensorView(static_cast<char*>(data_) + begin * row_bytes, Shape(std::move(dims)), dtype_,
                    device_);
}

}  // namespace shardrt
