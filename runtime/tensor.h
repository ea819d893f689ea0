// Tensor owns its memory and cannot be copied; TensorView points into memory it does not own.
// Ops take views; whoever allocated keeps the Tensor alive. Reading a view as the wrong
// element type is an error, not undefined behaviour.
#pragma once

#include <cstddef>
#include <memory>
#include <stdexcept>
#include <string>

#include "common/dtype.h"
#include "runtime/shape.h"

namespace shardrt {

enum class Device { Cpu, Cuda, Meta };  // Meta: shapes only, no memory (dry runs)

class TensorView {
 public:
  TensorView() = default;
  TensorView(void* data, Shape shape, DType dtype, Device device)
      : data_(data), shape_(std::move(shape)), dtype_(dtype), device_(device) {}

  const Shape& shape() const { return shape_; }
  DType dtype() const { return dtype_; }
  Device device() const { return device_; }
  std::int64_t numel() const { return shape_.numel(); }
  std::size_t bytes() const { return static_cast<std::size_t>(numel()) * dtypeSize(dtype_); }
  void* raw() const { return data_; }

  template <typename T>
  T* data() const {
    if (dtypeOf<T>() != dtype_) {
      throw std::logic_error("tensor of dtype " + std::string(dtypeName(dtype_)) + " read as " +
                             std::string(dtypeName(dtypeOf<T>())));
    }
    return static_cast<T*>(data_);
  }

  // The same memory under another shape of equal element count.
  TensorView reshaped(Shape shape) const;
  // Rows [begin, begin + count) of the first dimension, renamed `name` in the shape.
  TensorView rows(std::int64_t begin, std::int64_t count) const;

 private:
  void* data_ = nullptr;
  Shape shape_;
  DType dtype_ = DType::F32;
  Device device_ = Device::Cpu;
};

class Tensor {
 public:
  using Deleter = void (*)(void*);

  Tensor() = default;
  Tensor(void* data, Deleter deleter, Shape shape, DType dtype, Device device)
      : memory_(data, deleter), view_(data, std::move(shape), dtype, device) {}
  Tensor(Tensor&&) noexcept = default;
  Tensor& operator=(Tensor&&) noexcept = default;
  Tensor(const Tensor&) = delete;
  Tensor& operator=(const Tensor&) = delete;

  const TensorView& view() const { return view_; }
  operator const TensorView&() const { return view_; }  // NOLINT: a Tensor is usable as a view
  const Shape& shape() const { return view_.shape(); }
  DType dtype() const { return view_.dtype(); }
  std::int64_t numel() const { return view_.numel(); }
  std::size_t bytes() const { return view_.bytes(); }
  template <typename T>
  T* data() const {
    return view_.data<T>();
  }
  bool empty() const { return memory_ == nullptr; }

 private:
  std::unique_ptr<void, Deleter> memory_{nullptr, nullptr};
  TensorView view_;
};

}  // namespace shardrt
