// Named shapes: every dimension carries its name and, where a rank holds a slice, the global
// size beside the local one. This is what the trace and DAG labels print:
//   [batch_size=4, seq_len=128, heads=2 (of 8), d_k=64]
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

namespace shardrt {

struct Dim {
  std::string name;
  std::int64_t size;
  std::int64_t global;  // == size unless the dimension is sharded

  Dim(std::string dim_name, std::int64_t local_size)
      : name(std::move(dim_name)), size(local_size), global(local_size) {}
  Dim(std::string dim_name, std::int64_t local_size, std::int64_t global_size)
      : name(std::move(dim_name)), size(local_size), global(global_size) {}
  bool sharded() const { return size != global; }
  bool operator==(const Dim&) const = default;
};

class Shape {
 public:
  Shape() = default;
  Shape(std::initializer_list<Dim> dims) : dims_(dims) {}
  explicit Shape(std::vector<Dim> dims) : dims_(std::move(dims)) {}

  int rank() const { return static_cast<int>(dims_.size()); }
  const Dim& operator[](int i) const { return dims_.at(i); }
  std::int64_t size(int i) const { return dims_.at(i).size; }
  std::int64_t numel() const;
  // Product of all dimensions but the last: the rows of a row-major matrix view.
  std::int64_t rows() const;
  std::int64_t cols() const { return dims_.empty() ? 1 : dims_.back().size; }
  const std::vector<Dim>& dims() const { return dims_; }

  std::string str() const;
  bool operator==(const Shape&) const = default;

 private:
  std::vector<Dim> dims_;
};

}  // namespace shardrt
