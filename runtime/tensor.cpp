#include "runtime/tensor.h"

namespace shardrt {

TensorView TensorView::reshaped(Shape shape) const {
  if (shape.numel() != numel()) {
    throw std::logic_error("reshape of " + shape_.str() + " to " + shape.str() +
                           " changes the element count");
  }
  return TensorView(data_, std::move(shape), dtype_, device_);
}

}  // namespace shardrt
