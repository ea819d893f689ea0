// Named shapes, owning tensors and views.
#include <gtest/gtest.h>

#include <type_traits>

#include "runtime/cpu_backend.h"
#include "runtime/tensor.h"

namespace shardrt {
namespace {

TEST(Shape, PrintsNamesAndGlobalSizesWhereSharded) {
  const Shape s{Dim("batch_size", 4), Dim("seq_len", 128), Dim("heads", 2, 8), Dim("d_k", 64)};
  EXPECT_EQ(s.str(), "[batch_size=4, seq_len=128, heads=2 (of 8), d_k=64]");
  EXPECT_EQ(s.numel(), 4 * 128 * 2 * 64);
  EXPECT_EQ(s.rows(), 4 * 128 * 2);
  EXPECT_EQ(s.cols(), 64);
}

TEST(Tensor, OwnsAndCannotBeCopied) {
  static_assert(!std::is_copy_constructible_v<Tensor>);
  static_assert(!std::is_copy_assignable_v<Tensor>);
  static_assert(std::is_nothrow_move_constructible_v<Tensor>);
  CpuBackend be;
  Tensor a = be.empty({Dim("n", 3)}, DType::F32);
  float* p = a.data<float>();
  Tensor b = std::move(a);
  EXPECT_EQ(b.data<float>(), p);
}

TEST(TensorView, ReadingAsTheWrongTypeIsAnError) {
  CpuBackend be;
  Tensor a = be.empty({Dim("n", 3)}, DType::F32);
  EXPECT_THROW(a.view().data<std::int32_t>(), std::logic_error);
}

TEST(TensorView, ReshapeKeepsMemoryAndRefusesAnotherElementCount) {
  CpuBackend be;
  Tensor a = be.empty({Dim("rows", 6), Dim("cols", 4)}, DType::F32);
  const TensorView v = a.view().reshaped({Dim("a", 2), Dim("b", 12)});
  EXPECT_EQ(v.raw(), a.view().raw());
  EXPECT_THROW(a.view().reshaped({Dim("a", 5), Dim("b", 5)}), std::logic_error);
}

}  // namespace
}  // namespace shardrt
