#include "runtime/shape.h"

namespace shardrt {

std::int64_t Shape::numel() const {
  std::int64_t n = 1;
  for (const auto& d : dims_) n *= d.size;
  return n;
}

std::int64_t Shape::rows() const { return dims_.empty() ? 1 : numel() / dims_.back().size; }

std::string Shape::str() const {
  std::string s = "[";
  for (std::size_t i = 0; i < dims_.size(); ++i) {
    const auto& d = dims_[i];
    if (i) s += ", ";
    s += d.name + "=" + std::to_string(d.size);
    if (d.sharded()) s += " (of " + std::to_string(d.global) + ")";
  }
  return s + "]";
}

}  // namespace shardrt
